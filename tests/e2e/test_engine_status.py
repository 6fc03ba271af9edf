"""The real server over stdio: model loading reported as ghostls/status and work-done progress."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient
from pytest_lsp.client import make_test_lsp_client

from tests.lsp_helpers import SERVER_COMMAND, capabilities, open_document, wait_until


def _field(status: Any, name: str) -> Any:
    return status.get(name) if isinstance(status, dict) else getattr(status, name, None)


class StatusLog:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def states(self) -> list[str]:
        return [_field(s, "state") for s in self.items]

    def last(self, state: str) -> Any:
        return next(s for s in reversed(self.items) if _field(s, "state") == state)


@asynccontextmanager
async def status_client(
    settings: dict[str, Any], caps: types.ClientCapabilities | None = None
) -> AsyncIterator[tuple[LanguageClient, StatusLog]]:
    """Like lsp_client, but listening for ghostls/status before the session starts."""
    client = make_test_lsp_client()
    log = StatusLog()

    def on_status(params: Any) -> None:
        log.items.append(params)

    client.feature("ghostls/status")(on_status)
    client.set_configuration(settings, section="ghostls")
    await client.start_io(*SERVER_COMMAND)
    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=caps or capabilities(), root_uri=Path.cwd().as_uri()
            )
        )
        yield client, log
    finally:
        try:
            await asyncio.wait_for(client.shutdown_session(), 20)
        finally:
            await client.stop()


async def _engine_stats(client: LanguageClient) -> Any:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="ghostls.stats", arguments=[])
    )
    engine = result.get("engine") if isinstance(result, dict) else result.engine
    return engine


async def test_status_ready_with_work_done_progress() -> None:
    async with status_client({}) as (client, log):
        assert await wait_until(lambda: "ready" in log.states(), timeout=120), log.items
        assert log.states()[0] == "loading"
        ready = log.last("ready")
        assert "gemma-3-270m" in _field(ready, "model")
        assert _field(ready, "fim") is False
        assert _field(ready, "backend") == "local"
        # One progress token with begin ... end, ended after the model was ready.
        assert await wait_until(lambda: bool(client.progress_reports), timeout=10)
        (reports,) = client.progress_reports.values()
        assert isinstance(reports[0], types.WorkDoneProgressBegin)
        assert isinstance(reports[-1], types.WorkDoneProgressEnd)
        engine = await _engine_stats(client)
        assert _field(engine, "state") == "ready"
        assert _field(engine, "prompt_layout") == "prefix"


async def test_bad_model_path_reports_error_and_server_keeps_working(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-model.gguf"
    bad.write_bytes(b"this is not a GGUF file\n" * 100)
    async with status_client({"model": {"path": str(bad)}}) as (client, log):
        assert await wait_until(lambda: "error" in log.states(), timeout=60), log.items
        error = log.last("error")
        assert str(bad) in _field(error, "message")
        assert "GGUF" in _field(error, "message")
        assert await wait_until(
            lambda: any(
                m.type == types.MessageType.Error and str(bad) in m.message for m in client.messages
            ),
            timeout=10,
        ), client.messages
        # Still answering: stats, and a completion request is an empty answer, not an error.
        assert _field(await _engine_stats(client), "state") == "error"
        uri = open_document(client, str(tmp_path / "code.py"), "def f(x):\n    return \n")
        items = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=1, character=11),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Invoked
                ),
            )
        )
        listed = items.items if isinstance(items, types.InlineCompletionList) else items
        assert not listed

        # Fixing the setting reloads: the embedded model becomes ready.
        client.set_configuration({"model": {"path": ""}}, section="ghostls")
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        assert await wait_until(lambda: log.states()[-1] == "ready", timeout=120), log.items
        assert "loading" in log.states()[log.states().index("error") :]


async def test_no_progress_for_clients_without_work_done_progress() -> None:
    caps = types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(configuration=True),
        window=types.WindowClientCapabilities(work_done_progress=False),
    )
    async with status_client({}, caps) as (client, log):
        assert await wait_until(lambda: "ready" in log.states(), timeout=120), log.items
        assert client.progress_reports == {}
