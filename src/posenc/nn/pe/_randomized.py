"""Randomized positions (Ruoss et al. 2023, "Randomized Positional Encodings Boost Length Generalization
of Transformers"): a training option that any position-consuming PE can take.

A sequence of T tokens gets the positions of a sorted random T-subset of [0, R) instead of 0..T-1, so
that a model trained on short sequences has already seen every position (and every distance) up to R.
R is the model's `max_positions`, which the config checks is at least every evaluation length: the
range always covers the longest evaluation. The parent PE is unchanged; only the positions it is handed
are drawn.

Following the reference code (google-deepmind/randomized_positional_encodings), positions are drawn at
evaluation too, not only in training, and one draw is shared by a batch of sequences of one length.
Differences, and why:
- a padded batch (the IMDb classifier) gets one draw per sequence, from its real length, so a review's
  positions never depend on the padding around it;
- at evaluation the draw comes from a generator seeded with the model's `position_seed`, so scores are
  deterministic; the scoring loops average over `evaluate.position_draws` seeds (engine/lm.py,
  engine/classify.py). In training the draw uses torch's global generator, seeded by the run's seed
  and saved in a resume snapshot, so a resumed run draws the same positions.
- with a probe's offset k, the subset is drawn from [k, R): every position is pushed past k.

A randomized PE is registered as its own module `<parent>_rand.py` (one line: `PE = randomized(Parent,
"parent")`) and shares its parent's params section keys; its rows sit beside the parent's in every
table, in a shade of the parent's colour. The learned PE is not offered: its table has train_max_len
rows (positions past it are clamped, see learned.py), and a table of R rows would leave most rows
with a handful of updates.
"""

from __future__ import annotations

import torch

from posenc.nn.pe.base import PositionalEncoding, Theory

MECHANISM = (
    "The {parent} encoding, trained and evaluated on randomized positions (Ruoss et al. 2023): a sequence "
    "of T tokens is given a sorted random T-subset of positions 0..{range_last} instead of 0..T-1, drawn "
    "anew for every batch, so that training on inputs of at most {train} tokens already shows positions "
    "and distances up to {range_last}. Only the order of the positions carries information, not their "
    "values; the model must learn to read relative order from a gappy ruler. At evaluation the "
    "positions are drawn too (as in the reference code), from a fixed set of seeds whose scores are "
    "averaged, so the numbers are deterministic. The hypothesis it tests: a PE fails past the training "
    "length because the positions or distances there were never seen, not because the sequence is "
    "longer."
)


def draw(T: int, offset: int, R: int, generator: torch.Generator | None) -> torch.Tensor:
    """(T,) a sorted random T-subset of [offset, R), int64 on the CPU."""
    return offset + torch.randperm(R - offset, generator=generator)[:T].sort().values


DRAW_COST = "drawing T of R positions per batch (O(R))"  # added to the parent's other cost, if any


def randomized(parent: type[PositionalEncoding], parent_name: str) -> type[PositionalEncoding]:
    """The class `<parent>_rand`: `parent` handed randomized positions; same params, no evaluation variants."""
    base = parent.theory

    class Randomized(parent):
        __doc__ = f"{parent.__name__} on randomized positions (Ruoss et al. 2023); see nn/pe/_randomized.py."
        randomized = True
        eval_variants = ()  # every position up to R is seen in training: there is nothing to rescale
        theory = Theory(
            kind=base.kind, where=f"{base.where}, at randomly drawn positions",
            attention_cost=base.attention_cost,
            other_cost="; ".join(c for c in (base.other_cost, DRAW_COST) if c != "none"),
            pros=("every position and distance up to max_positions is seen in training",) + base.pros,
            cons=("only the order of positions is informative, and the model must learn it from gappy rulers",
                  "evaluation is random too: scores are averaged over seeded draws"),
            mechanism=MECHANISM,
        )

        @classmethod
        def theory_fill(cls, params, dims):
            return {**parent.theory_fill(params, dims), "parent": parent_name,
                    "range_last": str(dims.max_positions - 1)}

        def positions(self, T, offset, lengths, seed, device):
            g = None if seed is None else torch.Generator().manual_seed(seed)
            R = self.dims.max_positions
            if lengths is None:  # one draw for the batch, as in the reference code
                return draw(T, offset, R, g).to(device)
            rows = []  # (B, T): each sequence's draw from its real length; pads continue after it
            for n in lengths.tolist():
                real = draw(int(n), offset, R, g)
                last = int(real[-1]) if len(real) else offset - 1
                rows.append(torch.cat([real, (last + 1 + torch.arange(T - int(n))).clamp(max=R - 1)]))
            return torch.stack(rows).to(device)

    Randomized.__name__ = Randomized.__qualname__ = f"{parent.__name__}Rand"
    return Randomized
