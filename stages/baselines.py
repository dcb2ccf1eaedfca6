"""Stage baselines: the content-matching rules (2- and 3-token lookup) on one task's evaluation sets."""

import _cli

from posenc import io
from posenc.analysis.baselines import content_baselines
from posenc.data import synthetic


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__, task=True))
    task = args.task
    splits = synthetic.load_for_eval(layout.synthetic_data(task), task, cfg.synthetic)
    rules = content_baselines(splits, task, cfg.synthetic.vocab_size, synthetic.eval_lengths(cfg.synthetic))
    io.write_json(layout.baselines(task), {"task": task, "rules": rules})
    print(f"{task}: " + "; ".join(f"{r}: " + ", ".join(f"{L} {m['token_acc']:.3f}/{m['exact_match']:.2f}"
                                                         for L, m in per.items()) for r, per in rules.items()))


if __name__ == "__main__":
    _cli.run(main)
