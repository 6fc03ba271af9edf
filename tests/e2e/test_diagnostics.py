"""Diagnostics and deterministic fixes from the real server over stdio."""

from __future__ import annotations

import ast
import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.lsp_helpers import (
    change_document,
    lsp_client,
    open_document,
    quick_fixes,
    wait_until,
)

NO_MODEL = {"fixes": {"model": False}, "diagnostics": {"debounceMs": 0}}


@dataclass
class Published:
    uri: str
    version: int | None
    diagnostics: list[types.Diagnostic]
    at: float


def record_publishes(client: LanguageClient) -> list[Published]:
    """Keep every publishDiagnostics (with its version), not only the last per URI."""
    log: list[Published] = []
    features = client.protocol.fm.features
    original: Callable[..., Any] = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def recorder(params: types.PublishDiagnosticsParams) -> None:
        log.append(
            Published(params.uri, params.version, list(params.diagnostics), time.monotonic())
        )
        original(params)

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = recorder
    return log


def latest(log: list[Published], uri: str) -> Published | None:
    for item in reversed(log):
        if item.uri == uri:
            return item
    return None


async def diagnostics_for(
    log: list[Published], uri: str, version: int, timeout: float = 20
) -> list[types.Diagnostic]:
    def ready() -> bool:
        item = latest(log, uri)
        return item is not None and item.version == version

    assert await wait_until(ready, timeout), f"no diagnostics for {uri} v{version}"
    item = latest(log, uri)
    assert item is not None
    return item.diagnostics


def offset(text: str, pos: types.Position) -> int:
    lines = text.split("\n")
    start = sum(len(line) + 1 for line in lines[: pos.line])
    return start + pos.character  # tests use ASCII text: UTF-16 units == code points


def covered(text: str, r: types.Range) -> str:
    return text[offset(text, r.start) : offset(text, r.end)]


def apply_workspace_edit(text: str, edit: types.WorkspaceEdit) -> str:
    edits: list[types.TextEdit] = []
    for change in edit.document_changes or []:
        assert isinstance(change, types.TextDocumentEdit)
        edits.extend(e for e in change.edits if isinstance(e, types.TextEdit))
    for uri_edits in (edit.changes or {}).values():
        edits.extend(uri_edits)
    for e in sorted(edits, key=lambda e: offset(text, e.range.start), reverse=True):
        text = text[: offset(text, e.range.start)] + e.new_text + text[offset(text, e.range.end) :]
    return text


