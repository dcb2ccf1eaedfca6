"""Which encoding to pick (issue 16): computed from the numbers, gated like every other claim."""

from posenc.reporting import claims, recommend

PES = ["rope", "alibi", "nope"]


def results_with(exact_64: dict[str, list[float]], seeds=(0, 1, 2)):
    rows = {}
    for name, vals in exact_64.items():
        mean = sum(vals) / len(vals)
        per = {"exact_64": vals, "acc_64": [0.5] * len(vals), "exact_32": [0.95] * len(vals)}
        rows[name] = {"exact_64": mean, "acc_64": 0.5, "exact_32": 0.95, "solved": True, "per_seed": per,
                      "ci": {"exact_64": [mean - 0.01, mean + 0.01]}}
    base = {"lookup3": {"64": {"acc": 0.99, "exact": 0.5}}}
    return {"seeds": list(seeds), "tasks": {"copy": rows}, "baselines": {"copy": base}}


PROFILE = {"models": {pe: {"extra_params": 7 if pe == "alibi" else 0,
                           "lengths": {"32": {"train_overhead": 1.25 if pe == "rope" else 1.0}}} for pe in PES}}


def text(res):
    comps = claims.comparisons(res, [64])
    return recommend.section(res, comps, PES, PROFILE, 32, 0.9)


def test_a_separated_best_is_named_with_its_cost_and_the_baseline():
    out = text(results_with({"alibi": [0.90, 0.92, 0.91], "rope": [0.10, 0.13, 0.11], "nope": [0.3, 0.31, 0.29]}))
    assert "**alibi**, 91.0 % [90.0 %, 92.0 %] is separated from every other candidate" in out
    assert "alibi is above it by its interval" in out and "7 extra parameters" in out


def test_a_best_within_noise_names_its_ties_and_one_seed_ranks_nothing():
    out = text(results_with({"alibi": [0.90, 0.85, 0.80], "rope": [0.82, 0.88, 0.79], "nope": [0.0, 0.01, 0.0]}))
    assert "has the highest mean but is within noise of rope" in out and "nope" not in out.split("within noise")[1]
    one = text(results_with({"alibi": [0.9], "rope": [0.1], "nope": [0.2]}, seeds=(0,)))
    assert "with 1 seed this ranks nothing" in one and "separated" not in one


def test_an_evaluation_variant_costs_what_its_trained_pe_costs():
    out = text(results_with({"rope_ntk": [0.9, 0.91, 0.92], "rope": [0.1, 0.1, 0.12], "alibi": [0.2, 0.2, 0.21]}))
    assert "**rope_ntk**" in out and "x1.25 the no-PE baseline" in out and "rescaling of rope's model" in out


def test_when_nothing_is_exact_it_ranks_by_token_accuracy():
    res = results_with({"alibi": [0.0] * 3, "rope": [0.0] * 3, "nope": [0.0] * 3})
    res["tasks"]["copy"]["rope"]["acc_64"] = 0.8
    res["tasks"]["copy"]["rope"]["per_seed"]["acc_64"] = [0.8, 0.81, 0.79]
    out = text(res)
    assert "no candidate copies a single sequence exactly; by token accuracy, **rope**" in out
