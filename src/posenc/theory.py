"""What each positional encoding is, in the report's words: mechanism, cost, pros and cons.

This is prose about how an encoding works, not about how it did: nothing here
states a result. The report puts it beside the measured numbers and generates
every sentence about outcomes from those numbers (see report.py). A PE added to
the registry (encodings.REGISTRY) gets its entry here too; a test checks that
every registered PE has one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Theory:
    kind: str  # absolute / relative / none
    where: str  # where it acts (the hook it uses)
    attention_cost: str  # extra work per attention call, big-O (T tokens, d model width, H heads)
    other_cost: str  # extra work outside attention
    pros: tuple[str, ...]
    cons: tuple[str, ...]
    mechanism: str  # why it might survive or fail past training; {train}, {last}, {longest_last}, {slopes} filled in


THEORY: dict[str, Theory] = {
    "nope": Theory(
        kind="none", where="nothing", attention_cost="none", other_cost="none",
        pros=("no parameters, no extra work", "nothing to extrapolate"),
        cons=("position must be inferred, e.g. by counting through the causal mask",),
        mechanism=(
            "Without any position signal a causal model can still infer positions, for instance from how many "
            "tokens a query can see (Haviv et al. 2022; Kazemnejad et al. 2023). There is no table or angle that "
            "can leave its training range, but the counting itself has only been learned up to the training length."
        ),
    ),
    "sinusoidal": Theory(
        kind="absolute", where="added to the token embeddings", attention_cost="none",
        other_cost="O(T d) addition once per forward pass",
        pros=("no parameters", "defined at every position, so longer inputs are well-formed"),
        cons=("absolute: a head that reads by offset must learn it from absolute codes",
              "past the training length the slow frequencies reach phases never seen"),
        mechanism=(
            "Position p is encoded as sin/cos(p / 10000^(2i/d)) and added to the token embedding (Vaswani et al. "
            "2017). An offset is a fixed rotation of each frequency pair, so relative reading is expressible, but "
            "the model learns it from the absolute codes it was shown. With training positions 0-{last}, the slow "
            "frequencies cover only a small part of their period; positions {train}-{longest_last} bring phase combinations the "
            "network never saw, in every layer that reads the residual stream."
        ),
    ),
    "learned": Theory(
        kind="absolute", where="added to the token embeddings", attention_cost="none",
        other_cost="O(T d) table lookup and addition once per forward pass",
        pros=("fits any positional pattern the task needs", "standard in BERT and GPT-2"),
        cons=("one d-sized row per training position (extra parameters)",
              "no rows past the training length: every later position reuses the last row"),
        mechanism=(
            "A trained row per position 0-{last} is added to the token embedding. There is nothing to look up past "
            "{last}; this project clamps later positions to row {last}, so every token after the {train}th carries the same "
            "position vector and position-based attention cannot tell those tokens apart. Content-based attention "
            "is unaffected."
        ),
    ),
    "rope": Theory(
        kind="relative", where="rotates queries and keys in every layer",
        attention_cost="O(T d) per layer (rotating q and k)", other_cost="none",
        pros=("attention scores depend only on the distance i - j", "no parameters"),
        cons=("distances longer than in training give rotation angles never seen",
              "extra elementwise work on q and k in every layer"),
        mechanism=(
            "Each pair of query/key dimensions is rotated by p * theta_i, theta_i = 10000^(-2i/d_head) (Su et al. "
            "2021), so q_i . k_j depends on i - j only. Training shows distances up to {last}. Longer inputs bring "
            "distances up to {longest_last}, whose angles for the slow pairs were never seen; the attention logits for those "
            "keys are then out of distribution (Press et al. 2022; Chen et al. 2023, position interpolation). "
            "Relative position alone does not make a longer input look like a training input."
        ),
    ),
    "alibi": Theory(
        kind="relative", where="bias -m_h |i - j| on the attention scores",
        attention_cost="O(H T^2) per layer (bias added to the scores)", other_cost="none",
        pros=("no parameters, no embedding", "new distances only add keys with a larger penalty"),
        cons=("recency bias: fixed slopes push attention towards nearby tokens",
              "the T x T bias is materialised as a float mask here"),
        mechanism=(
            "Each head h adds -m_h |i - j| to its scores (Press et al. 2022), with geometric slopes "
            "m_h = 2^(-8h/H) ({slopes} here). Distances beyond the training length get an even larger penalty, so a query's "
            "attention stays close to what it was in training; the price is a bias against distant keys. A token "
            "that must be read from far away needs a head whose slope is small enough for that distance, and "
            "the penalty keeps growing with it."
        ),
    ),
}


def theory(pe: str) -> Theory:
    if pe not in THEORY:
        raise KeyError(f"no entry for PE {pe!r} in posenc/theory.py; add one when registering a PE")
    return THEORY[pe]
