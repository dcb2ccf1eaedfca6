"""The run-keeping benches: bench/time_to_accuracy.py, precision.py, pe_sweep.py and the scripts that compare,
rerun or tabulate runs (their recipes, parsing and verdicts, never their timings)."""

import sys

import pytest

from conftest import ROOT, bench_script, tiny_params
from posenc.errors import ConfigError, PosencError


@pytest.fixture(scope="module")
def tta():
    return bench_script("time_to_accuracy")


def test_round1_changes_only_its_keys_and_a_candidate_only_its_own(tta, tiny_cfg):
    round1, default = tta.recipe(tiny_cfg, "round1"), tta.recipe(tiny_cfg, "default")
    assert (round1.model.n_layers, round1.train.batch_size, round1.runtime.dtype) == (3, 64, "float32")
    assert round1.synthetic == default.synthetic == tiny_cfg.synthetic
    assert default.model == tiny_cfg.model and default.train.max_steps == tiny_cfg.train.max_steps
    cand = tta.recipe(tiny_cfg, "candidate", tta.overrides(["train.max_steps=12", "train.lr=1e-3"], tiny_cfg))
    assert (cand.train.max_steps, cand.train.lr) == (12, 1e-3)
    assert cand.model == default.model and cand.train.batch_size == default.train.batch_size


@pytest.mark.parametrize("item", ["train.max_step=3", "train.max_steps", "nosection.x=1", "train.max_steps=abc"])
def test_a_wrong_candidate_is_a_one_line_error_before_any_training(tta, tiny_cfg, item):
    with pytest.raises(ConfigError, match="max_step|nosection"):
        tta.overrides([item], tiny_cfg)


def test_verdicts_take_the_first_check_at_the_target_and_say_never_otherwise(tta):
    checks = lambda *ex: [{"wall_s": 10.0 * (i + 1), "val_exact": e} for i, e in enumerate(ex)]  # noqa: E731
    runs = {"round1": {"wall_s": 100.0, "checks": checks(0.1, 0.4)},
            "default": {"checks": checks(0.0, 0.3)}, "candidate": {"checks": checks(0.2, 0.4, 0.5)}}
    out = tta.verdicts(runs, 0.4)
    assert out == {"default_wall_to_target_s": None, "default_ratio": None,
                   "candidate_wall_to_target_s": 20.0, "candidate_ratio": 0.2}


@pytest.fixture(scope="module")
def precision():
    return bench_script("precision")


def _eval(token_acc, exact):
    return {"lengths": {"256": {"token_acc": token_acc, "exact_match": exact}}}


def test_precision_rows_set_each_difference_beside_the_seed_spread(precision):
    ref = {"copy_a_s0": _eval(0.90, 0.50), "copy_b_s0": _eval(0.50, 0.0), "copy_c_s0": _eval(0.1, 0.0)}
    new = {"copy_a_s0": _eval(0.91, 0.70), "copy_b_s0": _eval(0.50, 0.0), "copy_c_s0": _eval(0.1, 0.0)}
    seeds = {"copy_a_s0": [_eval(0.90, 0.50), _eval(0.92, 0.52)], "copy_b_s0": [_eval(0.4, 0.0), _eval(0.6, 0.0)],
             "copy_c_s0": [_eval(0.1, 0.0)]}  # one seed: no spread, so no row
    table = precision.rows(ref, new, seeds, ["256"])
    assert {r["model"] for r in table} == {"copy_a_s0", "copy_b_s0"}
    a_exact = next(r for r in table if r["model"] == "copy_a_s0" and r["metric"] == "exact_match")
    assert a_exact["diff"] == pytest.approx(20.0) and a_exact["seed_sd"] == pytest.approx(2 ** 0.5)
    s = precision.summary(table)
    assert s["exact_match"]["cells"] == 2 and s["exact_match"]["within_2sd"] == 1
    assert s["exact_match"]["outside_2sd"] == ["copy_a_s0@256"]
    assert s["token_acc"]["within_1sd"] == 2 and s["token_acc"]["max_abs_diff"] == pytest.approx(1.0)


def test_precision_labels_two_runs_of_one_precision_by_the_cpu_flags_that_chose_it(precision):
    epyc = {"dtype": "bfloat16", "native_bf16": ["avx512_bf16"]}
    xeon = {"dtype": "bfloat16", "native_bf16": ["avx512_bf16", "amx_bf16"]}
    assert precision.label(epyc, "ref") != precision.label(xeon, "ref")
    assert precision.label({"dtype": "float32", "native_bf16": []}, "ref") == "float32"
    assert precision.label({}, "HEAD") == "HEAD"


@pytest.fixture(scope="module")
def sweep():
    return bench_script("pe_sweep")


def test_a_sweep_sets_a_pe_key_and_changes_nothing_else(sweep, tiny_cfg):
    cfg, done = sweep.changed(tiny_cfg, ["pe.hard_alibi.windows=[3, 4]", "train.lr=1.0e-3"])
    assert cfg.pe["hard_alibi"]["windows"] == [3, 4] and cfg.train.lr == 1e-3
    assert done == {"pe.hard_alibi.windows": [3, 4], "train.lr": 1e-3}
    assert cfg.model == tiny_cfg.model and cfg.synthetic == tiny_cfg.synthetic
    assert cfg.train.max_steps == tiny_cfg.train.max_steps and cfg.pe["fire"] == tiny_cfg.pe["fire"]


