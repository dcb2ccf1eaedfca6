"""The report: its sentences follow the numbers (a NaN run, a PE that collapses, one that keeps
its accuracy), and changing a number leaves no stale sentence behind."""

import copy
import dataclasses
import math

import numpy as np
import pytest

from posenc.nn.pe import available
from posenc.reporting import paired, report, verdicts

PES = ["sinusoidal", "learned", "rope", "alibi", "nope"]  # the PEs these made-up numbers describe
NAN = float("nan")


def section(text: str, pe: str) -> str:
    """The '### pe' part of the report."""
    start = text.index(f"### {pe}\n")
    end = text.find("\n### ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def lm_row(acc, loss, exact_short):
    """A results.json tasks[task][pe] row of one seed, with bootstrap-like intervals."""
    row = {"acc_16": acc[0], "acc_32": acc[1], "exact_16": exact_short, "exact_32": 0.0,
           "loss_16": loss[0], "loss_32": loss[1], "train_steps": 300, "solved": exact_short >= 0.9,
           "first_step_acc": [100], "first_step_exact": [200 if exact_short >= 0.9 else None]}
    row["per_seed"] = {k: [v] for k, v in row.items() if k[:3] in ("acc", "exa", "los")}
    row["ci"] = {k: [v[0] - 0.02, v[0] + 0.02] for k, v in row["per_seed"].items()}
    return row


@pytest.fixture
def inputs(tiny_cfg):
    # copy at 16 (training length) / 32: alibi keeps, learned collapses, sinusoidal degrades, rope goes NaN
    acc = {"sinusoidal": (0.99, 0.7), "learned": (0.99, 0.05), "rope": (0.99, 0.0), "alibi": (0.99, 0.97),
           "nope": (0.99, 0.6)}
    loss = {pe: (0.1, NAN if pe == "rope" else 1.0) for pe in PES}
    tasks = {t: {pe: lm_row(acc[pe], loss[pe], 0.5 if pe == "sinusoidal" else 0.95) for pe in PES}
             for t in ("copy", "duplicate")}
    imdb = {pe: {"acc_16": 0.80, "acc_32": 0.80 + (0.05 if pe == "alibi" else -0.2 if pe == "learned" else 0.001),
                 "f1_16": 0.8, "f1_32": 0.8, "loss_16": 0.4, "loss_32": 0.4, "best_epoch": 1, "train_steps": 10}
            for pe in PES}
    for row in imdb.values():
        row["per_seed"] = {k: [v] for k, v in row.items() if k[:3] in ("acc", "f1_", "los")}
    buckets = {pe: {L: {b: {"acc": 0.7, "f1": 0.7, "loss": 0.5, "n": 3} for b in ("<=16", "17-32", ">32")}
                    for L in ("16", "32")} for pe in PES}
    stability = {t: {pe: {"grad_norm_last_layer_32": 0.5, "probe_loss_32": 1.0, "max_probe_loss": 1.0,
                          "max_loss": NAN if pe == "rope" else 1.0, "nan_count": 3 if pe == "rope" else 0,
                          "nan": pe == "rope"} for pe in PES} for t in ("copy", "duplicate", "imdb")}
    baselines = {t: {r: {L: {"acc": 0.99, "exact": e} for L in ("16", "24", "32")}
                     for r, e in (("lookup2", 0.3), ("lookup3", 0.9))} for t in ("copy", "duplicate")}
    results = {"tasks": tasks, "headline_task": "copy", "seeds": [0], "interval": "bootstrap", "baselines": baselines, "imdb": imdb, "imdb_buckets": buckets,
               "stability": stability, "imdb_data": {"train_reviews": 9, "val_reviews": 3, "test_reviews": 12,
                                                     "vocab_size": 300}}
    trains = {f"{t}_{pe}": {"summary": {"n_params": 1000, "dtype": "float32"}}
              for t in ("copy", "duplicate", "imdb") for pe in PES}

    def probe(pe):
        mass_long = 0.05 if pe in ("learned", "rope") else 0.9
        att = {L: {"entropy": [1.0], "entropy_norm": [0.3 if L == "16" else 0.8],
                   "source_mass": [[0.95 if L == "16" else mass_long, 0.1]]} for L in ("16", "24", "32")}
        grads = {L: {"loss": 1.0, "layer_mean_grad_norm": {"layer0": 0.1 if L == "16" else 0.4}} for L in ("16", "32")}
        return {"attention": att, "gradients": grads}

    probes = {f"{t}_{pe}": probe(pe) for t in ("copy", "duplicate", "imdb") for pe in PES}
    row = {"train_overhead": 1.1, "forward_overhead": 1.05, "peak_mem_mib": 300.0, "train_tokens_per_s": 5000.0,
           "mfu": 0.3, "peak_mem_kind": "process_peak_rss", "bf16_speedup": 0.25}
    profile = {"device": "cpu", "device_name": "test cpu", "native_bf16": [], "auto_dtype": "float32", "threads": 2, "torch": "x", "batch_size": 2, "repeats": 2,
               "baseline": "nope", "matmul": {"n": 64, "flops_per_s": 1e9},
               "models": {pe: {"extra_params": 0, "lengths": {"16": dict(row), "32": dict(row)}}
                          for pe in PES}}
    profile["models"]["rope"]["lengths"]["32"]["train_overhead"] = 1.7
    return report.Inputs(cfg=dataclasses.replace(tiny_cfg, pes=PES), results=results, profile=profile, trains=trains, probes=probes,
                         figures=("accuracy_vs_length.png",))


def test_sentences_follow_the_numbers(inputs):
    text = report.build_report(inputs)
    assert ("its token accuracy holds (98% of its 16-token value), its exact match collapses (0% of its 16-token "
            "value); matching the last 3 tokens without positions scores 90.0 % exact match at 32.") in section(text, "alibi")
    assert "its token accuracy collapses (5% of its 16-token value)" in section(text, "learned")
    assert "its token accuracy degrades (71% of its 16-token value)" in section(text, "sinusoidal")
    assert "50.0 % at 16 (**not solved**" in section(text, "sinusoidal")
    assert "95.0 % at 16 (solved" in section(text, "alibi")
    assert "**not solved at 16** (mean exact match < 0.9) by sinusoidal" in text
    assert "breaks down (NaN loss, scored 0)" in section(text, "rope")
    assert "Runs with NaN or inf values: copy/rope, duplicate/rope, imdb/rope" in text
    assert "largest training overhead is rope's: x1.70" in text
    # probes: the copy head keeps the source token for alibi, loses it for learned
    assert "layer 0 head 0 0.95 -> 0.90. 1 of 1 keep at least 50% of their weight on it at 32" in section(text, "alibi")
    assert "layer 0 head 0 0.95 -> 0.05. 0 of 1 keep" in section(text, "learned")
    assert "from 0.1 at 16 to 0.4 at 32 (x4.0), with the probe loss going from 1 to 1" in section(text, "alibi")
    # content matching: exact 0.95 [0.93, 0.97] at 16 beats the 3-token rule's 0.9; 0.5 is below it
    assert "copy at 16: content matching without positions scores 30.0 % exact match (last 2 tokens) and 90.0 %" in text
    assert "by its own 95 % interval, learned, rope, alibi, nope beat the 3-token rule; sinusoidal is below it" in text
    # one seed ranks nothing
    assert "copy, exact match at 32: one model per PE (1 seed), so no ranking is claimed" in text
    assert " > " not in text.split("## Synthetic")[1].split("## IMDb")[0]
    # IMDb changes
    assert "gains 5.0 points at 32" in section(text, "alibi")
    assert "loses 20.0 points at 32" in section(text, "learned")
    assert "is unchanged at 32" in section(text, "sinusoidal")
    assert "![Token accuracy and exact match vs length" in text and "attention_maps.png" not in text  # only present figures


def test_the_attention_maps_are_shown_for_a_copy_headline_only(inputs):
    shown = dataclasses.replace(inputs, figures=("attention_maps.png",))
    assert "](figures/attention_maps.png)" in report.build_report(shown)
    s = dataclasses.replace(inputs.cfg.synthetic, headline_task="duplicate")  # stage plot_maps' figure says why not
    other = dataclasses.replace(shown, cfg=dataclasses.replace(inputs.cfg, synthetic=s))
    assert "attention_maps.png" not in report.build_report(other)


def test_changing_a_number_leaves_no_stale_sentence(inputs):
    before = report.build_report(inputs)
    changed = copy.deepcopy(inputs.results)
    for t in ("copy", "duplicate"):
        changed["tasks"][t]["alibi"]["acc_32"] = 0.12
    after = report.build_report(report.Inputs(**{**inputs.__dict__, "results": changed}))
    assert "accuracy holds" in section(before, "alibi") and "accuracy holds" not in section(after, "alibi")
    assert "97.0 %" not in after and "its token accuracy collapses (12% of its 16-token value)" in section(after, "alibi")


def test_no_nan_sentence_when_no_run_is_nan(inputs):
    clean = copy.deepcopy(inputs.results)
    for per_pe in clean["stability"].values():
        per_pe["rope"].update(nan=False, nan_count=0, max_loss=1.0)
    text = report.build_report(report.Inputs(**{**inputs.__dict__, "results": clean}))
    assert "No run produced a NaN or inf" in text and "Runs with NaN" not in text


@pytest.mark.parametrize("pe", available())
def test_every_registered_pe_has_theory_that_states_no_result(pe, tiny_cfg):
    """The prose comes from the PE's own class; filled in, it holds no percentage (mechanisms, not results)."""
    text = report.mechanism(tiny_cfg, pe, {"train": 256, "last": 255, "longest_last": 1023})
    assert "%" not in text and "{" not in text
    assert report.theory(pe).pros and report.theory(pe).cons


def test_alibi_theory_names_the_slopes_of_the_configured_heads(tiny_cfg):
    text = report.mechanism(tiny_cfg, "alibi", {"train": 16, "last": 15, "longest_last": 31})
    assert f"({', '.join(f'1/{2 ** (8 * h // tiny_cfg.model.n_heads)}' for h in range(1, tiny_cfg.model.n_heads + 1))} here)" in text


def test_cost_comes_from_the_benchmark_file_and_says_so_when_there_is_none(inputs):
    text = report.build_report(inputs)
    cost = text[text.index("## Cost\n"):text.index("## Pros and cons")]
    assert "Measured by `make bench` (cpu, test cpu" in cost and "| x0.25 |" in cost
    assert "Native bf16 CPU flags: none; `runtime.dtype: auto` trains in float32 here." in cost
    assert "not those of the machine that trained them" not in cost  # trained in float32, as auto would here
    bf16 = {k: {"summary": {**v["summary"], "dtype": "bfloat16"}} for k, v in inputs.trains.items()}
    other = report.build_report(report.Inputs(**{**inputs.__dict__, "trains": bf16}))
    assert "were trained in bfloat16; `runtime.dtype: auto` would train them in float32 on this benchmark's " \
           "CPU" in other
    bare = report.build_report(report.Inputs(**{**inputs.__dict__, "profile": None}))
    assert "No cost benchmark in this checkout" in bare and "no cost benchmark yet" in bare
    assert "trained in float32" in bare and "min of wall time" not in bare


def test_cost_over_rounds_gives_each_overhead_its_range_and_names_those_within_noise(inputs):
    assert "One round: each overhead is a single measurement" in report.build_report(inputs)
    prof = copy.deepcopy(inputs.profile)
    prof["rounds"] = 3
    for pe, m in prof["models"].items():
        for r in m["lengths"].values():
            r["train_overhead_range"] = [1.0, 1.0] if pe == "nope" else [0.9, 1.3]
    prof["models"]["rope"]["lengths"]["32"]["train_overhead_range"] = [1.5, 1.9]
    text = report.build_report(report.Inputs(**{**inputs.__dict__, "profile": prof}))
    cost = text[text.index("## Cost\n"):text.index("## Pros and cons")]
    assert "median of 2 repetitions in each of 3 interleaved rounds, then the median over the rounds" in cost and "| x1.70 (1.50-1.90) |" in cost
    assert "largest training overhead is rope's: x1.70 (1.50-1.90 over 3 rounds) the baseline's" in cost
    pick = text[text.index("## Which encoding to pick"):]  # a range that holds x1.00 is said to show no overhead
    assert "(0.90-1.30 over 3 rounds; the range holds x1.00: no overhead beyond the rounds' spread)" in pick
    prof["models"]["alibi"]["lengths"]["16"]["train_overhead_range"] = [0.8, 0.9]
    text = report.build_report(report.Inputs(**{**inputs.__dict__, "profile": prof}))
    sides = next(line for line in text.splitlines() if line.startswith("- Slower than the baseline"))
    assert "in all 3 rounds: at 32, rope. Faster in all 3: at 16, alibi. Every other" in sides
    assert "one time in 4: of the 8 overheads here, about 2 would by chance alone, and 2 do" in sides
    assert "One round" not in cost and "measured at" not in cost  # bf16 at every length: no note
    prof["bf16_lengths"] = [16]
    text = report.build_report(report.Inputs(**{**inputs.__dict__, "profile": prof}))
    assert "GFLOP/s here); bf16 autocast measured at 16 only. Big-O" in text


def test_setup_says_how_many_test_reviews_were_scored(inputs):
    setup = report.build_report(inputs).split("## Synthetic tasks")[0]
    assert "12 test reviews, of which a stratified 9 are scored (`imdb.test_reviews`)" in setup  # 3 buckets x 3
    results = copy.deepcopy(inputs.results)
    results["imdb_data"]["test_reviews"] = 9
    every = report.build_report(report.Inputs(**{**inputs.__dict__, "results": results})).split("## Synthetic")[0]
    assert "9 test reviews, BPE" in every and "stratified" not in every
    assert f"{inputs.cfg.imdb.epochs} epoch{'s' if inputs.cfg.imdb.epochs != 1 else ''}, AdamW" in setup


def test_imdb_sentences_claim_a_change_only_where_the_paired_test_backs_it(inputs):
    tests = {pe: {"test": "McNemar", "p": 0.3 if pe == "alibi" else 1e-6, "n": 12} for pe in PES}
    text = report.build_report(report.Inputs(**{**inputs.__dict__, "imdb_tests": tests}))
    assert "- alibi: 80.0 % at 16, is within noise at 32 (85.0 %, +5.0 points; McNemar p = 0.3 on the same 12 " \
           "reviews, one model)" in text
    assert "- learned: 80.0 % at 16, loses 20.0 points at 32 (60.0 %; McNemar p = 1.0e-06" in text
    assert "it is within noise at 32" in section(text, "alibi")


def test_verdict_rules():
    assert verdicts.verdict(1.0, 0.95)[0] == "keeps its accuracy"
    assert verdicts.verdict(1.0, 0.6)[0] == "degrades"
    assert verdicts.verdict(1.0, 0.1)[0] == "collapses"
    assert verdicts.verdict(1.0, 0.9, NAN)[0].startswith("breaks down")
    assert math.isclose(verdicts.verdict(0.8, 0.4)[1], 0.5)
    assert verdicts.verdict(0.044, 0.018)[0] == "not learned"  # under COLLAPSE at the training length
    assert verdicts.verdict(0.044, 0.018, NAN)[0].startswith("breaks down")
    assert verdicts.exact_verdict(0.9, 0.85)[0] == "holds"
    assert verdicts.exact_verdict(0.4, 0.1)[0] == "collapses"  # a low exact match at 256 is still a score
    assert verdicts.exact_verdict(0.8, 0.5) == ("degrades", 0.625)
    assert verdicts.exact_verdict(0.0, 0.0)[0] == "is 0 already"


def test_a_task_not_learned_at_the_training_length_is_not_called_a_collapse(inputs):
    results = copy.deepcopy(inputs.results)
    results["tasks"]["copy"]["nope"].update(acc_16=0.3, acc_32=0.1)
    text = report.build_report(report.Inputs(**{**inputs.__dict__, "results": results}))
    nope = section(text, "nope")
    assert "at 32: the task was not learned at 16 (token accuracy under 50%), so the longer lengths test no " \
           "extrapolation." in nope
    assert "| 10.0 % / 0.0 %: not learned at 16 |" in text


def test_exact_match_has_its_own_verdict_beside_token_accuracy(inputs):
    # token accuracy can hold while exact match collapses (a content rule scores near 100 % of tokens)
    text = report.build_report(inputs)
    assert "| 97.0 % / 0.0 %: exact match collapses |" in text
    results = copy.deepcopy(inputs.results)
    results["tasks"]["copy"]["alibi"]["exact_32"] = 0.93
    results["tasks"]["copy"]["learned"]["exact_16"] = 0.0
    text = report.build_report(report.Inputs(**{**inputs.__dict__, "results": results}))
    assert "| 97.0 % / 93.0 %: exact match holds |" in text
    assert "its exact match holds (98% of its 16-token value)" in section(text, "alibi")
    assert "its exact match is 0 at 16 already; matching the last 3 tokens" in section(text, "learned")
    assert "| 5.0 % / 0.0 %: exact match 0 at 16 |" in text


def test_no_head_is_said_to_read_the_source_when_none_attends_to_it(inputs):
    probes = copy.deepcopy(inputs.probes)
    for L in ("16", "24", "32"):
        probes["copy_nope"]["attention"][L]["source_mass"] = [[0.01, 0.02]]
    text = report.build_report(report.Inputs(**{**inputs.__dict__, "probes": probes}))
    assert ("No head reads the source token to copy at 16: the largest weight on it is 0.02 (layer 0 head 1), "
            "under 0.25.") in section(text, "nope")
    assert "Heads that read the source token" not in section(text, "nope")
    assert "Heads that read the source token" in section(text, "alibi")


def test_cost_columns_follow_numeric_length_order(inputs):
    # profile.json is written with sorted keys, so "128" comes before "16" as text
    prof = copy.deepcopy(inputs.profile)
    for m in prof["models"].values():
        m["lengths"] = {L: dict(m["lengths"]["16"]) for L in ("128", "16", "32")}
    text = report.build_report(report.Inputs(**{**inputs.__dict__, "profile": prof}))
    cost = text[text.index("## Cost\n"):text.index("## Pros and cons")]
    header = next(line for line in cost.splitlines() if line.startswith("| PE"))
    assert header.index("@16 ") < header.index("@32 ") < header.index("@128 ")
    assert "peak mem @128" in header


def test_where_each_classifier_looks_is_reported_from_its_review_maps_in_numbers_only(inputs):
    assert "imdb_attention.png" not in report.build_report(inputs)  # no review maps: no sentence
    for pe in PES:
        inputs.probes[f"imdb_{pe}"]["review_maps"] = {
            name: {"index": 3, "length": 300, "read_at": 256 if name != "long" else 1024, "label": 1,
                   "p_positive": 0.875, "window_start": 10, "top_token_position": 42 if pe == "alibi" else 7}
            for name in ("positive", "negative", "ambiguous", "long")}
    text = report.build_report(inputs)
    assert "`reviews/imdb_attention.png`" in text
    assert "- alibi: positive 42/256 (P(positive) 0.88); negative 42/256" in text
    assert "long 7/300 (P(positive) 0.88)." in text


def test_where_the_errors_are_is_read_in_each_pe_section_at_the_training_length(inputs):
    """reporting/errors.py's rows in results.json become one line of the PE's section; none without them."""
    assert "Where the errors are" not in report.build_report(inputs)
    late = {"span": [1.0] * 7 + [0.4], "span_ci": [[0.99, 1.0]] * 7 + [[0.3, 0.5]], "wrong_per_seq": 0.6,
            "pair_share": 0.01, "errors_at_pairs": 0.01, "errors_at_pairs_ci": [0.0, 0.03]}
    pairs = {**late, "span": [0.99] * 8, "span_ci": [[0.98, 1.0]] * 8, "errors_at_pairs": 0.5,
             "errors_at_pairs_ci": [0.3, 0.7]}
    results = copy.deepcopy(inputs.results)
    results["errors"] = {"copy": {"learned": {"16": late}, "alibi": {"16": pairs, "32": late}}}
    text = report.build_report(report.Inputs(**{**inputs.__dict__, "results": results}))
    assert "Where the errors are (copy at 16, 0.60 wrong targets per sequence)" in section(text, "learned")
    assert "lower on the last eighth than on the first" in section(text, "learned")
    assert "signature of copying by content" in section(text, "alibi") and "lower on" not in section(text, "alibi")
    assert "Where the errors are" not in section(text, "rope")


def test_a_blank_task_beside_its_teacher_forced_one_gets_the_two_formats_compared(inputs):
    assert "the two formats" not in report.build_report(inputs)  # the default trains one format
    results = copy.deepcopy(inputs.results)
    results["tasks"]["copy_blank"] = copy.deepcopy(results["tasks"]["copy"])
    results["tasks"]["copy_blank"]["rope"]["exact_16"] = 0.25
    text = report.build_report(report.Inputs(**{**inputs.__dict__, "results": results}))
    line = next(x for x in text.splitlines() if "copy and copy_blank, the two formats" in x)
    assert "rope 95.0 % [93.0 %, 97.0 %] vs 25.0 % [93.0 %, 97.0 %]" in line  # the interval of each row as stored
    assert "copy vs copy_blank, exact match at 16: one model per PE and format (1 seed)" in text


def test_a_shorter_trained_length_below_the_training_one_is_named(inputs):
    # the learned PE copies 95 % at 16 but 10 % at 8, a length it trained on; alibi is higher at 8, never a "dip"
    syn = dataclasses.replace(inputs.cfg.synthetic, curve_lengths=(8, 24), eval_size=256)
    cfg = dataclasses.replace(inputs.cfg, synthetic=syn)
    results = copy.deepcopy(inputs.results)
    for pe, v in (("learned", 0.1), ("alibi", 0.99), ("rope", 0.93)):  # rope: 2 points lower, within noise
        results["tasks"]["copy"][pe]["per_seed"]["exact_8"] = [v]
    text = report.build_report(report.Inputs(**{**inputs.__dict__, "cfg": cfg, "results": results}))
    line = next(x for x in text.splitlines() if x.startswith("- copy, lower at a shorter length"))
    assert "(exact match, beyond noise; the lowest such): learned 10.0 % at 8 against 95.0 %." in line
    assert "alibi" not in line and "rope" not in line
    assert "- duplicate, lower at a shorter length" not in text
    assert verdicts.shorter_dip([0.95, 0.9, 0.97], {8: [0.5, 0.6, 0.55], 12: [0.94, 0.9, 0.96]}, 256) == (8, 0.55)
    # the lowest of several shorter lengths is picked after the fact: a dip at p = 0.04 counts alone, not among three
    assert verdicts.sample_p(0.90, 0.84, 256) < 0.05
    assert verdicts.shorter_dip([0.90], {8: [0.84]}, 256) == (8, 0.84)
    assert verdicts.shorter_dip([0.90], {8: [0.84], 12: [0.95], 16: [0.95]}, 256) is None


def test_extrapolation_along_training_is_read_from_the_tracked_scores(inputs):
    def track(series):  # one seed, three tracked steps, exact match at 32 (the longer evaluation length)
        return {"step": [100, 200, 300], "exact_32": series, "per_seed": {"exact_32": [series]}}

    series = {"alibi": [0.1, 0.8, 0.2], "rope": [0.0, 0.3, 0.5], "sinusoidal": [0.5, 0.55, 0.5],
              "learned": [0.0, 0.0, 0.0], "nope": [0.0, 0.0, 0.0]}
    results = copy.deepcopy(inputs.results)
    results["tracking"] = {"copy": {pe: track(v) for pe, v in series.items()}}
    cfg = dataclasses.replace(inputs.cfg, train=dataclasses.replace(inputs.cfg.train, track_size=64))
    text = report.build_report(report.Inputs(**{**inputs.__dict__, "cfg": cfg, "results": results}))
    line = next(x for x in text.splitlines() if x.startswith("- copy, exact match along training"))
    assert "highest at the last step: rope 50.0 %" in line
    assert "falls from its peak beyond noise: alibi 80.0 % at step 200 -> 20.0 %" in line  # 64 sequences: far apart
    assert "below its peak at the end, within noise: sinusoidal 55.0 % at step 200 -> 50.0 %" in line
    assert "0 at every step: learned, nope" in line and "No PE's exact match" not in line
    # with seeds, a drop counts when its t interval over seeds excludes 0
    # with seeds, a drop must pass both the seeds' paired t-test and the tracked sequences' sample noise
    def seeds(*runs):
        return {"step": list(range(len(runs[0]))), "exact_32": list(np.mean(runs, axis=0)),
                "per_seed": {"exact_32": [list(r) for r in runs]}}

    assert verdicts.course(seeds([0.6, 0.4], [0.8, 0.4], [0.4, 0.4]), "exact_32", 64)[4] > 0.05  # seeds disagree
    assert verdicts.course(seeds([0.6, 0.4], [0.7, 0.5], [0.5, 0.3]), "exact_32", 64)[4] < 0.05  # 0.2 each time
    assert verdicts.course(seeds([0.61, 0.59], [0.71, 0.69], [0.51, 0.49]), "exact_32", 64)[4] > 0.05  # sample noise
    two = verdicts.course(seeds([0.6, 0.4], [0.7, 0.5], [0.5, 0.3]), "exact_32", 64)[4]
    four = verdicts.course(seeds([0.6, 0.5, 0.5, 0.4], [0.7, 0.6, 0.6, 0.5], [0.5, 0.4, 0.4, 0.3]), "exact_32", 64)[4]
    assert four == pytest.approx(3 * two)  # the peak picked from 3 earlier steps, not 1: its p counts 3 times

def test_imdb_sentences_say_where_the_changed_predictions_go_against_the_positionless_classifier(inputs):
    label = "0" * 30 + "1" * 30
    ways = {"learned": ("1" * 20 + "0" * 40, "0" * 60),  # 20 to negative: pushed one way
            "nope": ("1" * 10 + "0" * 50, "0" * 10 + "1" * 10 + "0" * 40)}  # 10 each way: the text alone
    evals = {(pe, 0): {str(L): {"per_review": {"pred": p, "label": label}} for L, p in zip((16, 32), ways.get(
        pe, (label, label)))} for pe in PES}
    text = report.build_report(report.Inputs(**{**inputs.__dict__,
                                                "imdb_leans": paired.lean_tests(evals, 16, 32)}))
    imdb = text.split("## IMDb")[1].split("## Stability")[0]
    assert "the 20 predictions that change between 16 and 32 go 20 to negative and 0 to positive" in imdb
    assert "the 20 predictions that change between 16 and 32 go 10 to negative and 10 to positive" in imdb
    assert "(85.0 %); no prediction changes between 16 and 32; on the" in imdb  # alibi: same verdicts at both
    assert "nope, which has no position signal, sends 50.0 % of its changed predictions" in imdb
    assert "(Fisher's exact test on the counts per class): learned (100.0 %) differs from it beyond noise" in imdb
    assert "more go to negative beyond noise" in section(text, "learned")
