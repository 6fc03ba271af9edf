"""Model-proposed fixes with the real embedded model, through the real server over stdio."""

from __future__ import annotations

import ast
import asyncio
import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient
from pytest_lsp.client import make_test_lsp_client

from ghostls.diagnostics.checks import check_text
from tests.e2e.test_diagnostics import (
    apply_workspace_edit,
    diagnostics_for,
    record_publishes,
    replace_all,
)
from tests.lsp_helpers import (
    SERVER_COMMAND,
    capabilities,
    open_document,
    quick_fixes,
    wait_until,
)

pytestmark = [pytest.mark.model, pytest.mark.slow]

SETTINGS = {"diagnostics": {"debounceMs": 0}, "fixes": {"timeBudgetMs": 8000, "candidates": 3}}

MISSING_COLON = (
    "def total(values):\n"
    "    result = 0\n"
    "    for value in values\n"
    "        result += value\n"
    "    return result\n"
)


@asynccontextmanager
async def model_client(
    settings: dict[str, Any], resolve: bool = True
) -> AsyncIterator[LanguageClient]:
    """A started client whose server has its model ready (ghostls/status 'ready')."""
    client = make_test_lsp_client()
    states: list[str] = []

    def on_status(params: Any) -> None:
        state = params.get("state") if isinstance(params, dict) else getattr(params, "state", "")
        states.append(str(state))

    client.feature("ghostls/status")(on_status)
    client.set_configuration(settings, section="ghostls")
    caps = copy.deepcopy(capabilities())
    if not resolve and caps.text_document and caps.text_document.code_action:
        caps.text_document.code_action.resolve_support = None
    await client.start_io(*SERVER_COMMAND)
    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=caps, initialization_options=settings, root_uri=Path.cwd().as_uri()
            )
        )
        assert await wait_until(lambda: "ready" in states or "error" in states, 180)
        assert "ready" in states, f"the model did not load: {states}"
        yield client
    finally:
        try:
            await asyncio.wait_for(client.shutdown_session(), 30)
        finally:
            await client.stop()


def no_new_findings(before: str, after: str, fixed_code: str) -> bool:
    """``after`` parses, lost the fixed diagnostic, and has nothing the clean code lacks."""
    result = check_text(after)
    if result.has_syntax_errors:
        return False
    clean = {(p.code, p.message) for p in check_text(before).problems}
    return all((p.code, p.message) in clean for p in result.problems)


async def test_a_broken_snippet_gets_a_model_fix_that_passes_verification() -> None:
    async with model_client(SETTINGS) as client:
        log = record_publishes(client)
        uri = open_document(client, "/tmp/ghostls_model_fix.py", MISSING_COLON)
        diagnostic = (await diagnostics_for(log, uri, 1))[0]
        assert diagnostic.code == "syntax-error"
        actions = await quick_fixes(client, uri, diagnostic)
        lazy = [a for a in actions if a.edit is None and a.data is not None]
        assert lazy and lazy[0].title.startswith("Fix with ghostls")  # model runs on resolve
        resolved = await client.code_action_resolve_async(lazy[0])
        assert resolved.edit is not None, resolved.title
        fixed = apply_workspace_edit(MISSING_COLON, resolved.edit)
        ast.parse(fixed)
        assert fixed.split("\n")[2].rstrip().endswith(":")
        replace_all(client, uri, 2, fixed)
        assert not [d for d in await diagnostics_for(log, uri, 2) if d.code == "syntax-error"]


async def test_without_resolve_every_offered_model_fix_is_verified() -> None:
    snippets = {
        "/tmp/ghostls_model_bracket.py": (
            "def area(width, height):\n    size = max(width, height\n    return size * 2\n",
            "def area(width, height):\n    size = max(width, height)\n    return size * 2\n",
        ),
        "/tmp/ghostls_model_name.py": (
            "def mean(numbers):\n    total = sum(numbers)\n    return totl / len(numbers)\n",
            "def mean(numbers):\n    total = sum(numbers)\n    return total / len(numbers)\n",
        ),
    }
    async with model_client(SETTINGS, resolve=False) as client:
        log = record_publishes(client)
        for path, (broken, clean) in snippets.items():
            uri = open_document(client, path, broken)
            diagnostic = (await diagnostics_for(log, uri, 1))[0]
            actions = await quick_fixes(client, uri, diagnostic)
            model = [a for a in actions if a.title.startswith("ghostls (model)")]
            assert model, [a.title for a in actions]
            for action in model:
                assert action.edit is not None and not action.is_preferred
                fixed = apply_workspace_edit(broken, action.edit)
                assert no_new_findings(clean, fixed, str(diagnostic.code)), (action.title, fixed)


async def test_a_diagnostic_from_another_server_gets_a_verified_fix_or_says_none() -> None:
    text = "items = []\nitems.apend(1)\nprint(items)\n"
    foreign = types.Diagnostic(
        range=types.Range(types.Position(1, 6), types.Position(1, 11)),
        message='Cannot access attribute "apend" for class "list[int]"',
        source="Pylance",
        code="reportAttributeAccessIssue",
    )
    async with model_client(SETTINGS) as client:
        uri = open_document(client, "/tmp/ghostls_model_foreign.py", text)
        await asyncio.sleep(0.5)
        actions = await quick_fixes(client, uri, foreign)
        lazy = [a for a in actions if a.data is not None]
        assert lazy, [a.title for a in actions]
        resolved = await client.code_action_resolve_async(lazy[0])
        if resolved.edit is None:
            assert "no verified fix found" in resolved.title
        else:
            fixed = apply_workspace_edit(text, resolved.edit)
            assert fixed.split("\n")[1] != "items.apend(1)"
            assert no_new_findings(text, fixed, "")
        # A selection without diagnostics: the "Fix with ghostls" action.
        selection = types.Range(types.Position(1, 0), types.Position(2, 0))
        result = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=selection,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        picked = [a for a in result or [] if isinstance(a, types.CodeAction)]
        assert [a.title for a in picked] == ["Fix with ghostls"]
        resolved = await client.code_action_resolve_async(picked[0])
        if resolved.edit is not None:
            fixed = apply_workspace_edit(text, resolved.edit)
            assert fixed.split("\n")[1] != "items.apend(1)"
            assert no_new_findings(text, fixed, "")


async def test_model_fixes_can_be_switched_off() -> None:
    settings = {**SETTINGS, "fixes": {"model": False}}
    async with model_client(settings) as client:
        log = record_publishes(client)
        uri = open_document(client, "/tmp/ghostls_model_off.py", MISSING_COLON)
        diagnostic = (await diagnostics_for(log, uri, 1))[0]
        titles = [a.title for a in await quick_fixes(client, uri, diagnostic)]
        assert titles == ["Insert ':'"]
