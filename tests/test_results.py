"""results.json helpers: the key accessors and the headline metrics file."""

from posenc.reporting.results import headline, key, lengths_of


def test_keys_and_lengths_round_trip():
    row = {key("acc", 256): 0.5, key("acc", 1024): 0.1, key("exact", 512): 0.0, "acc_note": 1, "train_steps": 3}
    assert lengths_of(row, "acc") == [256, 1024] and lengths_of(row, "exact") == [512]


def test_headline_holds_a_few_numbers_per_pe_taken_from_the_results(tiny_cfg):
    s = tiny_cfg.synthetic  # train length 16, eval lengths 16 and 32
    results = {"tasks": {t: {pe: {key("exact", L): (i + 1) / 10 + L / 1000 for L in s.eval_lengths}
                             for i, pe in enumerate(tiny_cfg.pes)} for t in s.tasks},
               "imdb": {pe: {key("acc", L): 0.5 + L / 1000 for L in tiny_cfg.imdb.eval_lengths} for pe in tiny_cfg.pes}}
    head = headline(tiny_cfg, results)
    assert set(head) == set(tiny_cfg.pes)
    for pe in tiny_cfg.pes:
        assert head[pe] == {"copy_exact_16": results["tasks"]["copy"][pe]["exact_16"],
                            "copy_exact_32": results["tasks"]["copy"][pe]["exact_32"],
                            "duplicate_exact_32": results["tasks"]["duplicate"][pe]["exact_32"],
                            "imdb_acc_32": results["imdb"][pe]["acc_32"]}


def fake_eval(rng, lengths, n=8, targets=5):
    """One model's evaluate_lm output with random per-sequence scores."""
    out = {}
    for L in lengths:
        right = rng.integers(0, targets + 1, n)
        out[str(L)] = {"token_acc": right.sum() / (n * targets), "exact_match": float((right == targets).mean()),
                       "loss": 1.0, "n_seqs": n, "seq_len": L, "targets": targets,
                       "per_seq": {"right": right.tolist(), "exact": (right == targets).astype(int).tolist(),
                                   "loss": [1.0] * n}}
    return out


def test_seed_means_per_seed_values_and_intervals(tiny_params_dict):
    """results.json keeps the plain keys as seed means and puts per_seed and ci beside them: a t interval
    over seeds with 3 seeds, a bootstrap over sequences with 1 (issue 15)."""
    import numpy as np

    from posenc import config
    from posenc.reporting.results import lm_row

    rng = np.random.default_rng(0)
    lengths = [16, 24, 32]
    for seeds, kind in (([0, 1, 2], "t interval over seeds"), ([0], "bootstrap")):
        tiny_params_dict["seeds"] = seeds
        cfg = config.from_dict(tiny_params_dict)
        evs = [fake_eval(rng, lengths) for _ in seeds]
        trains = [{"summary": {"steps": 6, "first_step_acc": None, "first_step_exact": 3}} for _ in seeds]
        row = lm_row(cfg, evs, trains, lengths)
        per_seed = [ev["32"]["exact_match"] for ev in evs]
        assert row["per_seed"]["exact_32"] == per_seed and row["exact_32"] == np.mean(per_seed)
        assert row["ci_kind"].startswith(kind)
        lo, hi = row["ci"]["acc_32"]
        assert lo <= row["acc_32"] <= hi
        assert row["first_step_exact"] == [3] * len(seeds) and row["solved"] == (row["exact_16"] >= 0.9)


def test_stale_per_model_files_are_found(tmp_path):
    from posenc.artifacts import Layout, model_name, stale

    layout = Layout(tmp_path)
    for name in ("copy_rope_s0", "copy_xpos_s0"):
        layout.eval_json("copy", "x").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "metrics/eval" / f"{name}.json").write_text("{}")
    (tmp_path / "metrics/live/copy_xpos_s0").mkdir(parents=True)
    found = stale(layout, [model_name("copy", "rope", 0)])
    assert sorted(p.name for p in found) == ["copy_xpos_s0", "copy_xpos_s0.json"]


def test_an_exact_match_of_zero_gets_an_interval_that_256_sequences_can_carry():
    """None of 256 sequences exact (one seed, or three): not [0, 0] but the pooled Wilson interval."""
    import numpy as np

    from posenc.reporting import stats
    from posenc.reporting.results import lm_interval

    for seeds in (1, 3):
        evs = [{"token_acc": 0.5, "exact_match": 0.0, "loss": 1.0, "targets": 4,
                "per_seq": {"right": [2] * 256, "exact": [0] * 256, "loss": [1.0] * 256}} for _ in range(seeds)]
        lo, hi = lm_interval(evs, "exact")
        assert lo == 0.0 and hi == stats.proportion_interval(0, 256 * seeds)[1] > 0
        assert lm_interval(evs, "acc")[0] < 0.5 < lm_interval(evs, "acc")[1]  # every sequence half right
    nan = [{**ev, "loss": float("nan")} for ev in evs]  # three NaN models score 0: their interval is left alone
    assert lm_interval(nan, "acc") == [0.0, 0.0]
    assert np.isfinite(lm_interval(evs, "loss")).all()


def test_imdb_leans_count_the_changed_predictions_per_class_seed_and_longer_length(tiny_params_dict):
    """results.json's imdb_leans: from the training length to each longer one, per row and seed, how many
    predictions change to each class (reporting/paired.py tests them, plots.py draws them)."""
    from posenc import config
    from posenc.reporting.results import imdb_leans

    tiny_params_dict.update(seeds=[0, 1], pes=["learned", "nope"])
    cfg = config.from_dict(tiny_params_dict)
    i = cfg.imdb
    T, longer = i.train_max_len, [L for L in i.eval_lengths if L > i.train_max_len]
    label, at_t = "0" * 6 + "1" * 6, "0" * 6 + "1" * 6

    def preds(pe, sd, L):  # k predictions change each way at every longer length: learned 2 + seed, nope 1
        k = 0 if L == T else (2 + sd if pe == "learned" else 1)
        return "1" * k + at_t[k:6] + "0" * k + at_t[6 + k:]

    evals = {(pe, sd): {str(L): {"per_review": {"label": label, "pred": preds(pe, sd, L)}} for L in i.eval_lengths}
             for pe in cfg.pes for sd in cfg.seeds}
    out = imdb_leans(cfg, evals)
    assert out["from"] == T and list(out["rows"]) == ["learned", "nope"] and longer
    assert out["rows"]["learned"] == {str(L): [[2, 2], [3, 3]] for L in longer}
    assert out["rows"]["nope"] == {str(L): [[1, 1], [1, 1]] for L in longer}
