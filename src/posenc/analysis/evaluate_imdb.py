"""Evaluation of a trained IMDb classifier with the test reviews truncated at every evaluation length."""

from __future__ import annotations

import numpy as np

from posenc.config import Config
from posenc.data import imdb
from posenc.data.imdb import Encoded
from posenc.engine.classify import predict, scores
from posenc.engine.runtime import Runtime, resolve


def evaluate_classifier(model, test: Encoded, cfg: Config, rt: Runtime | None = None,
                        variant: str | None = None) -> dict:
    """Scores with test reviews truncated at each imdb.eval_lengths L, overall and per length bucket,
    and each review's prediction and label (strings of digits, under "per_review").

    A review no longer than a shorter L already scored is the same input at
    this L, so its logits are reused instead of recomputed.

    `variant`: one of the PE's evaluation variants (nn/pe/base.py), set at each L for inputs
    L / imdb.train_max_len times the training length (1 and below: the PE as trained). With the reuse
    above, a review is scored with the scale of the first L that holds it whole (or at the last L if none
    does): the scale follows the review's own length bucket, as a dynamic scaling would, and a short review
    is never squeezed for a long one.
    """
    c = cfg.imdb
    rt = rt or resolve(cfg.runtime.dtype)
    model.to(rt.device)
    names = imdb.bucket_names(c.bucket_edges)
    bucket = imdb.bucket_of(test.lengths, c.bucket_edges)
    logits = None
    out = {}
    prev = 0
    for L in c.eval_lengths:
        todo = np.flatnonzero(test.lengths > prev) if logits is not None else np.arange(len(test))
        model.pe.set_variant(variant, L / c.train_max_len)
        fresh = predict(model, test, L, c.truncation, cfg.evaluate.batch_size, rt, todo, cfg.evaluate.position_draws)
        if logits is None:
            logits = fresh
        else:
            logits = logits.copy()
            logits[todo] = fresh
        prev = L
        res = scores(logits, test.labels)
        res["buckets"] = {names[k]: scores(logits[bucket == k], test.labels[bucket == k])
                          for k in range(len(names)) if (bucket == k).any()}
        res["frac_truncated"] = float((test.lengths > L).mean())
        # per review, for bootstrap intervals over reviews (reporting/stats.py): one character each
        res["per_review"] = {"pred": "".join(map(str, logits.argmax(1).tolist())),
                             "label": "".join(map(str, test.labels.tolist()))}
        out[str(L)] = res
    model.pe.set_variant(None, 1.0)
    return out
