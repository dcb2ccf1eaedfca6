"""A PE's own hyperparameters, swept on the study's recipe: train one model with some keys changed, score it.

Issue 16 asks for each remedy's params to be chosen from measurements (and the recipe to stay the
same for every PE). This trains one PE on one task exactly as the pipeline does (engine/lm.train_lm,
study/params.yaml: same model, recipe, steps and data), with keys changed (`--set`), then evaluates it
at the evaluation lengths (analysis/evaluate.evaluate_lm, every sequence), and at the shorter lengths it also
trained on (synthetic.curve_lengths below the training length: "shorter"; a model can be solved at the
training length alone, docs/study.md "Runs 3-5"). Each run is added to the
output JSON under its tag, with the CPU named, its extrapolation along training (train.track_every)
and its wall time (measured on whatever else runs on the machine: say so when you quote it).

    python bench/pe_sweep.py hard_alibi --tag w234 --set pe.hard_alibi.windows=[2,3,4] runtime.dtype=float32
    python bench/pe_sweep.py fire --tag fire_mlp10 --mlp-lr 10 --out bench/fire_copy_mlp.json  # FIRE's MLP at 10x the lr

About 5 minutes a run on a 2-core CPU. Nothing here writes to the pipeline's outputs.
"""

import argparse
import hashlib
import json
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import yaml  # noqa: E402
from time_to_accuracy import cpu_model  # noqa: E402
from torch.nn.utils import parametrize  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.analysis.errors import pair_ambiguous  # noqa: E402
from posenc.analysis.evaluate import evaluate_lm  # noqa: E402
from posenc.data import synthetic  # noqa: E402
from posenc.engine.lm import train_lm  # noqa: E402
from posenc.engine.runtime import resolve  # noqa: E402
from posenc.errors import ConfigError  # noqa: E402
from posenc.nn.checkpoint import save_model  # noqa: E402


def changed(base: config.Config, items: list[str]) -> tuple[config.Config, dict]:
    """`base` with ["pe.hard_alibi.windows=[2,3,4]", "train.lr=1e-3", ...] set (values are YAML), and the
    changes as {dotted key: value}. A key that params does not have, or a whole section, is a one-line
    error naming it."""
    d, done = config.to_dict(base), {}
    for item in items:
        key, _, value = item.partition("=")
        *path, name = key.split(".")
        node = d
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if not value or not isinstance(node, dict) or name not in node or isinstance(node[name], dict):
            raise ConfigError(f"--set {item!r}: expected key=value for a key of the params file")
        node[name] = done[key] = yaml.safe_load(value)
    d["train"]["resume_every"] = 0
    return config.from_dict(d), done


class Scaled(torch.nn.Module):
    """A parametrization: the stored tensor times `scale` (stored as the initial tensor / scale)."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, stored: torch.Tensor) -> torch.Tensor:
        return stored * self.scale

    def right_inverse(self, used: torch.Tensor) -> torch.Tensor:
        return used / self.scale


@contextmanager
def mlp_lr(scale: float):
    """While open, every model built has its PE's `mlp` (FIRE's f_theta) trained at `scale` times the learning
    rate and nothing else changed: each weight and bias is stored divided by `scale` and used multiplied by it
    (torch.nn.utils.parametrize), so the function at initialisation is the same, and Adam, whose step does not
    depend on the gradient's size, moves the used weights `scale` times as far a step."""
    import posenc.engine.lm as lm

    build = lm.build_model

    def scaled(spec):
        model = build(spec)
        if not isinstance(getattr(model.pe, "mlp", None), torch.nn.Module):
            raise ConfigError(f"--mlp-lr: {type(model.pe).__name__} has no mlp to train faster (FIRE has)")
        for layer in model.pe.mlp.modules():
            for name in ("weight", "bias") if isinstance(layer, torch.nn.Linear) else ():
                parametrize.register_parametrization(layer, name, Scaled(scale))
        return model

    lm.build_model = scaled
    try:
        yield
    finally:
        lm.build_model = build


