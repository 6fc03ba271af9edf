"""``ghostls complete FILE:LINE:COL``: the suggestion an editor would show there."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from ghostls.cli.settings_args import settings_from_args
from ghostls.client_session import ServerSession


def parse_location(location: str) -> tuple[Path, int, int]:
    """``path:line:col`` with 1-based line and column (the path may contain ':')."""
    path, line, col = location.rsplit(":", 2)
    return Path(path), int(line), int(col)


async def _complete(path: Path, line: int, col: int, settings: dict[str, object]) -> int:
    async with ServerSession(settings) as session:
        uri = session.open(path)
        status = await session.wait_until_ready()
        if status.get("state") != "ready":
            print(f"ghostls: the model is not available: {status.get('message', 'unknown')}")
            return 2
        start = time.perf_counter()
        items = await session.inline_completion(uri, line - 1, col - 1)
        elapsed = (time.perf_counter() - start) * 1000
        if not items:
            print(f"(no suggestion at {path}:{line}:{col}; {elapsed:.0f} ms)")
            return 1
        for item in items:
            text = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
            print(text)
        print(f"({elapsed:.0f} ms)", file=sys.stderr)
        return 0


def run_complete(args: argparse.Namespace) -> int:
    try:
        path, line, col = parse_location(args.location)
    except ValueError:
        print("ghostls complete: expected FILE:LINE:COL, e.g. app.py:12:8", file=sys.stderr)
        return 2
    if not path.is_file():
        print(f"ghostls complete: no such file: {path}", file=sys.stderr)
        return 2
    return asyncio.run(_complete(path, line, col, settings_from_args(args)))