def replace_all(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


# (file text, code, message fragment, text under the range)
KINDS = [
    ("def f(x)\n    return x\n", "syntax-error", "expected ':' after the function", ")"),
    ("def f(x):\n    y = g(x, 1\n    return y\n", "syntax-error", "unclosed '('", "("),
    (
        "def f(x):\n    a = 1\n        b = 2\n    return a\n",
        "syntax-error",
        "unexpected indent",
        "        ",
    ),
    ("import os\n", "unused-import", "'os' imported but unused", "os"),
    ("from os import path, sep\nprint(sep)\n", "unused-import", "'os.path'", "path"),
    ("def f():\n    return valeu\n", "undefined-name", "undefined name 'valeu'", "valeu"),
    ("def f():\n    unused = 1\n    return 2\n", "unused-variable", "'unused'", "unused"),
    (
        "def f():\n    pass\n\n\ndef f():\n    pass\n",
        "redefined",
        "redefinition of unused 'f'",
        "f",
    ),
    (
        "x = f'plain'\n",
        "fstring-missing-placeholders",
        "f-string is missing placeholders",
        "f'plain'",
    ),
]


async def test_each_kind_is_published_with_a_precise_range() -> None:
    async with lsp_client(NO_MODEL, init_options=NO_MODEL) as client:
        log = record_publishes(client)
        uris = [
            open_document(client, f"/tmp/ghostls_kind_{i}.py", text)
            for i, (text, *_rest) in enumerate(KINDS)
        ]
        for uri, (text, code, fragment, under) in zip(uris, KINDS, strict=True):
            diagnostics = await diagnostics_for(log, uri, 1)
            match = [d for d in diagnostics if d.code == code and fragment in d.message]
            assert len(match) == 1, (text, [(d.code, d.message) for d in diagnostics])
            diagnostic = match[0]
            assert diagnostic.source == "ghostls"
            assert covered(text, diagnostic.range) == under
            if code == "syntax-error":
                assert len(diagnostics) == 1, "one diagnostic per mistake, not a cascade"


# (broken text, code, the fixed text the preferred fix must give)
FIXES = [
    ("def f(x)\n    return x\n", "syntax-error", "def f(x):\n    return x\n"),
    ("class A(object)  # note\n    pass\n", "syntax-error", "class A(object):  # note\n    pass\n"),
    (
        "def f(x):\n    y = g(x, 1\n    return y\n",
        "syntax-error",
        "def f(x):\n    y = g(x, 1)\n    return y\n",
    ),
    ("x = [1, 2\ny = 3\n", "syntax-error", "x = [1, 2]\ny = 3\n"),
    ("x = max(1, 2))\n", "syntax-error", "x = max(1, 2)\n"),
    (
        "def f(x):\n    a = 1\n        b = 2\n    return a + b\n",
        "syntax-error",
        "def f(x):\n    a = 1\n    b = 2\n    return a + b\n",
    ),
    ("x = 'abc\n", "syntax-error", "x = 'abc'\n"),
    ("import os\nimport sys\nprint(sys)\n", "unused-import", "import sys\nprint(sys)\n"),
    ("import os, sys\nprint(sys)\n", "unused-import", "import sys\nprint(sys)\n"),
    (
        "from os import (\n    path,\n    sep,\n)\nprint(sep)\n",
        "unused-import",
        "from os import (\n    sep,\n)\nprint(sep)\n",
    ),
    ("if True:\n    import os\n", "unused-import", "if True:\n    pass\n"),
    (
        "def f(value):\n    return valeu + 1\n",
        "undefined-name",
        "def f(value):\n    return value + 1\n",
    ),
    (
        "def f(items):\n    return lne(items)\n",
        "undefined-name",
        "def f(items):\n    return len(items)\n",
    ),
    ("x = f'plain'\n", "fstring-missing-placeholders", "x = 'plain'\n"),
]


async def test_deterministic_fixes_give_code_that_parses_and_clears_the_diagnostic() -> None:
    async with lsp_client(NO_MODEL, init_options=NO_MODEL) as client:
        log = record_publishes(client)
        for i, (text, code, expected) in enumerate(FIXES):
            uri = open_document(client, f"/tmp/ghostls_fix_{i}.py", text)
            diagnostics = await diagnostics_for(log, uri, 1)
            diagnostic = next(d for d in diagnostics if d.code == code)
            actions = await quick_fixes(client, uri, diagnostic)
            preferred = [a for a in actions if a.is_preferred]
            assert preferred, (text, [a.title for a in actions])
            assert preferred[0].edit is not None
            fixed = apply_workspace_edit(text, preferred[0].edit)
            assert fixed == expected, preferred[0].title
            ast.parse(fixed)
            replace_all(client, uri, 2, fixed)
            after = await diagnostics_for(log, uri, 2)
            same_place = [
                d
                for d in after
                if d.code == code and d.range.start.line == diagnostic.range.start.line
            ]
            assert not same_place, (fixed, [(d.code, d.message) for d in after])


async def test_names_suggestion_only_when_unambiguous() -> None:
    text = "def f(aa1, aa2):\n    return aa3\n"
    async with lsp_client(NO_MODEL, init_options=NO_MODEL) as client:
        log = record_publishes(client)
        uri = open_document(client, "/tmp/ghostls_ambiguous.py", text)
        diagnostics = await diagnostics_for(log, uri, 1)
        undefined = next(d for d in diagnostics if d.code == "undefined-name")
        assert not await quick_fixes(client, uri, undefined)  # aa1 and aa2 are equally close


async def test_debounce_publishes_only_the_latest_version() -> None:
    settings = {"fixes": {"model": False}, "diagnostics": {"debounceMs": 400}}
    async with lsp_client(settings, init_options=settings) as client:
        log = record_publishes(client)
        uri = open_document(client, "/tmp/ghostls_debounce.py", "x = 1\n")
        for version in range(2, 8):
            change_document(client, uri, version, (0, 5), (0, 5), f" + y{version}")
            await asyncio.sleep(0.02)
        diagnostics = await diagnostics_for(log, uri, 7)
        await asyncio.sleep(0.8)  # anything still pending would have landed by now
        versions = [p.version for p in log if p.uri == uri]
        assert versions == [7], versions
        names = sorted(d.message for d in diagnostics)
        assert names == sorted(f"undefined name 'y{v}'" for v in range(2, 8))


async def test_close_clears_and_disable_stops_publishing() -> None:
    async with lsp_client(NO_MODEL, init_options=NO_MODEL) as client:
        log = record_publishes(client)
        uri = open_document(client, "/tmp/ghostls_close.py", "import os\n")
        assert await diagnostics_for(log, uri, 1)
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        assert await wait_until(lambda: (p := latest(log, uri)) is not None and not p.diagnostics)
    off = {"diagnostics": {"enable": False}}
    async with lsp_client(off, init_options=off) as client:
        log = record_publishes(client)
        uri = open_document(client, "/tmp/ghostls_off.py", "import os\n")
        await asyncio.sleep(1.0)
        assert latest(log, uri) is None


async def test_stale_fix_data_is_not_applied() -> None:
    async with lsp_client(NO_MODEL, init_options=NO_MODEL) as client:
        log = record_publishes(client)
        uri = open_document(client, "/tmp/ghostls_stale.py", "import os\n")
        diagnostic = (await diagnostics_for(log, uri, 1))[0]
        replace_all(client, uri, 2, "\n\nimport os\n")
        await diagnostics_for(log, uri, 2)
        assert not [a for a in await quick_fixes(client, uri, diagnostic) if a.edit]


async def test_big_files_are_checked() -> None:
    async with lsp_client(NO_MODEL, init_options=NO_MODEL) as client:
        log = record_publishes(client)
        for lines in (500, 5000):
            body = "".join(f"def f{i}(a):\n    return a + {i}\n" for i in range(lines // 2))
            uri = open_document(client, f"/tmp/ghostls_big_{lines}.py", "import os\n" + body)
            diagnostics = await diagnostics_for(log, uri, 1)
            assert [d.code for d in diagnostics] == ["unused-import"]


async def test_shutdown_with_a_pending_check_sends_nothing_after() -> None:
    from pytest_lsp.client import make_test_lsp_client

    from tests.lsp_helpers import SERVER_COMMAND, capabilities

    client = make_test_lsp_client()
    await client.start_io(*SERVER_COMMAND)
    settings = {"diagnostics": {"debounceMs": 1500}, "fixes": {"model": False}}
    await client.initialize_session(
        types.InitializeParams(capabilities=capabilities(), initialization_options=settings)
    )
    log = record_publishes(client)
    open_document(client, "/tmp/ghostls_pending.py", "import os\n")
    await client.shutdown_async(None)
    client.exit(None)
    server = client._server
    assert server is not None
    code = await asyncio.wait_for(server.wait(), 15)
    await client.stop()
    assert code == 0
    assert log == []


async def test_code_action_kinds_filter() -> None:
    async with lsp_client(NO_MODEL, init_options=NO_MODEL) as client:
        log = record_publishes(client)
        uri = open_document(client, "/tmp/ghostls_only.py", "import os\n")
        diagnostic = (await diagnostics_for(log, uri, 1))[0]

        async def titles(only: list[str]) -> list[str]:
            result = await client.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    range=diagnostic.range,
                    context=types.CodeActionContext(diagnostics=[diagnostic], only=only),
                )
            )
            return [a.title for a in result or [] if isinstance(a, types.CodeAction)]

        assert await titles(["quickfix"]) == ["Remove unused import 'os'"]
        assert await titles([""]) == ["Remove unused import 'os'"]
        assert await titles(["refactor"]) == []
        # A client that sends no diagnostics back still gets the fixes published for the range.
        result = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(types.Position(0, 0), types.Position(0, 9)),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        assert [a.title for a in result or [] if isinstance(a, types.CodeAction)] == [
            "Remove unused import 'os'"
        ]