def test_a_sweep_never_reads_sets_generated_from_other_params(sweep, tiny_cfg, tmp_path):
    """The benches keep each task's sets in the temporary folder between runs; a file generated from other
    params (another training length, say) once reached a run here under the same name."""
    longer, _ = sweep.changed(tiny_cfg, [f"synthetic.train_max_len={2 * tiny_cfg.synthetic.train_max_len}"])
    reseeded, _ = sweep.changed(tiny_cfg, [f"seed={tiny_cfg.seed + 1}"])
    data = tmp_path / "copy.npz"
    names = {sweep.keyed(c, data) for c in (tiny_cfg, longer, reseeded)}
    assert len(names) == 3 and all(n.parent == tmp_path and n.suffix == ".npz" for n in names)
    assert sweep.keyed(tiny_cfg, data) == sweep.keyed(sweep.changed(tiny_cfg, ["train.lr=1.0e-3"])[0], data)
    short, long = sweep.sweep_splits(tiny_cfg, "copy", data), sweep.sweep_splits(longer, "copy", data)
    assert short["train"].lengths.max() < long["train"].lengths.max()
    again = sweep.sweep_splits(tiny_cfg, "copy", data)  # read back from its file
    assert (again["train"].tokens == short["train"].tokens).all() and len(list(tmp_path.iterdir())) == 2


@pytest.mark.parametrize("item", ["pe.hard_alibi.window=[2]", "pe.nosuch.windows=[2]", "train.lr", "model=3"])
def test_a_wrong_sweep_key_is_a_one_line_error_before_any_training(sweep, tiny_cfg, item):
    with pytest.raises(ConfigError, match="--set"):
        sweep.changed(tiny_cfg, [item])


def test_a_sweep_run_from_another_cpu_never_relabels_the_earlier_runs(sweep):
    old = {"cpu_model": "AMD EPYC", "runs": {"a": {"seed": 0}}}
    same = sweep.merged(old, "b", {"seed": 1, "cpu_model": "AMD EPYC"}, "study/params.yaml")
    assert same["cpu_model"] == "AMD EPYC" and set(same["runs"]) == {"a", "b"}
    other = sweep.merged(old, "c", {"seed": 2, "cpu_model": "Intel Xeon"}, "study/params.yaml")
    assert other["runs"]["a"]["cpu_model"] == "AMD EPYC" and other["runs"]["c"]["cpu_model"] == "Intel Xeon"
    assert other["cpu_model"].startswith("mixed")
    assert sweep.merged(old, "a", {"seed": 3, "cpu_model": "Intel Xeon"}, "p")["cpu_model"] == "Intel Xeon"  # replaced


def test_a_sweep_run_scores_every_evaluation_length(sweep, tiny_cfg, tmp_path):
    cfg, _ = sweep.changed(tiny_cfg, ["pe.hard_alibi.windows=[2, 3]", "runtime.dtype=float32",
                                      "synthetic.curve_lengths=[8, 24]"])
    out = sweep.run(cfg, "hard_alibi", "copy", 0, tmp_path / "copy.npz")
    assert list(out["eval"]) == [str(L) for L in cfg.synthetic.eval_lengths]
    assert list(out["shorter"]) == ["8"]  # the curve lengths below the training length, not 24
    assert 0 <= out["shorter"]["8"]["exact_match"] <= 1
    assert all(0 <= v["token_acc"] <= 1 and 0 <= v["exact_match"] <= 1 for v in out["eval"].values())
    assert out["checks"]["step"][-1] == cfg.train.max_steps and out["dtype"] == "float32"
    assert "per_seq" not in out["eval"][str(cfg.synthetic.eval_lengths[0])]


def test_a_sweep_trains_the_pes_mlp_faster_only_when_asked_and_records_it(sweep, tiny_params_dict, tmp_path,
                                                                           monkeypatch):
    """pe_sweep --mlp-lr X: the model trained has FIRE's f_theta scaled (bench/fire_copy_mlp.json), the run
    records X; a PE without an mlp, or X <= 0, is a one-line error that writes nothing."""
    import json

    import yaml
    from torch.nn.utils import parametrize

    import posenc.engine.lm as lm
    plain_build, seen = lm.build_model, []

    def built(cfg, pe, task, seed, data, errors=False, keep=""):  # run() without the training: the model it trains
        model = lm.build_model(lm.lm_spec(cfg, pe))
        seen.append(parametrize.is_parametrized(model.pe.mlp[0], "weight"))
        return {"eval": {}, "shorter": {}, "train_wall_s": 0.0}

    monkeypatch.setattr(sweep, "run", built)
    params, out = tmp_path / "params.yaml", tmp_path / "fire.json"
    params.write_text(yaml.safe_dump(tiny_params_dict))

    def main(pe, x):
        monkeypatch.setattr(sys, "argv", ["pe_sweep.py", pe, "--tag", f"{pe}{x}", "--mlp-lr", x,
                                          "--params", str(params), "--out", str(out)])
        sweep.main()

    main("fire", "1")
    main("fire", "10")
    assert seen == [False, True] and lm.build_model is plain_build
    runs = json.loads(out.read_text())["runs"]
    assert runs["fire1"]["mlp_lr"] == 1 and runs["fire10"]["mlp_lr"] == 10
    for pe, x in (("rope", "10"), ("fire", "0")):
        with pytest.raises(ConfigError, match="--mlp-lr"):
            main(pe, x)
    assert set(json.loads(out.read_text())["runs"]) == {"fire1", "fire10"} and lm.build_model is plain_build


