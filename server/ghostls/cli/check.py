"""``ghostls check FILE``: diagnostics and the fixes on offer, printed like a linter."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from lsprotocol import types

from ghostls.cli.settings_args import settings_from_args
from ghostls.client_session import ServerSession

SEVERITY = {1: "error", 2: "warning", 3: "info", 4: "hint"}


def _format(path: Path, diagnostic: types.Diagnostic) -> str:
    start = diagnostic.range.start
    severity = SEVERITY.get(int(diagnostic.severity or 1), "error")
    code = f" [{diagnostic.code}]" if diagnostic.code else ""
    return f"{path}:{start.line + 1}:{start.character + 1}: {severity}{code} {diagnostic.message}"


async def _check(paths: list[Path], fix: bool, settings: dict[str, object]) -> int:
    found = 0
    async with ServerSession(settings) as session:
        for path in paths:
            uri = session.open(path)
            ok = await session.wait_for(lambda s, u=uri: u in s.diagnostics, timeout=30)
            if not ok:
                print(f"{path}: diagnostics are not available yet in this build")
                continue
            for diagnostic in session.state.diagnostics[uri]:
                found += 1
                print(_format(path, diagnostic))
                for action in await session.code_actions(uri, diagnostic):
                    if isinstance(action, types.CodeAction):
                        print(f"    fix: {action.title}")
    if fix:
        print("ghostls check --fix: applying fixes is not available yet in this build")
    return 1 if found else 0


def run_check(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.files]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        print(f"ghostls check: no such file: {missing[0]}", file=sys.stderr)
        return 2
    return asyncio.run(_check(paths, args.fix, settings_from_args(args)))
