"""Start the real ghostls server over stdio for end-to-end tests (pytest-lsp's client)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

from ghostls.client_session import incremental_change

SERVER_COMMAND = [sys.executable, "-m", "ghostls", "serve"]


def capabilities(spec: str = "visual_studio_code") -> types.ClientCapabilities:
    return client_capabilities(spec)


@asynccontextmanager
async def lsp_client(
    settings: dict[str, Any] | None = None,
    *,
    init_options: dict[str, Any] | None = None,
    caps: types.ClientCapabilities | None = None,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> AsyncIterator[LanguageClient]:
    """A started, initialized client; ``settings`` answer workspace/configuration."""
    client = make_test_lsp_client()
    if settings is not None:
        client.set_configuration(settings, section="ghostls")
    await client.start_io(*SERVER_COMMAND, *(args or []), env=env)
    try:
        result = await client.initialize_session(
            types.InitializeParams(
                capabilities=caps or capabilities(),
                initialization_options=init_options,
                root_uri=Path.cwd().as_uri(),
            )
        )
        client.init_result = result  # type: ignore[attr-defined]
        yield client
    finally:
        try:
            await asyncio.wait_for(client.shutdown_session(), 20)
        finally:
            await client.stop()


def open_document(client: LanguageClient, path: str, text: str, version: int = 1) -> str:
    uri = Path(path).resolve().as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=version, text=text
            )
        )
    )
    return uri


def change_document(
    client: LanguageClient,
    uri: str,
    version: int,
    start: tuple[int, int],
    end: tuple[int, int],
    text: str,
) -> None:
    client.text_document_did_change(incremental_change(uri, version, start, end, text))


async def wait_until(predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())


async def quick_fixes(
    client: LanguageClient, uri: str, diagnostic: types.Diagnostic
) -> list[types.CodeAction]:
    """The code actions (not bare commands) the server offers for one diagnostic."""
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    return [a for a in result or [] if isinstance(a, types.CodeAction)]
