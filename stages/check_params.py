"""Stage check_params: the params guard. It depends on the whole params.yaml, so any edit (also a key
added with `dvc exp run -S +key=...` that no other stage reads) runs it, and it fails at once with the
one-line error every stage would give: unknown or misspelled keys, bad values, bad PE sections."""

import _cli

from posenc.nn.pe import check_sections
from posenc.nn.pe.base import Dims


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__))  # every key of params.yaml, strictly
    m = cfg.model
    check_sections(cfg.pe, Dims(m.d_model, m.n_heads, m.max_positions, cfg.synthetic.train_max_len))
    print(f"{args.params}: ok ({len(cfg.pes)} PEs, {len(cfg.pe)} PE sections)")


if __name__ == "__main__":
    _cli.run(main)
