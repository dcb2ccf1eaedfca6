"""REPORT.md: the comparison, written from the pipeline's own artifacts.

Every sentence that states an outcome is generated here from the numbers
(results.json, the training summaries, the probes, and bench/profile.json when
`make bench` wrote one); the verbs follow fixed rules (`verdicts.py`), so a change of
numbers changes the text and no stale sentence survives. The prose about how each
encoding works comes from the PE's own class (`theory`, nn/pe/<name>.py) and states
no result.
"""

from __future__ import annotations

from dataclasses import dataclass

from posenc.config import Config
from posenc.data import synthetic
from posenc.nn.pe import pe_class
from posenc.nn.pe.base import Dims, Theory
from posenc.reporting import distance, errors_text, paired, recommend
from posenc.reporting.claims import comparisons, format_pairs, sentence
from posenc.reporting.formats_text import format_lines, length_draw
from posenc.reporting.results import key
from posenc.reporting.review_text import review_lines
from posenc.reporting.sweep import sweep_section
from posenc.reporting.tables import _bounds, cost_table, imdb_markdown, synthetic_markdown
from posenc.reporting.verdicts import (copy_heads, course_lines, finite, length_clause, pct, reference_length,
                                      shorter_dip, table_cell)


def theory(pe: str) -> Theory:
    """A PE's prose, owned by its class (nn/pe/<name>.py)."""
    return pe_class(pe).theory


def mechanism(cfg: Config, pe: str, fill: dict[str, int]) -> str:
    """The PE's mechanism paragraph with the lengths and its own derived values (e.g. ALiBi's slopes) filled in."""
    cls, m = pe_class(pe), cfg.model
    dims = Dims(m.d_model, m.n_heads, m.max_positions, cfg.synthetic.train_max_len)
    own = cls.theory_fill(cls.parse_params(cfg.pe.get(pe), f"pe.{pe}", dims), dims)
    return cls.theory.mechanism.format(**fill, **own)

@dataclass(frozen=True)
class Inputs:
    cfg: Config
    results: dict  # metrics/results.json
    profile: dict | None  # bench/profile.json (`make bench`), None when there is none
    trains: dict[str, dict]  # "<task>_<pe>" and "imdb_<pe>" -> metrics/train/*.json of the first seed
    probes: dict[str, dict]  # same names -> metrics/probe/*.json of the first seed
    figures: tuple[str, ...]  # PNG names present in figures/
    study_parts: str = ""  # the section on the study's committed parts (reporting/study_parts.py), if any
    study_pick: str = ""  # the pick with the study's seeds (reporting/study_pick.py), if any parts
    study_profile: dict | None = None  # study/profile.json: the cost of every PE of the study, if measured
    imdb_tests: dict | None = None  # IMDb row -> paired.length_change at its longest length vs the training one
    imdb_leans: dict | None = None  # IMDb row -> paired.lean_tests per seed: where its changed predictions go


def num(x, fmt: str = ".3g") -> str:
    return format(x, fmt) if finite(x) else "NaN"


def figure(inp: Inputs, name: str, caption: str) -> str:
    return f"![{caption}](figures/{name})\n\n*{caption}*\n" if name in inp.figures else ""


# ---------------------------------------------------------------- sections