def unscaled(model: torch.nn.Module) -> dict:
    """`model`'s state dict with every parametrization (mlp_lr's) replaced by the tensor it computes: the
    checkpoint of a faster-MLP run is then a plain model of its PE, which the pipeline's load_model
    rebuilds. (Not remove_parametrizations on a copy: the copy shares the parametrized class, and removing
    the property there would remove it from the trained model too.)"""
    state = {k: v.detach() for k, v in model.state_dict().items() if ".parametrizations." not in k}
    for prefix, module in model.named_modules():
        if parametrize.is_parametrized(module):
            for name in module.parametrizations:
                state[f"{prefix}.{name}"] = getattr(module, name).detach()
    return state


def sweep_data(task: str, folder: str = "posenc_sweep") -> Path:
    """Where a bench keeps a task's generated sets: the system's temporary folder (sweep_splits names the
    file after the params it was generated from)."""
    return Path(tempfile.gettempdir()) / folder / f"{task}.npz"


def keyed(cfg: config.Config, data: Path) -> Path:
    """`data` with a digest of params' synthetic section and data seed in its name: the sets are
    deterministic in those, so a file generated from other params is never read for these ones."""
    made_from = json.dumps([config.to_dict(cfg)["synthetic"], cfg.seed], sort_keys=True)
    return data.with_name(f"{data.stem}-{hashlib.md5(made_from.encode()).hexdigest()[:12]}{data.suffix}")


def sweep_splits(cfg: config.Config, task: str, data: Path) -> dict:
    """The task's sets, generated the first time into `data` named by keyed(), then loaded."""
    data = keyed(cfg, data)
    if not data.exists():
        data.parent.mkdir(parents=True, exist_ok=True)
        io.save_npz(data, synthetic.generate(cfg.synthetic, task, cfg.seed))
    return synthetic.load(data, task, cfg.synthetic.vocab_size)


def tagged(head: str, done: dict) -> str:
    """A run's name in its output file: `head`, then each changed params key as -key=value."""
    return head + "".join(f"-{k}={v}" for k, v in done.items())


def save(out: str, tag: str, result: dict, params: str) -> None:
    """Add `result` to the output file `out` under `tag` (merged(): a rerun of a tag replaces it)."""
    old = io.read_json(out) if Path(out).exists() else {"runs": {}}
    io.write_json(out, merged(old, tag, result, params))


ERROR_KEYS = ("n_seqs", "targets", "seq_len")  # with per_seq right / wrong_at_pairs / pairs: bench/key_collisions.py


def run(cfg: config.Config, pe: str, task: str, seed: int, data: Path, errors: bool = False, keep: str = "") -> dict:
    """Train and evaluate one model; its numbers (fractions) and wall times. `errors`: also keep each
    length's error records (where the wrong targets are, as the pipeline's evaluation records them);
    `keep`: a path to save the trained model at (nn/checkpoint.save_model, never committed)."""
    splits = sweep_splits(cfg, task, data)
    rt = resolve(cfg.runtime.dtype)
    start = time.perf_counter()
    out = train_lm(cfg, pe, task, splits, seed, progress=False, rt=rt)
    trained = time.perf_counter() - start
    if keep:
        save_model(keep, out["model"], {k: v.cpu() for k, v in unscaled(out["model"]).items()}, task=task, seed=seed)
    lengths = list(cfg.synthetic.eval_lengths)
    pairs = {L: pair_ambiguous(splits[f"eval_{L}"], task, cfg.synthetic.vocab_size) for L in lengths} if errors else None
    scores = evaluate_lm(out["model"], splits, task, cfg, lengths, rt=rt, pairs=pairs)
    fields = ("token_acc", "exact_match") + (ERROR_KEYS if errors else ())
    evals = {L: {k: s[k] for k in fields} for L, s in scores.items()}
    shorter = [L for L in cfg.synthetic.curve_lengths if L < cfg.synthetic.train_max_len]  # trained on too
    inside = evaluate_lm(out["model"], splits, task, cfg, shorter, rt=rt) if shorter else {}
    if errors:
        for L, s in scores.items():
            evals[L]["per_seq"] = {k: s["per_seq"][k] for k in ("right", "wrong_at_pairs", "pairs")}
    return {"pe": pe, "task": task, "seed": seed, "dtype": rt.dtype, "train_wall_s": round(trained, 1),
            "checks": out["checks"], "tracking": out["tracking"], "eval": evals,
            "shorter": {L: {k: s[k] for k in ("token_acc", "exact_match")} for L, s in inside.items()}}