def test_a_faster_mlp_models_checkpoint_is_the_plain_model_of_its_pe(sweep, tiny_cfg, tmp_path):
    """pe_sweep --checkpoint after --mlp-lr: the parametrization is folded into plain weights, so the
    pipeline's load_model rebuilds a model that computes what the trained one does."""
    import torch

    import posenc.engine.lm as lm
    from posenc.nn.checkpoint import load_model, save_model
    torch.manual_seed(0)
    with sweep.mlp_lr(10.0):
        model = lm.build_model(lm.lm_spec(tiny_cfg, "fire")).eval()
    with torch.no_grad():
        model.pe.mlp[0].weight.add_(0.5)  # as if trained: the used weights are no longer the initial ones
    save_model(tmp_path / "m.pt", model, sweep.unscaled(model))
    loaded, meta = load_model(tmp_path / "m.pt")
    idx = torch.arange(12)[None] % tiny_cfg.synthetic.vocab_size
    assert meta["pe"] == "fire" and torch.equal(loaded.eval()(idx), model(idx))
    assert any(torch.nn.utils.parametrize.is_parametrized(m) for m in model.modules())  # the original is left alone


def test_a_sweep_run_kept_with_errors_is_read_by_key_collisions(sweep, tiny_cfg, tmp_path):
    import json

    collisions = bench_script("key_collisions")

    cfg, _ = sweep.changed(tiny_cfg, ["runtime.dtype=float32"])
    out = sweep.run(cfg, "hard_alibi", "copy", 0, tmp_path / "copy.npz", errors=True)
    (tmp_path / "s.json").write_text(json.dumps({"runs": {"t": out}}))
    m = collisions.model_rates(f"{tmp_path / 's.json'}#t")
    assert list(m["lengths"]) == [str(L) for L in cfg.synthetic.eval_lengths] and m["pe"] == "hard_alibi"
    for L, r in m["lengths"].items():
        e = out["eval"][L]
        assert r["targets"] == e["n_seqs"] * e["targets"] and r["exact_match"] == e["exact_match"]
        assert 0 <= r["other_error"] <= 1 - e["token_acc"] + 1e-12 or r["pair_targets"] > 0
    with pytest.raises(Exception, match="no run 'u'"):
        collisions.model_rates(f"{tmp_path / 's.json'}#u")


@pytest.fixture(scope="module")
def offset():
    return bench_script("blank_offset")


def test_the_fixed_offset_arm_differs_only_in_its_training_pool(offset, tiny_cfg, tmp_path):
    import numpy as np

    from posenc.data import synthetic
    arms = offset.arms(tiny_cfg, tmp_path / "blank.npz")
    n = synthetic.n_for_length("copy_blank", tiny_cfg.synthetic.train_max_len)
    fixed, varied = arms["fixed"]["train"], arms["varied"]["train"]
    assert len(fixed) == len(varied) == tiny_cfg.synthetic.train_size
    assert set(fixed.lengths.tolist()) == {n} and len(set(varied.lengths.tolist())) > 1
    assert fixed.tokens.max() < tiny_cfg.synthetic.vocab_size and len(np.unique(fixed.tokens)) > 1
    assert arms["fixed"].keys() == arms["varied"].keys()
    assert all(arms["fixed"][k] is arms["varied"][k] for k in arms["varied"] if k != "train")
    assert set(arms["varied"]["val"].lengths.tolist()) == {n}


@pytest.fixture(scope="module")
def mix():
    return bench_script("length_mix")


def test_recording_keeps_the_draws_and_lists_them_and_is_undone(mix):
    import numpy as np

    from posenc.data import synthetic
    original = synthetic.LengthSampler.draw_n
    lengths = np.repeat(np.arange(1, 21), 5)
    src = synthetic.Sources(lengths, np.zeros(int(lengths.sum()), dtype=np.int64))

    def sampler():
        return synthetic.LengthSampler(src, "copy", 4, 9, 10, np.random.default_rng(3), long_share=0.5)

    drawn = []
    s = sampler()
    plain = [len(s.sample(step)[0]) for step in range(60)]
    with mix.recording(drawn):
        s = sampler()
        recorded = [len(s.sample(step)[0]) for step in range(60)]
    assert recorded == plain == drawn
    assert synthetic.LengthSampler.draw_n is original


def test_rows_in_loss_counts_the_steps_whose_targets_reach_each_row(mix, tiny_cfg):
    from posenc.data import synthetic
    n_full = synthetic.n_for_length("copy", tiny_cfg.synthetic.train_max_len)
    share = mix.rows_in_loss([n_full, n_full, 1, 1], "copy", tiny_cfg)
    first, *_, last = [int(p) for p in share]
    assert (first, last) == (n_full, 2 * n_full - 1)  # copy predicts its targets from SEP onwards
    assert share[str(first)] == share[str(last)] == 0.5  # a source of 1 token reaches neither row


def test_same_weights_prints_one_fingerprint_per_task_and_pe_and_the_same_twice(capsys, monkeypatch):
    """bench/same_weights.py: the lines two checkouts are diffed on; a run that is not deterministic would
    make every diff fail, so two runs of the same code must print the same."""
    same = bench_script("same_weights")
    argv = ["same_weights.py", "--params", str(ROOT / "params.yaml"), "--pes", "nope", "alibi"]
    monkeypatch.setattr(sys, "argv", argv)
    same.main()
    first = capsys.readouterr().out.splitlines()
    same.main()
    assert capsys.readouterr().out.splitlines() == first
    assert [line.split()[:2] for line in first] == [[t, x] for t in ("copy", "duplicate")
                                                    for x in ("data", "nope", "alibi")]
    assert all(len(line.split()[2]) == 32 for line in first)  # md5 hex digests


