"""Argument parsing and dispatch for the ``ghostls`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ghostls import __version__

DESCRIPTION = """\
ghostls: local AI help for Python in any LSP editor -- ghost-text completions,
diagnostics and verified quick fixes from a quantized model on your own machine.

Editors start `ghostls` (or `ghostls serve`) and talk to it over stdio.
From a terminal, try `ghostls demo` first.
"""

EPILOG = """\
examples:
  ghostls demo                       a guided first run on a sample file
  ghostls complete app.py:12:8       the suggestion at line 12, column 8 (1-based)
  ghostls check app.py               diagnostics and the fixes on offer
  ghostls check --fix app.py         apply the fixes that are certain
  ghostls model                      which model is used; prepare the embedded one
"""


def _add_server_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="GGUF", help="use this GGUF instead of the default")
    parser.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a server setting, e.g. --set completion.maxTokens=32 (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ghostls",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ghostls {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument(
        "--stdio",
        action="store_true",
        help="talk over stdin/stdout (the default; accepted because many LSP clients pass it)",
    )
    serve.add_argument("--tcp", action="store_true", help="listen on a TCP socket instead")
    serve.add_argument("--host", default="127.0.0.1", help="TCP host (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")
    serve.add_argument("--log-file", metavar="PATH", help="log here instead of stderr")
    serve.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug")

    complete = sub.add_parser("complete", help="print the completion offered at FILE:LINE:COL")
    complete.add_argument("location", metavar="FILE:LINE:COL", help="1-based line and column")
    _add_server_settings(complete)

    check = sub.add_parser("check", help="print diagnostics and fixes, like a linter")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--fix", action="store_true", help="apply the fixes that are certain")
    _add_server_settings(check)

    demo = sub.add_parser("demo", help="a first run: the real server on a sample file")
    _add_server_settings(demo)

    model = sub.add_parser("model", help="show the model in use; prepare the embedded default")
    model.add_argument("--path", dest="model", metavar="GGUF", help="inspect this GGUF instead")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    command = args.command or "serve"
    if command == "serve":
        from ghostls.cli.serve import run_serve

        run_serve(
            tcp=getattr(args, "tcp", False),
            host=getattr(args, "host", "127.0.0.1"),
            port=getattr(args, "port", 2087),
            log_file=getattr(args, "log_file", None),
            verbose=getattr(args, "verbose", 0),
        )
        return
    if command == "complete":
        from ghostls.cli.complete import run_complete

        sys.exit(run_complete(args))
    if command == "check":
        from ghostls.cli.check import run_check

        sys.exit(run_check(args))
    if command == "demo":
        from ghostls.cli.demo import run_demo

        sys.exit(run_demo(args))
    if command == "model":
        from ghostls.cli.model import run_model

        sys.exit(run_model(args))
