"""Debounced diagnostics for open documents, always for the latest version.

On every open/change the pending check of that document is cancelled and a new one waits
``diagnostics.debounceMs``; after the wait and again after the check it makes sure the document
is still open at the same version, so a slow check never publishes stale results. Checks run on
one worker thread so a big file does not stall completions on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from ghostls.config import Settings
from ghostls.diagnostics.checks import CheckResult, check_text
from ghostls.documents import Snapshot

if TYPE_CHECKING:
    from ghostls.app import GhostServer

log = logging.getLogger(__name__)

SERVICE_KEY = "diagnostics"


@dataclass
class DiagnosticsService:
    server: GhostServer
    pending: dict[str, asyncio.Task[Any]] = field(default_factory=dict)
    published: set[str] = field(default_factory=set)
    # Latest check per document, and the latest one of a version without syntax errors (the
    # baseline a model fix is compared with while the buffer does not parse).
    results: dict[str, tuple[Snapshot, CheckResult]] = field(default_factory=dict)
    last_clean: dict[str, tuple[Snapshot, CheckResult]] = field(default_factory=dict)
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="ghostls-diagnostics")
    )

    # -- listeners --------------------------------------------------------------------------

    def on_change(self, snapshot: Snapshot) -> None:
        if not self.server.settings.diagnostics.enable or self.server.closing:
            return
        old = self.pending.pop(snapshot.uri, None)
        if old is not None:
            old.cancel()
        # The task keeps the uri and version, not the snapshot: in an edit flood hundreds of
        # them wait between two turns of the loop, and holding their snapshots (text, bytes,
        # tree) grew RSS ~7 KB per edit for good (docs/RELIABILITY.md, Load).
        task = self.server.spawn(
            self._run(snapshot.uri, snapshot.version), name=f"diagnostics {snapshot.uri}"
        )
        self.pending[snapshot.uri] = task

    def on_close(self, uri: str) -> None:
        task = self.pending.pop(uri, None)
        if task is not None:
            task.cancel()
        self.results.pop(uri, None)
        self.last_clean.pop(uri, None)
        if uri in self.published:
            self.published.discard(uri)
            self._clear(uri)

    def on_settings(self, old: Settings, new: Settings) -> None:
        if old.diagnostics.enable and not new.diagnostics.enable:
            for uri in list(self.published):
                self.on_close_diagnostics_only(uri)
        elif new.diagnostics.enable and not old.diagnostics.enable:
            for snapshot in self.server.documents:
                self.on_change(snapshot)

    def on_close_diagnostics_only(self, uri: str) -> None:
        task = self.pending.pop(uri, None)
        if task is not None:
            task.cancel()
        self.published.discard(uri)
        self._clear(uri)

    def on_shutdown(self, _server: object) -> None:
        for task in self.pending.values():
            task.cancel()
        self.pending.clear()
        self.executor.shutdown(wait=False, cancel_futures=True)

    # -- the check --------------------------------------------------------------------------

    def is_current(self, snapshot: Snapshot) -> bool:
        latest = self.server.documents.get(snapshot.uri)
        return latest is not None and latest.version == snapshot.version

    async def _run(self, uri: str, version: int) -> None:
        delay = self.server.settings.diagnostics.debounceMs / 1000
        if delay > 0:
            await asyncio.sleep(delay)
        snapshot = self.server.documents.get(uri)
        if snapshot is None or snapshot.version != version or self.server.closing:
            return
        result = await self.check(snapshot)
        if not self.is_current(snapshot) or self.server.closing:
            return  # a newer version is on its way; never publish an old one
        if self.pending.get(snapshot.uri) is asyncio.current_task():
            self.pending.pop(snapshot.uri, None)
        if result.note:
            self.server.show_message_once(
                f"diagnostics-note:{snapshot.uri}",
                f"ghostls: {result.note}",
                types.MessageType.Info,
            )
        from ghostls.handlers.diagnostics import publish

        publish(self.server, snapshot, result.problems)
        self.published.add(snapshot.uri)

    async def check(self, snapshot: Snapshot) -> CheckResult:
        """The check of ``snapshot`` (cached per version), run on the worker thread."""
        cached = self.results.get(snapshot.uri)
        if cached is not None and cached[0].version == snapshot.version:
            return cached[1]
        loop = asyncio.get_running_loop()
        name = PurePath(snapshot.uri).name or "<buffer>"
        result = await loop.run_in_executor(
            self.executor, lambda: check_text(snapshot.text, snapshot.tree, filename=name)
        )
        self.server.counters.extra["diagnostics_ms"] = round(result.elapsed_ms, 2)
        if self.is_current(snapshot):
            self.results[snapshot.uri] = (snapshot, result)
            if result.names_checked:
                self.last_clean[snapshot.uri] = (snapshot, result)
        return result

    def _clear(self, uri: str) -> None:
        from ghostls.handlers.diagnostics import clear

        clear(self.server, uri)


def install(server: GhostServer) -> DiagnosticsService:
    """Attach diagnostics to the server's document events (called from create_server)."""
    service = DiagnosticsService(server)
    server.services[SERVICE_KEY] = service
    server.change_listeners.append(service.on_change)
    server.close_listeners.append(service.on_close)
    server.settings_listeners.append(service.on_settings)
    server.shutdown_hooks.append(service.on_shutdown)
    return service