def test_a_start_key_puts_sep_in_front_and_keeps_every_target(monkeypatch, tiny_cfg, untrained_copy):
    """bench/start_key.py: SEP a1 .. an SEP a1 .. an, the same targets in the same order; importing it
    leaves the pipeline's format alone, and its slips by copy index add up to the wrong targets."""
    import numpy as np

    from posenc.data import synthetic
    from posenc.engine.runtime import resolve

    plain = synthetic.make_batch
    start = bench_script("start_key")
    assert synthetic.make_batch is plain
    V = tiny_cfg.synthetic.vocab_size
    for task in ("copy", "duplicate"):
        srcs = [np.arange(3), np.arange(5) + 1]
        idx0, lab0 = plain(srcs, task, V)
        idx, lab = start.start_keyed("sep")(srcs, task, V)
        assert (idx[:, 0] == synthetic.sep_id(V)).all() and (idx[:, 1:] == idx0).all()
        assert (lab[:, 0] == synthetic.IGNORE).all() and (lab[:, 1:] == lab0).all()
    model, splits = untrained_copy
    monkeypatch.setattr(synthetic, "make_batch", start.start_keyed("sep"))
    lengths = list(tiny_cfg.synthetic.eval_lengths)
    for L, r in start.score(model, splits, "copy", tiny_cfg, resolve("float32"), lengths).items():
        s = r["slips"]
        assert s["index_0"] + s["index_1"] + s["index_2plus"] == s["all"] > 0
        assert s["targets"] == int(splits[f"eval_{L}"].lengths.sum())
        assert abs(1 - s["all"] / s["targets"] - r["token_acc"]) < 1e-9


def test_the_other_start_tokens_are_one_fixed_non_sep_token_or_one_drawn_per_sequence(tiny_cfg, monkeypatch):
    """--start blank: BLANK in front of every sequence; --start random: a content token that is the same for a
    sequence in every batch and not the same for all; the targets as with SEP; --plain takes no --start."""
    import numpy as np

    from posenc.data import synthetic
    start = bench_script("start_key")
    V = tiny_cfg.synthetic.vocab_size
    srcs = [np.arange(i, i + 4) % V for i in range(12)]
    lab0 = start.start_keyed("sep")(srcs, "copy", V)[1]
    blank, lab = start.start_keyed("blank")(srcs, "copy", V)
    assert (blank[:, 0] == synthetic.blank_id(V)).all() and (lab == lab0).all()
    drawn, lab = start.start_keyed("random")(srcs, "copy", V)
    again = start.start_keyed("random")(srcs[::-1], "copy", V)[0]
    assert (drawn[:, 0] < V).all() and len(set(drawn[:, 0].tolist())) > 1 and (lab == lab0).all()
    assert (again[:, 0].flip(0) == drawn[:, 0]).all() and (drawn[:, 1:] == blank[:, 1:]).all()
    monkeypatch.setattr("sys.argv", ["start_key.py", "t5", "--tag", "x", "--plain", "--start", "blank"])
    with pytest.raises(ConfigError, match="--start blank"):
        start.main()


def test_the_start_key_summary_sets_its_seeds_against_the_parts_and_leaves_out_plain_and_other_starts(tmp_path):
    import json

    start = bench_script("start_key")
    slips = {"index_0": 0, "index_1": 0, "index_2plus": 1, "all": 1, "targets": 10}
    run = {"pe": "hard_alibi_ngram", "task": "copy", "cpu_model": "a CPU"}
    def scored(exact):
        return {"64": {"exact_match": exact, "slips": slips}}

    out = {"runs": {f"s{s}": {**run, "seed": s, "start_token": True, "eval": scored(v)}
                    for s, v in enumerate((0.9, 1.0, 0.95))}}
    out["runs"]["plain"] = {**run, "seed": 0, "start_token": False, "eval": scored(0.0)}  # not a seed of the arm
    out["runs"]["blank"] = {**run, "seed": 3, "start_token": True, "start": "blank", "eval": scored(0.0)}  # another arm
    far = {"128": {"exact_match": 0.5, "slips": slips}}
    out["runs"]["s0_far"] = {**run, "seed": 0, "start_token": True, "eval": {**scored(0.9), **far}}  # seed 0 again
    (tmp_path / "part/metrics/eval").mkdir(parents=True)
    for s, v in enumerate((0.5, 0.6, 0.55)):
        (tmp_path / f"part/metrics/eval/copy_hard_alibi_ngram_s{s}.json").write_text(
            json.dumps({"lengths": {"64": {"exact_match": v}}}))
    head, line, longer = start.summary(out, "hard_alibi_ngram", tmp_path / "part")
    assert "seeds [0, 1, 2] (a CPU)" in head and "(3 seeds, no start token)" in head
    assert line.startswith("@64 (3 seeds): 95.0 [") and "slips at copy index 1 / elsewhere 0 / 3" in line
    assert longer.startswith("@128 (1 seeds): 50.0 [nan, nan] %") and "without" not in longer
    assert "without: 55.0 [" in line and float(line.split("p = ")[1]) < 0.05


