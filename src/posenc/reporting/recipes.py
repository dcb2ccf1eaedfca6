"""Whether two configurations trained the same models: the keys in which their recipes differ.

A study part trained before a recipe change, a part of another regime (study/gpu_12k: three times the
steps) and the CPU default are only comparable model for model where these differ in nothing.
"""

from __future__ import annotations

from posenc import config

NOT_RECIPE = ("resume_every", "log_every")  # how often a run checkpoints or logs: the same models either way


def differences(a: config.Config, b: config.Config, sections: tuple[str, ...]) -> list[tuple[str, str, object, object]]:
    """(section, key, a's value, b's value) for every key of `sections` (e.g. model, train) where a and b
    differ, in b's key order."""
    da, db = config.to_dict(a), config.to_dict(b)
    return [(sec, k, da[sec].get(k), v) for sec in sections for k, v in db[sec].items()
            if da[sec].get(k) != v and k not in NOT_RECIPE]
