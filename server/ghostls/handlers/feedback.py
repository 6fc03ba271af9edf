"""ghostls/didAccept, ghostls/didReject and ghostls/stats: local-only usage feedback.

Clients report what the user did with a suggestion (``{"id": item id, "acceptedLength": n}``),
either as a notification or through the item's command; nothing leaves the machine.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ghostls.app import GhostServer
from ghostls.completion.service import completion_service


def _field(params: Any, name: str) -> Any:
    """A field of params that may arrive as a dict, an attrs object or a namedtuple."""
    if isinstance(params, dict):
        return params.get(name)
    return getattr(params, name, None)


def _feedback(ls: GhostServer, params: Any, accepted: bool) -> None:
    if accepted:
        ls.counters.accepted += 1
    else:
        ls.counters.rejected += 1
    item_id = _field(params, "id")
    length = _field(params, "acceptedLength")
    completion_service(ls).record_feedback(
        str(item_id) if item_id is not None else "",
        accepted,
        length if isinstance(length, int) and not isinstance(length, bool) else None,
    )


def did_accept(ls: GhostServer, params: Any) -> None:
    _feedback(ls, params, accepted=True)


def did_reject(ls: GhostServer, params: Any) -> None:
    _feedback(ls, params, accepted=False)


def accept_command(ls: GhostServer, *args: Any) -> None:
    """workspace/executeCommand ghostls.didAccept, the command on every suggestion item."""
    _feedback(ls, args[0] if args else None, accepted=True)


def stats(ls: GhostServer, params: Any = None) -> dict[str, Any]:
    """Counters, completion statistics and engine state (the "show stats" command).

    ``params`` may ask for more of the recent request records: ``{"recent": 200}``.
    """
    result: dict[str, Any] = dataclasses.asdict(ls.counters)
    describe = ls.services.get("describe_engine")
    result["engine"] = describe() if callable(describe) else {"state": "not available"}
    recent = _field(params, "recent") if params is not None else None
    count = recent if isinstance(recent, int) and not isinstance(recent, bool) else 16
    result["completion"] = completion_service(ls).describe(max(0, min(count, 512)))
    return result


def stats_command(ls: GhostServer, *args: Any) -> dict[str, Any]:
    """workspace/executeCommand ghostls.stats (optional argument ``{"recent": n}``)."""
    return stats(ls, args[0] if args else None)