def setup(inp: Inputs) -> str:
    cfg, m, t, s, i = inp.cfg, inp.cfg.model, inp.cfg.train, inp.cfg.synthetic, inp.cfg.imdb
    head = s.headline_task
    n_params = {pe: inp.trains[f"{head}_{pe}"]["summary"]["n_params"] for pe in cfg.pes}
    dtypes = sorted({tr["summary"].get("dtype", "float32") for tr in inp.trains.values()})
    d = inp.results.get("imdb_data", {})
    prof = inp.profile or {}
    return "\n".join([
        "## Setup", "",
        f"- **Model** (every PE): {m.n_layers} pre-norm blocks, d_model {m.d_model}, {m.n_heads} heads of size "
        f"{m.d_model // m.n_heads}, FFN x{m.ffn_mult} with GELU, {m.norm}, dropout {m.dropout} "
        f"(IMDb classifier: {i.dropout}). Parameters of the {head} LMs: "
        + ", ".join(f"{pe} {n:,}" for pe, n in n_params.items()) + ".",
        f"- **Synthetic data**: content tokens 0..{s.vocab_size - 1} plus SEP and PAD; a training pool of "
        f"{s.train_size:,} source sequences per task (length up to {s.train_max_len} tokens), "
        f"{s.val_size} validation sequences at {s.train_max_len} (learning speed), {s.eval_size} test sequences "
        f"per length at {', '.join(map(str, sorted(set(s.eval_lengths) | set(s.curve_lengths) | set(s.far_lengths))))}.",
        f"- **Synthetic recipe**: AdamW lr {t.lr}, weight decay {t.weight_decay}, {t.batch_size} sequences a "
        f"step, warmup {t.warmup_frac:.0%} then cosine over exactly {t.max_steps} steps for every model (equal "
        f"budget, no early stop), clip {t.grad_clip}, length curriculum {t.curriculum_start_len} -> "
        f"{s.train_max_len} tokens over {t.curriculum_steps} steps, then {length_draw(t.long_share)}. Every {t.check_every} steps the validation "
        f"set is scored: the first step with token accuracy >= {t.solved_acc} and with exact match >= "
        f"{t.solved_exact} measure learning speed, and nothing stops.",
        f"- **IMDb**: {d.get('train_reviews', '?')} train / {d.get('val_reviews', '?')} validation / "
        f"{d.get('test_reviews', '?')} test reviews{scored_share(inp)}, BPE vocabulary "
        f"{d.get('vocab_size', i.tokenizer_vocab)}; "
        f"training inputs keep the {'last' if i.truncation == 'tail' else 'first'} {i.train_max_len} tokens "
        f"of a review ({i.truncation} truncation, also used at test time); {i.epochs} "
        f"epoch{'s' if i.epochs != 1 else ''}, AdamW lr {i.lr}, "
        f"batch {i.batch_size}; the weights with the best validation loss are kept.",
        f"- **Seeds** {', '.join(map(str, cfg.seeds))} (one model per PE and seed; data seed {cfg.seed}); "
        f"trained in {', '.join(dtypes)}. Intervals: {inp.results.get('interval', 'none')}"
        + (f"; cost measured by `make bench` on {prof.get('device_name', '?')} (native bf16: "
           f"{', '.join(prof.get('native_bf16', [])) or 'none'}; torch {prof.get('torch', '?')}, "
           f"{prof.get('threads', '?')} threads)." if prof else "; no cost benchmark yet (`make bench`)."),
        "- **Reproduce**: `IMDB_ARCHIVE=/path/to/aclImdb_v1.tar.gz make repro` (or `dvc repro`); every number "
        "below is rebuilt from `params.yaml`, and this file by the `report` stage.", ""])


def scored_share(inp: Inputs) -> str:
    """', of which a stratified N are scored' when the evaluation scored a subset of the test split
    (imdb.test_reviews), counted from the length buckets the evaluation wrote; '' when it scored all."""
    total = inp.results.get("imdb_data", {}).get("test_reviews")
    buckets = next(iter(next(iter(inp.results.get("imdb_buckets", {}).values()), {}).values()), {})
    scored = sum(b["n"] for b in buckets.values())
    return f", of which a stratified {scored:,} are scored (`imdb.test_reviews`)" if total and 0 < scored < total else ""


def interval(row: dict, k: str) -> str:
    lo, hi = row.get("ci", {}).get(k, (float("nan"), float("nan")))
    return f"{pct(row[k])} [{pct(lo)}, {pct(hi)}]" if finite(lo) and finite(hi) else pct(row[k])


def baseline_sentence(inp: Inputs, task: str, L: int) -> str:
    """Whether each PE's exact match at L beats the 3-token content-matching rule (its interval above it)."""
    base = inp.results.get("baselines", {}).get(task)
    if not base or str(L) not in base["lookup3"]:  # the rules are run at eval_lengths (not far_lengths)
        return ""
    b3, b2 = base["lookup3"][str(L)]["exact"], base["lookup2"][str(L)]["exact"]
    verdicts = {"above": [], "below": [], "within": []}
    for pe, row in inp.results["tasks"][task].items():
        lo, hi = row["ci"][key("exact", L)]
        verdicts["above" if lo > b3 else "below" if hi < b3 else "within"].append(pe)
    words = {"above": ("beats", "beat"), "below": ("is below", "are below"),
             "within": ("is not distinguishable from", "are not distinguishable from")}
    said = "; ".join(f"{', '.join(pes)} {words[k][len(pes) > 1]} {'the 3-token rule' if i == 0 else 'it'}"
                     for i, (k, pes) in enumerate((k, p) for k, p in verdicts.items() if p))
    return (f"- {task} at {L}: content matching without positions scores {pct(b2)} exact match (last 2 tokens) "
            f"and {pct(b3)} (last 3 tokens); by its own 95 % interval, {said}.")


