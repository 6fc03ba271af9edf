"""textDocument/inlineCompletion: ghost text."""

from __future__ import annotations

from lsprotocol import types

from ghostls.app import GhostServer


async def inline_completion(
    ls: GhostServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList | None:
    # The completion pipeline is not wired in yet: answer with no items rather than an error.
    return types.InlineCompletionList(items=[])