@pytest.fixture(scope="module")
def same():
    return bench_script("same_batches")


def test_same_batches_passes_the_module_against_itself_and_names_a_changed_batch(same, tiny_cfg):
    """The relock's evidence: equal modules compare every step and evaluation batch; a module whose batches
    differ anywhere (here a label moved, the arrays and draws untouched) is an error naming task and step."""
    import types

    import torch

    from posenc.data import synthetic
    n = same.same_batches(synthetic, tiny_cfg, "copy", 0, steps=5)
    assert n > 5  # 5 training steps and every val / evaluation batch

    def moved(sources, task, vocab_size):
        idx, labels = synthetic.make_batch(sources, task, vocab_size)
        return idx, torch.roll(labels, 1, dims=1)

    changed = types.SimpleNamespace(**{k: getattr(synthetic, k) for k in dir(synthetic) if not k.startswith("__")})
    changed.make_batch = moved
    with pytest.raises(SystemExit, match="copy seed 0 step 0: the batches differ"):
        same.same_batches(changed, tiny_cfg, "copy", 0, steps=5)


@pytest.fixture(scope="module")
def rerun():
    return bench_script("rerun_steps")


def test_rerun_steps_records_equal_steps_equally_and_names_where_two_records_part(rerun, tiny_cfg, tmp_path):
    """The cross-process determinism check: one model's first steps, run twice, give the same losses and
    weight hashes; first_difference names the first step where two records part, None where none does;
    a DVCLive tsv reads back as {step: value}."""
    from posenc.data import synthetic
    arrays = synthetic.generate(tiny_cfg.synthetic, "copy", tiny_cfg.seed)
    splits = {"train": synthetic.Sources(arrays["train_lengths"].astype("int64"), arrays["train_tokens"])}
    steps = max(rerun.HASH_EVERY, tiny_cfg.train.log_every)
    a, b = (rerun.train_steps(tiny_cfg, splits, "copy", "rope", 0, steps) for _ in range(2))
    assert a == b and len(a["md5"]) == 1 and a["loss"]
    assert rerun.first_difference(a["loss"], b["loss"]) is None
    assert rerun.first_difference({0: 1.0, 10: 2.0, 20: 3.0}, {0: 1.0, 10: 2.5, 20: 3.5}) == 10
    (tmp_path / "loss.tsv").write_text("step\tloss\n0\t4.5\n10\t4.25\n")
    assert rerun.read_tsv(tmp_path / "loss.tsv") == {0: 4.5, 10: 4.25}


@pytest.fixture(scope="module")
def budget():
    return bench_script("budget_table")


def test_the_budget_table_reads_the_parts_seeds_and_only_the_12000_step_runs(budget, tmp_path, monkeypatch):
    """A study cell is the mean and t interval over the part's seed files at 256; a bench cell is seed 0's
    run at 12,000 steps (the one with shorter lengths when a tag was rerun with them), the lowest exact
    match at those lengths, and the mean over seeds where several ran; a run at other steps, or a
    rescoring kept with --errors, is not a 12,000-step model of its own."""
    import json
    from posenc.reporting.stats import proportion_interval, t_interval
    evals = tmp_path / "study" / "p" / "metrics" / "eval"
    evals.mkdir(parents=True)
    for seed, exact in enumerate([0.80, 0.90, 0.97]):
        for pe, e in (("rope", exact), ("nope", 0.0)):
            (evals / f"copy_{pe}_s{seed}.json").write_text(json.dumps({"lengths": {"256": {"exact_match": e,
                                                                                          "n_seqs": 256}}}))
    lo, hi = t_interval([80.0, 90.0, 97.0], bounds=(0.0, 100.0))
    assert budget.study_cell(tmp_path / "study" / "p", "copy", "rope") == f"89.0 [{lo:.1f}, {hi:.1f}]"
    none = 100 * proportion_interval(0, 3 * 256)[1]  # every seed at 0: the pooled Wilson interval, not [0.0, 0.0]
    assert budget.study_cell(tmp_path / "study" / "p", "copy", "nope") == f"0.0 [0.0, {none:.1f}]"
    assert budget.study_cell(tmp_path / "study" / "p", "duplicate", "rope") == "not run"

    def run(seed, exact, steps=12000, shorter=None):
        r = {"pe": "rope", "task": "copy", "seed": seed, "set": {"train.max_steps": steps} if steps else {},
             "eval": {"256": {"exact_match": exact}}}
        return {**r, "shorter": shorter} if shorter else r
    runs = {"a": run(0, 0.95), "a_inside": run(0, 0.95, shorter={"64": {"exact_match": 0.91},
                                                                   "128": {"exact_match": 0.99}}),
            "a_seed1": run(1, 0.85), "a_seed1_errors": run(1, 0.10), "b": run(0, 0.20, steps=None)}
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "x.json").write_text(json.dumps({"runs": runs}))
    monkeypatch.setattr(budget, "ROOT", tmp_path)
    monkeypatch.setattr(budget, "BENCH", ["bench/x.json"])
    found = budget.bench_runs()
    assert len(found[("rope", "copy")]) == 3 and found[("rope", "copy")][0]["shorter"]
    lo, hi = t_interval([95.0, 85.0], bounds=(0.0, 100.0))
    assert budget.bench_cell(found[("rope", "copy")]) == f"95.0 (91.0); 2 seeds 90.0 [{lo:.1f}, {hi:.1f}]"
    assert budget.bench_cell([]) == "not measured"
    parts = {tmp_path / "study" / "p": "study", tmp_path / "study" / "q": "study Q"}
    assert budget.long_cell([], parts, "duplicate", "rope") == "not measured"
    lo, hi = t_interval([80.0, 90.0, 97.0], bounds=(0.0, 100.0))
    assert budget.long_cell([], parts, "copy", "rope") == f"study, 3 seeds 89.0 [{lo:.1f}, {hi:.1f}]"
    assert budget.long_cell(found[("rope", "copy")][:1], parts, "copy", "rope").startswith(
        "95.0 (91.0); study, 3 seeds 89.0")
    (tmp_path / "study" / "q" / "metrics" / "eval").mkdir(parents=True)
    (tmp_path / "study" / "q" / "metrics" / "eval" / "duplicate_rope_s0.json").write_text(
        json.dumps({"lengths": {"256": {"exact_match": 0.5, "n_seqs": 256}}}))
    one = budget.long_cell(found[("rope", "copy")][:1], parts, "duplicate", "rope")
    assert one == "95.0 (91.0); study Q, 1 seed 50.0"
    assert budget.long_cell([], parts, "duplicate", "rope") == "study Q, 1 seed 50.0"