def merged(old: dict, tag: str, result: dict, params: str) -> dict:
    """The output file with `result` added under `tag`. Each run names its CPU; the file's own `cpu_model`
    does too while every run agrees (a run from before runs named theirs gets the file's), and says
    "mixed" once they do not, so a run from another machine never relabels the earlier ones."""
    runs = {t: {**r, "cpu_model": r.get("cpu_model", old.get("cpu_model"))} for t, r in old["runs"].items()}
    runs[tag] = result
    cpus = {r["cpu_model"] for r in runs.values()}
    return {"cpu_model": cpus.pop() if len(cpus) == 1 else "mixed: see each run's cpu_model",
            "threads": torch.get_num_threads(), "torch": torch.__version__, "params": params, "runs": runs}


def run_args(ap: argparse.ArgumentParser, params: str, out: str) -> argparse.ArgumentParser:
    """The options of one training run: params keys changed (--set), task, seed, params file, output."""
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", dest="items",
                    help="params keys changed for this run (section.key=value, values are YAML)")
    ap.add_argument("--task", default="copy")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--params", default=params)
    ap.add_argument("--out", default=out)
    return ap


def errors_arg(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--errors: the scripts whose runs go through run() can keep each length's error records."""
    ap.add_argument("--errors", action="store_true",
                    help="also keep each length's error records (for bench/key_collisions.py)")
    return ap


def record(args: argparse.Namespace, cfg: config.Config, done: dict, pe: str, keep: str = "", **extra) -> str:
    """Train and score one run (run(), the options of run_args and errors_arg; `keep`: where to save the
    model), add it to args.out under args.tag with `extra` fields, and say what it scored in one line."""
    result = {**run(cfg, pe, args.task, args.seed, sweep_data(args.task), args.errors, keep), "set": done,
              "cpu_model": cpu_model(), **extra}
    save(args.out, args.tag, result, args.params)
    said = ", ".join(f"@{L} {v['token_acc']:.4f} / {v['exact_match']:.3f}"
                     for L, v in sorted({**result["shorter"], **result["eval"]}.items(), key=lambda kv: int(kv[0])))
    return (f"{args.tag}: {pe} on {args.task}, seed {args.seed}: token acc / exact {said}; "
            f"trained in {result['train_wall_s']:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pe")
    ap.add_argument("--tag", required=True, help="the run's name in the output file (a rerun replaces it)")
    ap.add_argument("--mlp-lr", type=float, default=1.0, metavar="X",
                    help="train the PE's mlp (FIRE's f_theta) at X times the learning rate, nothing else changed")
    ap.add_argument("--checkpoint", default="", help="also save the trained model here (load_model reads it)")
    args = errors_arg(run_args(ap, "study/params.yaml", "bench/pe_sweep.json")).parse_args()
    if args.mlp_lr <= 0:
        raise ConfigError(f"--mlp-lr: must be > 0, got {args.mlp_lr}")
    cfg, done = changed(config.load(args.params), args.items)
    with mlp_lr(args.mlp_lr) if args.mlp_lr != 1 else nullcontext():
        print(record(args, cfg, done, args.pe, keep=args.checkpoint, mlp_lr=args.mlp_lr))


if __name__ == "__main__":
    try:
        main()
    except ConfigError as e:
        sys.exit(f"error: {e}")
