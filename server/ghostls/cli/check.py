"""``ghostls check FILE``: diagnostics and the fixes on offer, printed like a linter.

``--fix`` applies the certain fixes (the preferred, deterministic ones) one at a time, each
time re-checking the new text on the server, and writes the file. Model fixes are computed
only with ``--set fixes.model=true`` (they need the model loaded) and never applied by
``--fix``: they are proposals for a person to read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from lsprotocol import types

from ghostls.cli.settings_args import settings_from_args
from ghostls.client_session import ServerSession
from ghostls.positions import Encoding, column_to_index

SEVERITY = {1: "error", 2: "warning", 3: "info", 4: "hint"}
MAX_FIX_ROUNDS = 500  # one fix per round; a file with more certain fixes is done in parts
WAIT_S = 60


def _format(path: Path, diagnostic: types.Diagnostic) -> str:
    start = diagnostic.range.start
    severity = SEVERITY.get(int(diagnostic.severity or 1), "error")
    code = f" [{diagnostic.code}]" if diagnostic.code else ""
    return f"{path}:{start.line + 1}:{start.character + 1}: {severity}{code} {diagnostic.message}"


def _offset(text: str, position: types.Position) -> int:
    lines = text.split("\n")
    row = min(position.line, len(lines))
    start = sum(len(line) + 1 for line in lines[:row])
    if row >= len(lines):
        return len(text)
    line = lines[row].rstrip("\r")
    return start + column_to_index(line, position.character, Encoding.UTF16)


def apply_text_edits(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP edits (UTF-16 columns, the session's encoding) from the last to the first."""
    spans = [(_offset(text, e.range.start), _offset(text, e.range.end), e.new_text) for e in edits]
    for start, end, new in sorted(spans, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _edits_of(action: types.CodeAction, uri: str) -> list[types.TextEdit]:
    edits: list[types.TextEdit] = []
    if action.edit is None:
        return edits
    for change in action.edit.document_changes or []:
        if isinstance(change, types.TextDocumentEdit) and change.text_document.uri == uri:
            edits.extend(e for e in change.edits if isinstance(e, types.TextEdit))
    edits.extend((action.edit.changes or {}).get(uri, []))
    return edits


class _Checker:
    def __init__(self, session: ServerSession, model_fixes: bool) -> None:
        self.session = session
        self.model_fixes = model_fixes
        self.versions: dict[str, int] = {}

    async def diagnostics(self, uri: str) -> list[types.Diagnostic] | None:
        version = self.versions[uri]
        ok = await self.session.wait_for(
            lambda s: s.diagnostics_version.get(uri) == version and uri in s.diagnostics,
            timeout=WAIT_S,
        )
        return list(self.session.state.diagnostics[uri]) if ok else None

    def change(self, uri: str, text: str) -> None:
        self.versions[uri] += 1
        self.session.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[uri]
                ),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    async def report(self, path: Path, uri: str) -> int:
        diagnostics = await self.diagnostics(uri)
        if diagnostics is None:
            print(f"{path}: no diagnostics from the server within {WAIT_S} s", file=sys.stderr)
            return 0
        for diagnostic in diagnostics:
            print(_format(path, diagnostic))
            for action in await self.session.code_actions(uri, diagnostic):
                if not isinstance(action, types.CodeAction):
                    continue
                if action.edit is not None:
                    mark = "fix" if action.is_preferred else "possible fix"
                    print(f"    {mark}: {action.title}")
                elif self.model_fixes and action.data is not None:
                    await self._print_model_fix(uri, action)
        return len(diagnostics)

    async def _print_model_fix(self, uri: str, action: types.CodeAction) -> None:
        resolved = await self.session.resolve(action)
        edits = _edits_of(resolved, uri)
        if not edits:
            print(f"    model: {resolved.title}")
            return
        new = edits[0].new_text.strip()
        print(f"    model fix (verified): line {edits[0].range.start.line + 1} → {new}")

    async def fix(self, path: Path, uri: str, text: str) -> tuple[str, int]:
        """Apply certain fixes one by one; returns the new text and how many were applied."""
        applied = 0
        for _ in range(MAX_FIX_ROUNDS):
            diagnostics = await self.diagnostics(uri)
            if not diagnostics:
                break
            chosen = None
            for diagnostic in diagnostics:
                for action in await self.session.code_actions(uri, diagnostic):
                    if isinstance(action, types.CodeAction) and action.is_preferred:
                        edits = _edits_of(action, uri)
                        if edits:
                            chosen = (diagnostic, action, edits)
                            break
                if chosen:
                    break
            if chosen is None:
                break
            diagnostic, action, edits = chosen
            new_text = apply_text_edits(text, edits)
            if new_text == text:
                break
            line = diagnostic.range.start.line + 1
            print(f"{path}:{line}: fixed [{diagnostic.code}] {action.title}")
            text = new_text
            applied += 1
            self.change(uri, text)
        return text, applied


async def _check(paths: list[Path], fix: bool, settings: dict[str, Any]) -> int:
    fixes = settings.setdefault("fixes", {})
    model_fixes = bool(fixes.get("model", False)) and not fix
    fixes["model"] = model_fixes  # model fixes need the model: only when asked for
    settings.setdefault("diagnostics", {}).setdefault("debounceMs", 0)
    remaining = 0
    async with ServerSession(settings) as session:
        checker = _Checker(session, model_fixes)
        if model_fixes:
            status = await session.wait_until_ready()
            if status.get("state") != "ready":
                print(f"ghostls: model fixes unavailable: {status.get('message', '')}")
        for path in paths:
            text = path.read_text(encoding="utf-8")
            uri = session.open(path, text)
            checker.versions[uri] = 1
            if fix:
                new_text, applied = await checker.fix(path, uri, text)
                if applied:
                    path.write_text(new_text, encoding="utf-8")
                    print(f"{path}: {applied} fix{'es' if applied != 1 else ''} applied")
            remaining += await checker.report(path, uri)
    return 1 if remaining else 0


def run_check(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.files]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        print(f"ghostls check: no such file: {missing[0]}", file=sys.stderr)
        return 2
    for path in paths:
        try:
            path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError) as exc:
            print(f"ghostls check: cannot read {path} as UTF-8 text: {exc}", file=sys.stderr)
            return 2
    return asyncio.run(_check(paths, args.fix, settings_from_args(args)))