@pytest.fixture(scope="module")
def subset():
    return bench_script("imdb_subset")


def test_the_imdb_subset_is_the_evaluations_own_and_rescores_only_its_reviews(subset, tmp_path):
    """The rescored subset is exactly the reviews data/imdb.test_subset keeps (same size, same data seed), and
    a model right on those reviews only scores 100 % on the subset and n/N on all of them."""
    import json

    import numpy as np
    import yaml

    from posenc.data.imdb import Encoded, test_subset
    from posenc.reporting import partial
    rng = np.random.default_rng(3)
    N, n = 400, 60
    labels = rng.integers(0, 2, N)
    lengths = rng.integers(1, 5, N)
    test = Encoded(lengths, np.arange(int(lengths.sum())), labels)
    picked = test_subset(test, n, 7)
    idx = subset.subset_index(labels, n, 7)
    assert len(idx) == n and np.array_equal(labels[idx], picked.labels)
    assert np.array_equal(lengths[idx], picked.lengths)  # the same reviews, not just the same labels
    params = tiny_params()
    params.update(seeds=[0, 1, 2], pes=["rope"], seed=7)
    (tmp_path / "metrics/eval").mkdir(parents=True)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    pred = 1 - labels
    pred[idx] = labels[idx]
    digits = "".join(map(str, pred.tolist())), "".join(map(str, labels.tolist()))
    scored = {"acc": n / N, "n": N, "per_review": {"pred": digits[0], "label": digits[1]}}
    for s in range(3):
        (tmp_path / f"metrics/eval/imdb_rope_s{s}.json").write_text(json.dumps(
            {"pe": "rope", "seed": s, "lengths": {str(L): scored for L in params["imdb"]["eval_lengths"]}}))
    evals = partial.load_imdb(tmp_path)
    sub = subset.rescored(evals, subset.subset_index(labels, n, partial.load(tmp_path)[0].seed))
    assert all(v["acc"] == 1.0 and v["n"] == n for lengths in sub.values() for v in lengths.values())
    other = {k: {L: {"acc": 1.0, "n": n, "per_review": {"pred": "".join(v["per_review"]["pred"][i] for i in idx),
                                                        "label": "".join(v["per_review"]["label"][i] for i in idx)}}
                 for L, v in lengths.items()} for k, lengths in evals.items()}
    side = subset.against(evals, idx, other)
    assert set(side) == {"rope/0", "rope/1", "rope/2"}
    assert all(v == {"this": 1.0, "other": 1.0, "agree": 1.0} for m in side.values() for v in m.values())
    flipped = {k: {L: {**v, "per_review": {**v["per_review"], "label": v["per_review"]["label"][::-1]}}
                   for L, v in lengths.items()} for k, lengths in other.items()}
    with pytest.raises(SystemExit, match="other reviews than the subset"):
        subset.against(evals, idx, flipped)


def test_the_imdb_subset_names_a_part_without_classifiers_in_one_line(subset, tmp_path, monkeypatch):
    import yaml
    monkeypatch.setattr(sys, "argv", ["imdb_subset.py", str(tmp_path)])
    with pytest.raises(PosencError, match="params.yaml: cannot read"):  # __main__ prints it as one line
        subset.main()
    (tmp_path / "metrics/eval").mkdir(parents=True)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    with pytest.raises(SystemExit, match="has no IMDb classifiers"):
        subset.main()


@pytest.fixture(scope="module")
def spike():
    return bench_script("length_spike")


def _pool_sampler(long_share=0.5):
    import numpy as np

    from posenc.data import synthetic
    lengths = np.repeat(np.arange(1, 21), 5)
    src = synthetic.Sources(lengths, np.zeros(int(lengths.sum()), dtype=np.int64))
    return synthetic.LengthSampler(src, "copy", 4, 9, 10, np.random.default_rng(3), long_share=long_share)


def test_a_spike_of_share_zero_is_the_default_draw_draw_for_draw(spike):
    s = _pool_sampler()
    plain = [len(s.sample(step)[0]) for step in range(300)]
    drawn = []
    with spike.spiked(7, 0.0, drawn):
        s = _pool_sampler()
        assert [len(s.sample(step)[0]) for step in range(300)] == plain == drawn


