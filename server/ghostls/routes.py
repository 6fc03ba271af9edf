"""The one table binding every LSP method ghostls serves to its handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from ghostls.app import GhostServer
from ghostls.handlers import (
    code_actions,
    commands,
    completion,
    configuration,
    feedback,
    inline_completion,
    lifecycle,
    text_sync,
)

# Custom methods (clients report what the user did with a suggestion; editors show stats).
DID_ACCEPT = "ghostls/didAccept"
DID_REJECT = "ghostls/didReject"
STATS = "ghostls/stats"


@dataclass(frozen=True)
class Route:
    method: str
    handler: Callable[..., Any]
    options: Any = None


ROUTES: tuple[Route, ...] = (
    Route(types.INITIALIZE, lifecycle.on_initialize),
    Route(types.INITIALIZED, lifecycle.on_initialized),
    Route(types.SHUTDOWN, lifecycle.on_shutdown),
    Route(types.EXIT, lifecycle.on_exit),
    Route(types.TEXT_DOCUMENT_DID_OPEN, text_sync.did_open),
    Route(types.TEXT_DOCUMENT_DID_CHANGE, text_sync.did_change),
    Route(types.TEXT_DOCUMENT_DID_CLOSE, text_sync.did_close),
    Route(types.TEXT_DOCUMENT_DID_SAVE, text_sync.did_save),
    Route(types.WORKSPACE_DID_CHANGE_CONFIGURATION, configuration.did_change_configuration),
    # pygls advertises inlineCompletionProvider only when options are given.
    Route(
        types.TEXT_DOCUMENT_INLINE_COMPLETION,
        inline_completion.inline_completion,
        types.InlineCompletionOptions(),
    ),
    Route(
        types.TEXT_DOCUMENT_COMPLETION,
        completion.completion,
        types.CompletionOptions(trigger_characters=[".", "(", " "], resolve_provider=False),
    ),
    Route(
        types.TEXT_DOCUMENT_CODE_ACTION,
        code_actions.code_action,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix], resolve_provider=True
        ),
    ),
    Route(types.CODE_ACTION_RESOLVE, code_actions.resolve_code_action),
    Route(DID_ACCEPT, feedback.did_accept),
    Route(DID_REJECT, feedback.did_reject),
    Route(STATS, feedback.stats),
)


# workspace/executeCommand names.
COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("ghostls.debug.documentText", commands.document_text),
    ("ghostls.toggleCompletions", commands.toggle_completions),
    # Sent back by clients when a suggestion is taken (the item's command), and shown stats.
    ("ghostls.didAccept", feedback.accept_command),
    ("ghostls.stats", feedback.stats_command),
)


def register_routes(server: GhostServer) -> None:
    for name, handler in COMMANDS:
        server.command(name)(handler)
    for route in ROUTES:
        if route.options is None:
            server.feature(route.method)(route.handler)
        else:
            server.feature(route.method, route.options)(route.handler)