def in_range_dips(inp: Inputs, task: str) -> list[str]:
    """The trained PEs whose exact match at a shorter length they trained on is lower than at the training
    length, beyond noise (verdicts.shorter_dip): their numbers past it extrapolate from a model that does not
    do the task at every length it saw."""
    s, ref = inp.cfg.synthetic, reference_length(inp.cfg.synthetic.eval_lengths, inp.cfg.synthetic.train_max_len)
    low = []
    for pe in inp.cfg.pes:  # trained models only (an evaluation variant is its PE's model up to ref)
        per = inp.results["tasks"][task][pe]["per_seed"]
        shorter = {L: per[key("exact", L)] for L in s.curve_lengths if L < ref and key("exact", L) in per}
        at_ref = per[key("exact", ref)]
        if dip := shorter_dip(at_ref, shorter, s.eval_size):
            low.append(f"{pe} {pct(dip[1])} at {dip[0]} against {pct(sum(at_ref) / len(at_ref))}")
    if not low:
        return []
    return [f"- {task}, lower at a shorter length it trained on than at {ref} (exact match, beyond noise; the lowest "
            f"such): {', '.join(low)}. Their numbers past {ref} extrapolate from a model that does not do the task "
            "at every length it trained on (docs/recipe.md, 'What the lever costs inside the training range'; "
            "why: 'Once per length')."]


def learning_speed(inp: Inputs, task: str) -> str:
    t = inp.cfg.train
    parts = []
    for pe in inp.cfg.pes:  # trained models only (an evaluation variant has its PE's training)
        row = inp.results["tasks"][task][pe]
        steps = ["never" if x is None else str(x) for x in row["first_step_exact"]]
        parts.append(f"{pe} {'/'.join(steps)}")
    return (f"- {task}, first step with validation exact match >= {t.solved_exact} (per seed): "
            + ", ".join(parts) + ".")


def synthetic_section(inp: Inputs) -> str:
    s, T = inp.cfg.synthetic, inp.cfg.synthetic.train_max_len
    first = next(iter(inp.results["tasks"][s.headline_task].values()))
    longer = [L for L in (*s.eval_lengths, *s.far_lengths) if L > T and key("exact", L) in first]  # far: if scored
    comps = comparisons(inp.results, longer, formats_at=(T, *longer))
    lines = ["## Synthetic tasks: accuracy vs length", "",
             f"Teacher-forced token accuracy on target positions and exact match of whole sequences (one wrong "
             f"token fails a sequence; teacher-forced and free-running exact match are the same). Models saw at "
             f"most {T} tokens in training. Token accuracy flatters a copy task: content matching alone scores "
             f"near 100 % of it, so exact match is the measure.", "", synthetic_markdown(inp.results)]
    for task, per_pe in inp.results["tasks"].items():
        unsolved = [pe for pe, row in per_pe.items() if row.get("solved") is False]
        lines.append(f"- {task}: " + (f"**not solved at {T}** (mean exact match < {inp.cfg.train.solved_exact}) by "
                                      f"{', '.join(unsolved)}: their numbers at longer lengths extrapolate from a "
                                      "model that has not learned the task." if unsolved else
                                      f"every PE solves the task at {T} (mean exact match >= "
                                      f"{inp.cfg.train.solved_exact})."))
        lines += in_range_dips(inp, task)
        tracked = inp.results.get("tracking", {}).get(task, {})
        lines += course_lines(task, {pe: tracked[pe] for pe in inp.cfg.pes if pe in tracked}, inp.cfg)
        lines.append(learning_speed(inp, task))
        for L in (T, *longer):
            lines.append(baseline_sentence(inp, task, L))
        for L in longer:
            for metric in ("exact", "acc"):
                lines.append(f"- {sentence(inp.results, comps, task, metric, L)}")
    for base, blank in format_pairs(inp.results):
        lines += format_lines(inp.results, comps, base, blank, [T, *longer], interval)
    lines += ["", figure(inp, "accuracy_vs_length.png", "Token accuracy and exact match vs length, mean over seeds "
                                                        "with 95 % bands; dashed: content-matching rules"),
              figure(inp, "extrapolation_vs_step.png", "Extrapolation along training: scores at each evaluation "
                                                        "length against the training step"),
              figure(inp, "errors_along_span.png", "Where the errors are: token accuracy on each eighth of the "
                                                   "target span (each PE's section reads it at the training length)"),
              figure(inp, "training_loss.png", "Training loss per step (rolling mean of 5 logged steps)")]
    return "\n".join(line for line in lines if line is not None)


