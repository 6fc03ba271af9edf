"""``ghostls demo``: a newcomer's first run against the real server, as an editor would."""

from __future__ import annotations

import argparse
import asyncio
import time
from importlib import resources
from pathlib import Path

from lsprotocol import types

from ghostls.cli.check import _format
from ghostls.cli.settings_args import settings_from_args
from ghostls.client_session import ServerSession


def sample_path() -> Path:
    return Path(str(resources.files("ghostls").joinpath("data/sample.py")))


def _ms(start: float) -> str:
    return f"{(time.perf_counter() - start) * 1000:.0f} ms"


def _show_text(text: str, indent: str = "    | ") -> None:
    for line in text.splitlines() or [""]:
        print(f"{indent}{line}")


async def _demo(settings: dict[str, object]) -> int:
    path = sample_path()
    text = path.read_text(encoding="utf-8")
    print(f"ghostls demo: starting the server and opening {path.name}\n")
    t0 = time.perf_counter()
    async with ServerSession(settings) as session:
        print(f"1. initialize                     {_ms(t0)}")
        t = time.perf_counter()
        uri = session.open(path, text)
        status = await session.wait_until_ready()
        state = status.get("state", "unknown")
        detail = status.get("model") or status.get("message") or ""
        print(f"2. model {state:<24} {_ms(t)}  {detail}")

        lines = text.splitlines()
        line = len(lines)  # the empty line after the last docstring: a function body to fill
        indent = "    "
        session.change(uri, 2, (line, 0), (line, 0), indent)
        t = time.perf_counter()
        items = await session.inline_completion(uri, line, len(indent))
        print(f"3. inline completion at line {line + 1}    {_ms(t)}")
        if items:
            item = items[0]
            insert = (
                item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
            )
            print("   ghost text the editor shows:")
            _show_text(insert)
        else:
            print("   (no suggestion)")

        t = time.perf_counter()
        got = await session.wait_for(lambda s: uri in s.diagnostics, timeout=30)
        print(f"4. diagnostics                    {_ms(t)}")
        if not got:
            print("   (diagnostics are not available yet in this build)")
        diagnostics = session.state.diagnostics.get(uri, [])
        for diagnostic in diagnostics:
            print(f"   {_format(Path(path.name), diagnostic)}")
        for diagnostic in diagnostics[:3]:
            t = time.perf_counter()
            actions = await session.code_actions(uri, diagnostic)
            titles = [a.title for a in actions if isinstance(a, types.CodeAction)]
            print(f"5. quick fixes for line {diagnostic.range.start.line + 1:<9} {_ms(t)}")
            for title in titles or ["(none)"]:
                print(f"   - {title}")
    print(f"\ndone in {_ms(t0)}. Next: set up your editor (README.md).")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    return asyncio.run(_demo(settings_from_args(args)))
