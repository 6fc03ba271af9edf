"""``ghostls model``: which model is used, where its file is, whether it supports FIM."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ghostls.engine.model_files import (
    EMBEDDED_MODEL_NAME,
    describe_model_file_problem,
    ensure_embedded_model,
)


def run_model(args: argparse.Namespace) -> int:
    if args.model:
        path = Path(args.model).expanduser()
        name = path.name
    else:
        print("preparing the embedded default model (assembled once into the cache) ...")
        path = ensure_embedded_model()
        name = EMBEDDED_MODEL_NAME
    problem = describe_model_file_problem(str(path))
    if problem:
        print(f"ghostls model: {problem}", file=sys.stderr)
        return 2
    print(f"model:  {name}")
    print(f"file:   {path}")
    print(f"size:   {path.stat().st_size / 1e6:.1f} MB")
    from ghostls.engine.inspect_model import describe_model

    for key, value in describe_model(str(path)).items():
        print(f"{key + ':':<8}{value}")
    return 0