def imdb_change(inp: Inputs, name: str, T: int, L: int) -> str:
    """How the accuracy changes from T to L, and where the predictions that change go (when the leans were read)."""
    change = paired.change_text(inp.results["imdb"][name], T, L, (inp.imdb_tests or {}).get(name), pct)
    leans = (inp.imdb_leans or {}).get(name)
    return f"{change}; {paired.lean_text(leans, T, L)}" if leans else change


def longest_bucket(inp: Inputs, pe: str, L: int) -> tuple[str, dict]:
    buckets = inp.results["imdb_buckets"][pe][str(L)]
    name = max(buckets, key=lambda b: _bounds(b)[0])
    return name, buckets[name]


def imdb_section(inp: Inputs) -> str:
    i = inp.cfg.imdb
    T, L = reference_length(i.eval_lengths, i.train_max_len), max(i.eval_lengths)
    lines = ["## IMDb: real text", "",
             f"Test reviews truncated at L tokens ({i.truncation} truncation); reviews shorter than L are "
             "unchanged, so a longer L only changes the long reviews. A classifier that only gets noisier on "
             "the longer inputs changes its predictions both ways about equally; one whose changed predictions "
             "go mostly to one class is pushed towards that class by the longer input (a two-sided sign test "
             "at 1/2 on the changed predictions).", "", imdb_markdown(inp.results)]
    for pe, row in inp.results["imdb"].items():
        name, b_long = longest_bucket(inp, pe, L)
        _, b_short = longest_bucket(inp, pe, T)
        lines.append(f"- {pe}: {pct(row[key('acc', T)])} at {T}, {imdb_change(inp, pe, T, L)}; on the {b_long['n']} "
                     f"reviews of {name} tokens {pct(b_short['acc'])} at {T} and {pct(b_long['acc'])} at {L}.")
    ref = paired.positionless(inp.cfg.pes, inp.imdb_leans or {})
    if ref:
        lines.append(f"- {paired.reference_text(inp.imdb_leans, ref, T, L)}")
    lines += ["", figure(inp, "imdb_vs_length.png", "IMDb accuracy and loss vs truncation length, and where the "
                                                  "predictions that change with the longer input go")]
    return "\n".join(lines + review_lines(inp))