def test_a_spike_takes_its_share_from_the_uniform_steps_and_keeps_the_longest_ones(spike):
    from posenc.data import synthetic
    original, drawn, base = synthetic.LengthSampler.draw_n, [], []
    with spike.spiked(7, 0.3, drawn):
        s = _pool_sampler()
        for step in range(4000):
            s.sample(step)
    assert synthetic.LengthSampler.draw_n is original
    with spike.spiked(7, 0.0, base):
        s = _pool_sampler()
        for step in range(4000):
            s.sample(step)
    after = drawn[10:]  # past the curriculum of 10 steps
    assert abs(after.count(7) / len(after) - (0.3 + 0.2 / 20)) < 0.03  # the spike plus the uniform share of 7
    assert abs(after.count(20) / len(after) - (0.5 + 0.2 / 20)) < 0.03  # the longest n keeps its half
    assert abs(base[10:].count(7) / len(after) - 0.5 / 20) < 0.01
    assert drawn[:10] == base[:10]  # the curriculum's draws are the default's


def test_the_grid_sets_are_fresh_sequences_of_each_source_length(spike, tiny_cfg):
    from posenc.data import synthetic
    grid = (3, 5, 7)
    sets = spike.grid_splits(tiny_cfg, "copy", grid)
    assert list(sets) == [f"eval_{synthetic.total_length('copy', n)}" for n in grid]
    for n, src in zip(grid, sets.values()):
        assert len(src) == tiny_cfg.synthetic.eval_size and set(src.lengths.tolist()) == {n}
    again = spike.grid_splits(tiny_cfg, "copy", grid[1:])
    assert (again["eval_11"].tokens == sets["eval_11"].tokens).all()  # a length's set never depends on the others


@pytest.mark.parametrize("share, n, key", [(0.6, 5, "--share"), (-0.1, 5, "--share"), (0.2, 99, "--spike")])
def test_a_spike_it_cannot_make_is_a_one_line_error(spike, tiny_cfg, share, n, key):
    with pytest.raises(ConfigError, match=key):
        spike.check(tiny_cfg, "copy", n, share, (3, 4))


def test_steps_at_counts_each_grid_length_and_zero_for_the_others(spike):
    assert spike.steps_at([3, 3, 5, 7, 3], (3, 4, 5)) == {"3": 3, "4": 0, "5": 1}


def test_the_table_gives_each_n_a_row_with_its_steps_and_each_run_a_column(spike):
    run = lambda pe, share, em: {"pe": pe, "task": "copy", "seed": 0, "spike": 5, "share": share, "set": {},  # noqa: E731
                                 "steps_at": {"5": 40 if share else 2, "6": 3},
                                 "grid": {"5": {"exact_match": em, "token_acc": 0.9}, "6": {"exact_match": 0.0, "token_acc": 0.5}}}
    doc = {"params": str(ROOT / "params.yaml"), "runs": {"a": run("learned", 0.25, 0.5), "b": run("learned", 0.0, 0.0)}}
    doc["runs"]["c"] = {**run("learned", 0.25, 1.0), "task": "duplicate"}  # a table per task
    doc["runs"]["d"] = {**run("learned", 0.0, 0.0), "task": "duplicate", "set": {"train.long_share": 0.75},
                        "steps_at": {"5": 7, "6": 8}}  # other params draw other steps: a column of their own
    lines = spike.table(doc, "copy").splitlines()
    assert lines[0] == "| n (tokens) | steps s0 n5 p0.25 | steps s0 n5 p0 | a | b |"
    assert lines[2].startswith("| 5 (11) | 40 | 2 | 50.0 [") and lines[2].endswith("| 0.0 [0.0, 1.5] |")  # 256 sequences
    assert lines[3] == "| 6 (13) | 3 | 3 | 0.0 [0.0, 1.5] | 0.0 [0.0, 1.5] |"
    assert spike.table(doc, "copy", "token_acc").splitlines()[3] == "| 6 (13) | 3 | 3 | 50.0 | 50.0 |"
    dup = spike.table(doc, "duplicate").splitlines()
    assert dup[0] == "| n (tokens) | steps s0 n5 p0.25 | steps s0 n5 p0-train.long_share=0.75 | c | d |"
    assert dup[3] == "| 6 (19) | 3 | 8 | 0.0 [0.0, 1.5] | 0.0 [0.0, 1.5] |"


def test_the_accuracy_by_target_comes_from_the_scoring_passes(spike, tiny_cfg):
    import numpy as np
    import torch

    from posenc.engine import lm
    from posenc.engine.runtime import resolve
    torch.manual_seed(0)
    model = lm.build_model(lm.lm_spec(tiny_cfg, "learned"))
    evals = spike.grid_splits(tiny_cfg, "copy", (3, 7))
    scores, by_target = spike.scored(model, evals, "copy", tiny_cfg, resolve("float32"))
    assert list(scores) == list(by_target) == ["7", "15"]
    for L, n in (("7", 3), ("15", 7)):
        assert len(by_target[L]) == n  # one accuracy per target index, each a fraction of the sequences
        assert np.mean(by_target[L]) == pytest.approx(scores[L]["token_acc"], abs=1e-4)
        assert all(0 <= a <= 1 for a in by_target[L])


