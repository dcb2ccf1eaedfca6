"""Stage prepare_synthetic: generate every split of every synthetic task once, from the seed (the far
evaluation lengths in a file of their own)."""

import _cli

from posenc import io
from posenc.data import synthetic


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__))
    for task in cfg.synthetic.tasks:
        path = layout.synthetic_data(task)
        io.save_npz(path, synthetic.generate(cfg.synthetic, task, cfg.seed))
        far = layout.far_data(task)
        io.save_npz(far, synthetic.generate_far(cfg.synthetic, task, cfg.seed))
        print(f"wrote {path}, {far}")


if __name__ == "__main__":
    _cli.run(main)