def stability_section(inp: Inputs) -> str:
    L = max(inp.cfg.probe.lengths)
    head = ["model", "PE", f"last-layer mean grad norm @{L}", f"probe loss @{L}", "max eval loss", "NaN values"]
    lines = ["## Stability", "",
             f"Gradients on a fixed batch of {inp.cfg.probe.batch_size} sequences (reviews for IMDb) at "
             f"{', '.join(map(str, inp.cfg.probe.lengths))} tokens; the mean gradient norm of a layer is the "
             "mean of ||dL/dW|| over its weight tensors. A NaN run is recorded, never a crash, and scored 0.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    nan_runs = []
    for task, per_pe in inp.results["stability"].items():
        for pe, st in per_pe.items():
            grad, loss = st[key("grad_norm_last_layer", L)], st[key("probe_loss", L)]
            lines.append(f"| {task} | {pe} | {num(grad)} | {num(loss)} "
                         f"| {num(st['max_loss'])} | {st['nan_count']} |")
            if st["nan"]:
                nan_runs.append(f"{task}/{pe}")
    lines += ["", ("- Runs with NaN or inf values: " + ", ".join(nan_runs) + " (their accuracies are scored 0)."
                   if nan_runs else "- No run produced a NaN or inf loss or gradient."), "",
              figure(inp, "grad_norms.png", f"Gradient norm per component, {inp.cfg.synthetic.headline_task} task"),
              figure(inp, "grad_norms_imdb.png", "Gradient norm per component, IMDb classifiers")]
    return "\n".join(lines)


def cost_section(inp: Inputs) -> str:
    prof = inp.profile
    if not prof:
        return ("## Cost\n\nNo cost benchmark in this checkout: `make bench` measures every PE's throughput and "
                "memory (float32 and bf16) and writes bench/profile.json, which this section then reports.\n")
    T = inp.cfg.synthetic.train_max_len
    lines = ["## Cost", "", *cost_table(prof, T, "`make bench`")]
    trained = sorted({tr["summary"].get("dtype", "float32") for tr in inp.trains.values()})
    if prof.get("auto_dtype") and trained != [prof["auto_dtype"]]:
        lines += [f"- The models of this report were trained in {', '.join(trained)}; `runtime.dtype: auto` would "
                  f"train them in {prof['auto_dtype']} on this benchmark's CPU, so these costs are that CPU's, not "
                  "those of the machine that trained them."]
    if inp.study_profile:
        lines += ["", "### Every PE of the study", "",
                  *cost_table(inp.study_profile, T, "`make bench-study`")]
    return "\n".join(lines) + "\n"


def recommend_section(inp: Inputs) -> str:
    s = inp.cfg.synthetic
    comps = comparisons(inp.results, [L for L in s.eval_lengths if L > s.train_max_len])
    default = recommend.section(inp.results, comps, list(inp.cfg.pes), inp.profile, s.train_max_len,
                                inp.cfg.train.solved_exact)
    return default + ("\n" + inp.study_pick if inp.study_pick else "")


def pros_cons_section(inp: Inputs) -> str:
    s = inp.cfg.synthetic
    L = max(s.eval_lengths)
    lines = ["## Pros and cons", "", f"| PE | pros | cons | measured: {s.headline_task} @{L}, token acc / exact match | IMDb @{L} |",
             "|---|---|---|---|---|"]
    for pe in inp.cfg.pes:
        th, row = theory(pe), inp.results["tasks"][s.headline_task][pe]
        ref = reference_length(s.eval_lengths, s.train_max_len)
        cell = table_cell((row[key("acc", ref)], row[key("acc", L)]), (row[key("exact", ref)], row[key("exact", L)]),
                          row[key("loss", L)], ref)
        lines.append(f"| {pe} | {'; '.join(th.pros)} | {'; '.join(th.cons)} | {cell} "
                     f"| {pct(inp.results['imdb'][pe][key('acc', L)])} |")
    return "\n".join(lines) + "\n"


def probe_sentences(inp: Inputs, pe: str) -> list[str]:
    s = inp.cfg.synthetic
    T, L = reference_length(s.eval_lengths, s.train_max_len), max(s.eval_lengths)
    probe = inp.probes[f"{s.headline_task}_{pe}"]
    att = probe["attention"]
    out = []
    last = len(att[str(T)]["entropy_norm"]) - 1
    out.append(f"The last layer's attention entropy is {num(att[str(T)]['entropy_norm'][last], '.2f')} of a uniform "
               f"attention's at {T} and {num(att[str(L)]['entropy_norm'][last], '.2f')} at {L} (each query's entropy "
               "over the log of the number of keys it sees, averaged: 0 = all on one key, 1 = uniform).")
    if att[str(T)].get("source_mass"):
        out.append(copy_heads(att[str(T)]["source_mass"], att[str(L)]["source_mass"], T, L, num))
    dist = probe.get("distance")
    if dist:
        row = inp.results["tasks"][s.headline_task][pe]
        evaluation = {x: {"exact": row[key("exact", x)], "ci": row["ci"][key("exact", x)], "acc": row[key("acc", x)]}
                      for x in s.eval_lengths if x > s.train_max_len}
        T_probe = synthetic.total_length(s.headline_task, synthetic.n_for_length(s.headline_task, s.train_max_len))
        out.append(distance.sentence(dist, pct, T_probe, evaluation))  # the probe's sequences: the validation set's
    g = probe["gradients"]
    gl = f"layer{last}"
    Ls = sorted(int(x) for x in g)
    g0, g1 = g[str(Ls[0])]["layer_mean_grad_norm"][gl], g[str(Ls[-1])]["layer_mean_grad_norm"][gl]
    ratio = f" (x{g1 / g0:.1f})" if finite(g0) and finite(g1) and g0 > 0 else ""
    l0, l1 = g[str(Ls[0])]["loss"], g[str(Ls[-1])]["loss"]
    out.append(f"The last layer's mean gradient norm goes from {num(g0)} at {Ls[0]} to {num(g1)} at {Ls[-1]}{ratio}, "
               f"with the probe loss going from {num(l0)} to {num(l1)}: the gradient follows the loss of wrong "
               "predictions" + (", not a divergence (every value finite)." if finite(g1) and finite(l1) else
                                "; the values are not finite."))
    return out


def pe_sections(inp: Inputs) -> str:
    cfg, s = inp.cfg, inp.cfg.synthetic
    T, L = s.train_max_len, max(max(s.eval_lengths), max(s.curve_lengths, default=0))
    ref = reference_length(s.eval_lengths, T)
    fill = {"train": T, "last": T - 1, "longest_last": L - 1}
    lines = ["## Why each encoding survives or collapses", ""]
    Lmax = max(s.eval_lengths)
    for pe in cfg.pes:
        lines += [f"### {pe}", "", f"*How it works.* {mechanism(cfg, pe, fill)}", "", "*What we measured.*", ""]
        for task, per_pe in inp.results["tasks"].items():
            row = per_pe[pe]
            rule = inp.results.get("baselines", {}).get(task, {}).get("lookup3", {}).get(str(Lmax), {})
            clause = length_clause((row[key("acc", ref)], row[key("acc", Lmax)]),
                                   (row[key("exact", ref)], row[key("exact", Lmax)]), row[key("loss", Lmax)], ref,
                                   Lmax, rule.get("exact"))
            solved = "solved" if row.get("solved") else "**not solved**"
            middle = ", ".join(f"{pct(row[key('acc', x)])} / {pct(row[key('exact', x)])} at {x}"
                               for x in s.eval_lengths if ref < x < Lmax)
            lines.append(f"- {task} (token accuracy / exact match): {pct(row[key('acc', ref)])} / "
                         f"{pct(row[key('exact', ref)])} at {ref} ({solved}, {row['train_steps']} steps); "
                         f"{middle + ', ' if middle else ''}{pct(row[key('acc', Lmax)])} / "
                         f"{pct(row[key('exact', Lmax)])} at {Lmax}: {clause}")
            where = inp.results.get("errors", {}).get(task, {}).get(pe, {}).get(str(ref))
            if where:
                lines.append(f"- {errors_text.sentence(where, task, ref, pct, s.vocab_size)}")
        irow = inp.results["imdb"][pe]
        i = cfg.imdb
        iref = reference_length(i.eval_lengths, i.train_max_len)
        change = imdb_change(inp, pe, iref, max(i.eval_lengths))
        lines.append(f"- IMDb: {pct(irow[key('acc', iref)])} at {iref}; it {change}.")
        lines += [f"- {x}" for x in probe_sentences(inp, pe)]
        lines.append("")
    copy = inp.cfg.synthetic.headline_task == "copy"  # the maps of another headline task only say they are absent
    lines += [figure(inp, "attention_maps.png", "The same copy example: each PE's copy head at the training "
                                                "length and at the longest") if copy else "",
              figure(inp, "attention_entropy.png", "Attention entropy per layer vs length, and the copy head's "
                                                   "weight on the source token"),
              figure(inp, "attention_entropy_imdb.png", "IMDb: attention entropy per layer vs length")]
    return "\n".join(lines)


def build_report(inp: Inputs) -> str:
    parts = ["# Positional encodings and length extrapolation: report",
             "*Generated by the `report` stage from `metrics/` and `figures/`; do not edit. Every sentence that "
             "states a result is computed from the numbers below.*",
             setup(inp), synthetic_section(inp), imdb_section(inp), stability_section(inp), cost_section(inp),
             recommend_section(inp), inp.study_parts, pros_cons_section(inp), pe_sections(inp)]
    if "lr_sweep" in inp.results:  # the study's learning-rate sweep
        parts.insert(4, sweep_section(inp.cfg, inp.results["lr_sweep"]))
    return "\n\n".join(p.strip() for p in parts if p.strip()) + "\n"
