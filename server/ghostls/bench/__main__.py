"""Dispatch `python -m ghostls.bench NAME [args]` to ``ghostls.bench.NAME.main``."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("parse", "engine", "quality", "latency", "fixes", "remote", "load")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m ghostls.bench {" + ",".join(BENCHMARKS) + ",all} [options]")
        return 0
    name, rest = args[0], args[1:]
    names = BENCHMARKS if name == "all" else (name,)
    for bench in names:
        if bench not in BENCHMARKS:
            print(f"unknown benchmark {bench!r}; choose from {', '.join(BENCHMARKS)}")
            return 2
        try:
            module = importlib.import_module(f"ghostls.bench.{bench}")
        except ModuleNotFoundError:
            print(f"benchmark {bench!r} is not available in this build")
            continue
        code = module.main(rest)
        if code:
            return int(code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
