"""Probes of the IMDb classifiers: gradients and attention entropy on a fixed batch of long test reviews, and
attention maps on whole validation reviews picked by a rule (the figure of stage plot_reviews)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from posenc.analysis.probes import attention_entropy, gradient_probe
from posenc.config import Config
from posenc.data import imdb
from posenc.data.imdb import Encoded
from posenc.engine.classify import predict
from posenc.engine.runtime import Runtime


def probe_batch_indices(lengths: np.ndarray, labels: np.ndarray, longer_than: int, batch_size: int) -> np.ndarray:
    """A fixed, label-balanced batch of reviews longer than `longer_than` tokens (the longest ones if too few)."""
    order = np.lexsort((np.arange(len(lengths)), -lengths))  # longest first, ties by index
    long_enough = order[lengths[order] > longer_than]
    pool = long_enough if len(long_enough) >= batch_size else order
    picked = []
    for c in (0, 1):
        picked += pool[labels[pool] == c][: (batch_size + 1 - c) // 2].tolist()
    if len(picked) < batch_size:  # one class is short of reviews: fill with the other
        picked += [i for i in pool if i not in picked][: batch_size - len(picked)]
    return np.array(sorted(picked), dtype=np.int64)


def probe_classifier(model, test: Encoded, lengths: list[int], truncation: str, batch_size: int) -> dict:
    """Gradients and attention entropy of one classifier on a fixed batch of long test reviews
    truncated at each length: {"reviews", "gradients" {L}, "attention" {L}}."""
    model.cpu()
    idx = probe_batch_indices(test.lengths, test.labels, max(lengths), batch_size)
    metrics: dict = {"reviews": idx.tolist(), "gradients": {}, "attention": {}}
    for L in lengths:
        ids, mask, labels = imdb.make_batch(test, idx, L, truncation)
        metrics["gradients"][str(L)] = gradient_probe(model, lambda m: F.cross_entropy(m(ids, mask).float(), labels))
        with torch.no_grad():
            model.eval()
            _, weights = model(ids, mask, need_weights=True)
        n_real = mask.sum(1, keepdim=True).expand_as(mask)
        metrics["attention"][str(L)] = attention_entropy([w.float() for w in weights], mask.bool(), n_real)
    return metrics


# ---------------------------------------------------------------- attention maps on whole reviews

def pick_reviews(p_pos: np.ndarray, labels: np.ndarray, lengths: np.ndarray, short: int, long: int) -> dict:
    """The rule that picks the reviews whose attention is drawn (issue 15), from the validation split:
    among reviews of short/2..short tokens (whole at the training length), the one this classifier finds
    most clearly positive (highest P(positive) among positive reviews), most clearly negative (lowest
    among negative reviews) and the most ambiguous (P(positive) closest to 1/2, any label); and the
    longest review of at most `long` tokens, read whole at that length. Where no review of a label is that
    short (a tiny configuration on real reviews), any review, read truncated; where none fits `long`, the
    shortest. Ties go to the lower index.
    -> {"positive", "negative", "ambiguous", "long"}: (index, length it is read at)."""
    both = lambda m: (m & (labels == 1)).any() and (m & (labels == 0)).any()  # noqa: E731
    fits = next(m for m in ((lengths >= short // 2) & (lengths <= short), lengths <= short,
                            np.ones(len(labels), dtype=bool)) if both(m))
    order = np.arange(len(labels))
    def best(mask, key):  # noqa: E306  the lowest index among the minima of `key` within `mask`
        cand = order[mask]
        return int(cand[np.lexsort((cand, key[mask]))[0]])
    long_ok = lengths <= long if (lengths <= long).any() else lengths == lengths.min()
    longest = int(order[long_ok][np.lexsort((order[long_ok], -lengths[long_ok]))[0]])
    return {"positive": (best(fits & (labels == 1), -p_pos), short),
            "negative": (best(fits & (labels == 0), p_pos), short),
            "ambiguous": (best(fits, np.abs(p_pos - 0.5)), short),
            "long": (longest, long)}


@torch.no_grad()
def review_maps(model, val: Encoded, p_pos: np.ndarray, short: int, long: int, truncation: str,
                window: int) -> tuple[dict, dict[str, np.ndarray]]:
    """Last-layer attention of one classifier on the reviews `pick_reviews` chooses.

    For each: the attention mass each token receives, pooled over heads (the mean over queries of the
    head-mean attention, (T,)), and the head-mean attention among the `window` tokens centred on the
    token with the most mass (W, W). -> (summary without any text: index, length, label, P(positive),
    window start; arrays for data/probes: token ids, mass, window map), keyed by the pick's name."""
    model.cpu().eval()
    summary, arrays = {}, {}
    for name, (i, L) in pick_reviews(p_pos, val.labels, val.lengths, short, long).items():
        ids, mask, _ = imdb.make_batch(val, np.array([i]), L, truncation)
        _, weights = model(ids, mask, need_weights=True)
        att = weights[-1][0].float().mean(0)  # (T, T), heads pooled; rows: queries, columns: keys
        mass = att.mean(0)  # (T,) attention each token receives, averaged over queries
        T = len(mass)
        start = int(min(max(0, int(mass.argmax()) - window // 2), max(0, T - window)))
        stop = min(T, start + window)
        summary[name] = {"index": i, "length": int(val.lengths[i]), "read_at": L, "label": int(val.labels[i]),
                         "p_positive": float(p_pos[i]), "window_start": start, "top_token_position": int(mass.argmax())}
        arrays[f"{name}_ids"] = ids[0].numpy().astype(np.int32)
        arrays[f"{name}_mass"] = mass.numpy().astype(np.float32)
        arrays[f"{name}_window"] = att[start:stop, start:stop].numpy().astype(np.float32)
        arrays[f"{name}_start"] = np.array(start)
    return summary, arrays


def probe_reviews(model, val: Encoded, cfg: Config, rt: Runtime) -> tuple[dict, dict[str, np.ndarray]]:
    """review_maps on the validation reviews, with P(positive) from this classifier at the training length
    (averaged over position draws for a randomized PE, as in evaluation); the long review is read at the
    longest evaluation length."""
    c = cfg.imdb
    logits = predict(model, val, c.train_max_len, c.truncation, cfg.evaluate.batch_size, rt,
                     draws=cfg.evaluate.position_draws)
    p_pos = torch.softmax(torch.from_numpy(logits), dim=1)[:, 1].numpy()
    return review_maps(model, val, p_pos, c.train_max_len, max(c.eval_lengths), c.truncation, c.map_window)
