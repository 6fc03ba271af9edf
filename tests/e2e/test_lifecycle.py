"""The real server over stdio: lifecycle, text sync and settings."""

from __future__ import annotations

import asyncio
import sys

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient
from pytest_lsp.client import make_test_lsp_client

from tests.lsp_helpers import (
    SERVER_COMMAND,
    capabilities,
    change_document,
    lsp_client,
    open_document,
    wait_until,
)


async def _document_text(client: LanguageClient, uri: str) -> str:
    """Ask the server for its copy of a document (a debug command shows exactly that)."""
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="ghostls.debug.documentText", arguments=[uri])
    )
    return str(result)


async def test_initialize_advertises_features() -> None:
    async with lsp_client() as client:
        caps = client.init_result.capabilities  # type: ignore[attr-defined]
        assert caps is not None
        sync = caps.text_document_sync
        assert isinstance(sync, types.TextDocumentSyncOptions)
        assert sync.change == types.TextDocumentSyncKind.Incremental
        assert caps.inline_completion_provider is not None
        assert caps.code_action_provider is not None


async def test_open_change_close_keeps_exact_text() -> None:
    async with lsp_client() as client:
        uri = open_document(client, "/tmp/ghostls_sync.py", "def f(x):\n    return x\n")
        change_document(client, uri, 2, (1, 11), (1, 12), "x + 1  # 🐍 ok")
        change_document(client, uri, 3, (0, 0), (0, 0), "import os\r\n")
        text = await _document_text(client, uri)
        assert text == "import os\r\ndef f(x):\n    return x + 1  # 🐍 ok\n"
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        assert await _document_text(client, uri) == "None"


async def test_shutdown_and_exit_cleanly() -> None:
    client = make_test_lsp_client()
    await client.start_io(*SERVER_COMMAND)
    await client.initialize_session(types.InitializeParams(capabilities=capabilities()))
    open_document(client, "/tmp/ghostls_exit.py", "x = 1\n")
    await client.shutdown_async(None)
    client.exit(None)
    server = client._server
    assert server is not None
    code = await asyncio.wait_for(server.wait(), 15)
    await client.stop()
    assert code == 0


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"completion": {"maxTokens": "many"}}, "completion.maxTokens"),
        ({"completion": {"multiline": "sometimes"}}, "completion.multiline"),
        ({"diagnostics": {"enable": 1}}, "diagnostics.enable"),
        ({"nonsense": True}, "unknown ghostls setting 'nonsense'"),
        ({"model": {"path": "/nonexistent/model.gguf"}}, "does not exist"),
        ({"model": 7}, "'model' must be an object"),
    ],
)
async def test_bad_settings_warn_and_server_keeps_running(
    settings: dict[str, object], expected: str
) -> None:
    async with lsp_client(init_options=settings) as client:
        assert await wait_until(lambda: any(expected in m.message for m in client.messages))
        warning = next(m for m in client.messages if expected in m.message)
        assert warning.type == types.MessageType.Warning
        # Still serving: a request after the bad settings gets an answer.
        uri = open_document(client, "/tmp/ghostls_after_bad.py", "x = 1\n")
        assert await _document_text(client, uri) == "x = 1\n"


async def test_settings_from_workspace_configuration_are_checked() -> None:
    async with lsp_client(settings={"completion": {"debounceMs": -5}}) as client:
        assert await wait_until(
            lambda: any("completion.debounceMs" in m.message for m in client.messages)
        )


async def test_did_change_configuration_push() -> None:
    async with lsp_client() as client:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"ghostls": {"fixes": {"model": "yes"}}})
        )
        assert await wait_until(lambda: any("fixes.model" in m.message for m in client.messages))


def test_version_and_help() -> None:
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "ghostls", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("ghostls ")
    helptext = subprocess.run(
        [sys.executable, "-m", "ghostls", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("serve", "complete", "check", "demo", "model"):
        assert command in helptext
