"""ghostls/didAccept, ghostls/didReject and ghostls/stats: local-only usage feedback."""

from __future__ import annotations

import dataclasses
from typing import Any

from ghostls.app import GhostServer


def did_accept(ls: GhostServer, params: Any) -> None:
    ls.counters.accepted += 1


def did_reject(ls: GhostServer, params: Any) -> None:
    ls.counters.rejected += 1


def stats(ls: GhostServer, params: Any) -> dict[str, Any]:
    """Counters and engine state, for the editor's "show stats" command."""
    result: dict[str, Any] = dataclasses.asdict(ls.counters)
    describe = ls.services.get("describe_engine")
    result["engine"] = describe() if callable(describe) else {"state": "not available"}
    return result
