"""Stage probe: gradient norms, attention entropy, source mass and attention maps of one trained LM."""

import _cli

from posenc import io
from posenc.analysis.probes_lm import probe_lm
from posenc.data import synthetic
from posenc.engine.runtime import seed_everything
from posenc.nn.checkpoint import load_model


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__, task=True, pe=True, seed=True))
    task, pe, seed = args.task, args.pe, args.seed
    model, _ = load_model(layout.checkpoint(task, pe, seed))
    splits = synthetic.load_for_eval(layout.synthetic_data(task), task, cfg.synthetic)
    seed_everything(cfg.seed)
    p = cfg.probe
    metrics, maps = probe_lm(model, splits, task, cfg.synthetic.vocab_size, list(p.lengths),
                             synthetic.eval_lengths(cfg.synthetic), list(p.map_lengths), p.batch_size, cfg.seed)
    io.save_npz(layout.attention_maps(task, pe, seed), maps)
    io.write_json(layout.probe_json(task, pe, seed), {"pe": pe, "task": task, "seed": seed, **metrics})
    print(f"{task}/{pe}/s{seed}: loss " + ", ".join(f"{L}: {g['loss']:.3g}" for L, g in metrics["gradients"].items()))


if __name__ == "__main__":
    _cli.run(main)
