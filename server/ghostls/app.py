"""The language server object: typed state shared by the handlers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from ghostls import __version__
from ghostls.config import Settings, parse_settings
from ghostls.documents import DocumentStore, Snapshot
from ghostls.logs import ClientLogHandler
from ghostls.protocol import GhostProtocol, serve_stdio

log = logging.getLogger(__name__)


@dataclass
class Counters:
    """Local-only usage counts (never sent anywhere)."""

    completions_requested: int = 0
    completions_shown: int = 0
    completions_from_cache: int = 0
    accepted: int = 0
    rejected: int = 0
    last_latency_ms: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


class GhostServer(LanguageServer):
    """pygls server holding ghostls' state; handlers live in ``ghostls.handlers``."""

    def __init__(self) -> None:
        super().__init__("ghostls", __version__, protocol_cls=GhostProtocol)
        self.settings = Settings()
        self.documents = DocumentStore()
        self.counters = Counters()
        self.closing = False  # set on shutdown/exit: nothing may be sent after it
        self.client_settings_supported = False
        self.client_name = ""  # from initialize's clientInfo, for client-specific quirks
        self._tasks: set[asyncio.Task[Any]] = set()
        self._shown_messages: set[str] = set()
        # Services are attached by their packages (engine, completion, diagnostics) at start.
        self.services: dict[str, Any] = {}
        self.settings_listeners: list[Callable[[Settings, Settings], None]] = []
        # Features that follow the documents (diagnostics, caches) subscribe here.
        self.change_listeners: list[Callable[[Snapshot], None]] = []
        self.close_listeners: list[Callable[[str], None]] = []
        # Called once after `initialized` (engine loading, ...); may return a coroutine.
        self.startup_hooks: list[Callable[[GhostServer], object]] = []
        self.shutdown_hooks: list[Callable[[GhostServer], object]] = []
        logging.getLogger("ghostls").addHandler(ClientLogHandler(self, logging.WARNING))

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve over stdio with ghostls' framing, which survives bad headers (protocol.py)."""
        serve_stdio(self, stdin, stdout)

    # -- settings -------------------------------------------------------------------------

    def apply_settings(self, raw: object, origin: str) -> list[str]:
        """Parse and apply client settings; warn about each bad value. Returns the warnings."""
        result = parse_settings(raw)
        warnings = list(result.warnings)
        path = result.settings.model.path
        if path:
            from ghostls.engine.model_files import describe_model_file_problem

            problem = describe_model_file_problem(path)
            if problem:
                warnings.append(f"ghostls setting 'model.path': {problem}")
        for warning in warnings:
            log.warning("%s (from %s)", warning, origin)
            self.show_message(warning, types.MessageType.Warning)
        old, self.settings = self.settings, result.settings
        if old != self.settings:
            for listener in list(self.settings_listeners):
                try:
                    listener(old, self.settings)
                except Exception:
                    log.exception("settings listener failed")
        return warnings

    # -- messages to the client -----------------------------------------------------------

    def show_message(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        if self.closing:
            return
        try:
            self.window_show_message(types.ShowMessageParams(type=kind, message=message))
        except Exception:
            log.debug("could not show message", exc_info=True)

    def show_message_once(self, key: str, message: str, kind: types.MessageType) -> None:
        """Show a message the first time ``key`` is seen (one message, not one per keystroke)."""
        if key in self._shown_messages:
            return
        self._shown_messages.add(key)
        self.show_message(message, kind)

    def forget_message(self, key: str) -> None:
        self._shown_messages.discard(key)

    def log_to_client(self, level: int, message: str) -> None:
        if self.closing or self.protocol.writer is None:
            return
        kind = (
            types.MessageType.Error
            if level >= logging.ERROR
            else types.MessageType.Warning
            if level >= logging.WARNING
            else types.MessageType.Info
        )
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def notify_client(self, method: str, params: object) -> None:
        """Send a notification unless the connection is closing (quiet shutdown)."""
        if self.closing or self.protocol.writer is None:
            return
        try:
            self.protocol.notify(method, params)
        except Exception:
            log.debug("notification %s dropped", method, exc_info=True)

    # -- background work ------------------------------------------------------------------

    def spawn(self, coro: Awaitable[Any], name: str = "") -> asyncio.Task[Any]:
        """Run a coroutine in the background, logging (not raising) its failure."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def _done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task %s failed", name or t, exc_info=t.exception())

        task.add_done_callback(_done)
        return task

    def emit_change(self, snapshot: Snapshot) -> None:
        for listener in list(self.change_listeners):
            try:
                listener(snapshot)
            except Exception:
                log.exception("document listener failed")

    def emit_close(self, uri: str) -> None:
        for listener in list(self.close_listeners):
            try:
                listener(uri)
            except Exception:
                log.exception("close listener failed")

    def cancel_background(self) -> None:
        for task in list(self._tasks):
            task.cancel()


def create_server() -> GhostServer:
    from ghostls.routes import register_routes

    server = GhostServer()
    register_routes(server)
    from ghostls.engine import service as engine_service

    engine_service.install(server)
    from ghostls.diagnostics import service as diagnostics_service

    diagnostics_service.install(server)
    return server
