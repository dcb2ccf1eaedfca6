"""NoPE: no position information at all (Haviv et al. 2022; Kazemnejad et al. 2023)."""

from __future__ import annotations

from posenc.nn.pe.base import PositionalEncoding, Theory


class NoPE(PositionalEncoding):
    """Every hook is the identity: a causal model can only infer positions, e.g. by counting through its mask."""

    theory = Theory(
        kind="none", where="nothing", attention_cost="none", other_cost="none",
        pros=("no parameters, no extra work", "nothing to extrapolate"),
        cons=("position must be inferred, e.g. by counting through the causal mask",),
        mechanism=(
            "Without any position signal a causal model can still infer positions, for instance from how many "
            "tokens a query can see (Haviv et al. 2022; Kazemnejad et al. 2023). There is no table or angle that "
            "can leave its training range, but the counting itself has only been learned up to the training length."
        ),
    )


PE = NoPE
