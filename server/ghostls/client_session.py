"""Talk to a real ghostls server subprocess over stdio, exactly as an editor does.

The terminal subcommands (`complete`, `check`, `demo`) use this, so what they print is what an
editor would be sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

STATUS = "ghostls/status"


@dataclass
class SessionState:
    diagnostics: dict[str, list[types.Diagnostic]] = field(default_factory=dict)
    diagnostics_version: dict[str, int | None] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if hasattr(value, "_asdict"):
        return dict(value._asdict())
    return dict(getattr(value, "__dict__", {}))


def incremental_change(
    uri: str, version: int, start: tuple[int, int], end: tuple[int, int], text: str
) -> types.DidChangeTextDocumentParams:
    """didChange params replacing ``start``..``end`` ((line, character)) with ``text``."""
    return types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[
            types.TextDocumentContentChangePartial(
                range=types.Range(
                    start=types.Position(line=start[0], character=start[1]),
                    end=types.Position(line=end[0], character=end[1]),
                ),
                text=text,
            )
        ],
    )


class ServerSession:
    """``async with ServerSession() as s``: a started, initialized server subprocess."""

    def __init__(
        self,
        settings: dict[str, Any] | None = None,
        server_args: list[str] | None = None,
        root: Path | None = None,
    ) -> None:
        self.settings = settings or {}
        self.server_args = server_args or []
        self.root = root or Path.cwd()
        self.state = SessionState()
        self.client = LanguageClient("ghostls-cli", "1")
        self.init_result: types.InitializeResult | None = None
        self._versions: dict[str, int] = {}
        self._register()

    def _register(self) -> None:
        state = self.state

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _diagnostics(params: types.PublishDiagnosticsParams) -> None:
            state.diagnostics[params.uri] = list(params.diagnostics)
            state.diagnostics_version[params.uri] = params.version
            state.changed.set()

        @self.client.feature(STATUS)
        def _status(params: Any) -> None:
            state.status = _as_dict(params)
            state.changed.set()

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def _show(params: types.ShowMessageParams) -> None:
            state.messages.append(params.message)

        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def _log(params: types.LogMessageParams) -> None:
            pass

        @self.client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def _progress_create(params: types.WorkDoneProgressCreateParams) -> None:
            return None

        @self.client.feature(types.PROGRESS)
        def _progress(params: types.ProgressParams) -> None:
            pass

        @self.client.feature(types.WORKSPACE_CONFIGURATION)
        def _configuration(params: types.ConfigurationParams) -> list[Any]:
            return [self.settings if item.section == "ghostls" else None for item in params.items]

    async def __aenter__(self) -> ServerSession:
        await self.client.start_io(sys.executable, "-m", "ghostls", "serve", *self.server_args)
        self.init_result = await self.client.initialize_async(
            types.InitializeParams(
                process_id=None,
                root_uri=self.root.resolve().as_uri(),
                initialization_options=self.settings,
                capabilities=types.ClientCapabilities(
                    workspace=types.WorkspaceClientCapabilities(configuration=True),
                    window=types.WindowClientCapabilities(work_done_progress=True),
                    text_document=types.TextDocumentClientCapabilities(
                        inline_completion=types.InlineCompletionClientCapabilities(),
                        code_action=types.CodeActionClientCapabilities(
                            data_support=True,
                            resolve_support=types.ClientCodeActionResolveOptions(
                                properties=["edit"]
                            ),
                        ),
                        publish_diagnostics=types.PublishDiagnosticsClientCapabilities(
                            version_support=True
                        ),
                    ),
                ),
            )
        )
        self.client.initialized(types.InitializedParams())
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), 10)
            self.client.exit(None)
        except Exception:
            pass
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.stop(), 10)

    # -- documents ------------------------------------------------------------------------

    def open(self, path: Path, text: str | None = None) -> str:
        uri = path.resolve().as_uri()
        self._versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri,
                    language_id="python",
                    version=1,
                    text=path.read_text(encoding="utf-8") if text is None else text,
                )
            )
        )
        return uri

    def change(
        self, uri: str, version: int, start: tuple[int, int], end: tuple[int, int], text: str
    ) -> None:
        """One incremental edit: replace ``start``..``end`` ((line, character)) with ``text``."""
        self.client.text_document_did_change(incremental_change(uri, version, start, end, text))

    async def wait_for(self, predicate: Any, timeout: float) -> bool:
        """Wait until ``predicate(state)`` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate(self.state):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.state.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.state.changed.wait(), min(remaining, 0.25))
        return True

    async def wait_until_ready(self, timeout: float = 120.0) -> dict[str, Any]:
        """Wait for the model to be ready (or to fail); returns the last status."""
        await self.wait_for(
            lambda s: s.status.get("state") in ("ready", "error", "disabled"), timeout
        )
        return self.state.status

    async def inline_completion(self, uri: str, line: int, character: int) -> list[Any]:
        result = await self.client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line, character=character),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Invoked
                ),
            )
        )
        if result is None:
            return []
        return list(result.items if isinstance(result, types.InlineCompletionList) else result)

    async def code_actions(
        self, uri: str, diagnostic: types.Diagnostic
    ) -> list[types.CodeAction | types.Command]:
        result = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=diagnostic.range,
                context=types.CodeActionContext(
                    diagnostics=[diagnostic], only=[types.CodeActionKind.QuickFix]
                ),
            )
        )
        return list(result or [])

    async def resolve(self, action: types.CodeAction) -> types.CodeAction:
        return await self.client.code_action_resolve_async(action)