def test_the_by_target_table_gives_the_first_lowest_and_last_target_of_each_run_and_n(spike):
    grid = {"3": {"exact_match": 0.5, "token_acc": 0.7, "by_target": [1.0, 0.4, 0.7]},
            "2": {"exact_match": 0.9, "token_acc": 0.95, "by_target": [1.0, 0.9]}}
    doc = {"runs": {"a": {"task": "copy", "grid": grid},
                    "old": {"task": "copy", "grid": {"3": {"exact_match": 0.5, "token_acc": 0.7}}},  # kept no by_target
                    "d": {"task": "duplicate", "grid": grid}}}
    lines = spike.by_target(doc, "copy").splitlines()
    assert lines[2:] == ["| a | 2 (5) | 100.0 | 90.0 (2) | 90.0 | 95.0 |", "| a | 3 (7) | 100.0 | 40.0 (2) | 70.0 | 70.0 |"]
    assert spike.by_target(doc, "duplicate").splitlines()[3].startswith("| d | 3 (10) |")


def test_the_offset_bench_runs_one_arm_with_changed_params_and_keeps_the_earlier_runs_cpu(offset, monkeypatch, tmp_path):
    import json
    out = tmp_path / "o.json"
    out.write_text(json.dumps({"cpu_model": "Earlier CPU", "runs": {"rope_fixed_L64_4000_s0": {"pe": "rope"}}}))
    seen = []
    monkeypatch.setattr(offset, "run", lambda cfg, pe, splits, seed, lr_scale: seen.append(cfg.pe[pe]) or
                        {"token_acc": 0.5, "exact_match": 0.25, "train_wall_s": 1.0})
    monkeypatch.setattr(offset, "arms", lambda cfg, data: {"varied": {}, "fixed": {}})
    monkeypatch.setattr(sys, "argv", ["blank_offset.py", "fire", "--steps", "10", "--arms", "fixed", "--out", str(out),
                                      "--set", "pe.fire.init_L=64"])
    offset.main()
    doc = json.loads(out.read_text())
    run = doc["runs"]["fire_fixed_L64_10_s0-pe.fire.init_L=64"]
    assert run["set"] == {"pe.fire.init_L": 64} and run["arm"] == "fixed" and len(doc["runs"]) == 2 and run["mlp_lr"] == 1
    assert len(seen) == 1 and seen[0]["init_L"] == 64  # one arm, with the changed params
    assert doc["runs"]["rope_fixed_L64_4000_s0"]["cpu_model"] == "Earlier CPU"  # not relabelled by this machine
    with pytest.raises(ConfigError, match="pe.fire.nope"):
        monkeypatch.setattr(sys, "argv", ["blank_offset.py", "fire", "--out", str(out), "--set", "pe.fire.nope=1"])
        offset.main()


def test_a_faster_mlp_starts_as_the_same_function_moves_scale_times_as_far_and_is_undone(offset, tiny_cfg):
    """--mlp-lr: FIRE's f_theta stored / scale and used * scale; one Adam step moves its used weights `scale`
    times as far as the plain model's, and every other parameter exactly as far."""
    import torch

    import posenc.engine.lm as lm
    plain_build = lm.build_model
    pos = torch.arange(12)

    def stepped(scale):
        torch.manual_seed(0)
        with offset.mlp_lr(scale):  # pe_sweep's, imported by blank_offset
            model = lm.build_model(lm.lm_spec(tiny_cfg, "fire"))

        def used():  # the weights the forward uses: f_theta's first layer, and the token embedding
            return {"w1": model.pe.mlp[0].weight.detach().clone(), "tok": model.tok_emb.weight.detach().clone()}

        before, bias = used(), model.pe.score_bias(pos, pos).detach()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        model(torch.arange(12)[None] % tiny_cfg.synthetic.vocab_size)[0].sum().backward()
        opt.step()
        return bias, {k: v - before[k] for k, v in used().items()}

    bias1, moved1 = stepped(1.0)
    bias10, moved10 = stepped(10.0)
    assert lm.build_model is plain_build
    assert torch.allclose(bias1, bias10, atol=1e-6)
    assert torch.allclose(moved10["w1"], 10 * moved1["w1"], rtol=1e-3, atol=1e-7)
    assert torch.allclose(moved10["tok"], moved1["tok"], atol=1e-7)
    with pytest.raises(ConfigError, match="--mlp-lr"), offset.mlp_lr(10.0):
        lm.build_model(lm.lm_spec(tiny_cfg, "rope"))  # no mlp: a one-line error, not a silent plain run
    assert lm.build_model is plain_build


def test_the_peak_margin_is_the_bias_at_the_offset_above_its_neighbours(offset):
    import torch

    class Pe:
        def __init__(self, f):
            self.f = f

        def score_bias(self, q, k):
            d = (q[:, None] - k[None, :]).float()
            return torch.stack([self.f(d), torch.zeros_like(d)])  # (H=2, T, T): the second head flat

    class Model:
        pe = None

    model, n = Model(), 5
    model.pe = Pe(lambda d: (d == n + 1).float() * 3 + (d == n).float())  # peak 3 at n + 1, 1 beside it
    assert offset.peak_margin(model, n, 2 * n + 2) == 2.0
    model.pe = Pe(lambda d: -d)  # falls with distance (ALiBi's shape): the offset is below its nearer neighbour
    assert offset.peak_margin(model, n, 2 * n + 2) == 0.0  # the flat head's 0 is the largest
    model.pe = type("NoBias", (), {"score_bias": lambda self, q, k: None})()
    assert offset.peak_margin(model, n, 2 * n + 2) is None
