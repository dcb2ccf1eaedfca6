"""Stage runtime: resolve runtime.dtype on this machine (device, precision, the CPU flags that decided it).

It always runs (cheap); the file it writes changes only when the resolution does, and every stage
that trains or evaluates a model depends on it, so models are retrained where the precision differs.
"""

import _cli

from posenc import io
from posenc.engine.runtime import resolve


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__))
    rt = resolve(cfg.runtime.dtype)
    io.write_json(layout.runtime, rt.to_dict())
    flags = ", ".join(rt.native_bf16) or "none"
    print(f"runtime: {rt.device_type}, {rt.dtype} (runtime.dtype {rt.setting}; native bf16 CPU flags: {flags})")


if __name__ == "__main__":
    _cli.run(main)
