"""textDocument/completion: the inline suggestion as a completion item, for older clients."""

from __future__ import annotations

from lsprotocol import types

from ghostls.app import GhostServer


async def completion(ls: GhostServer, params: types.CompletionParams) -> types.CompletionList:
    return types.CompletionList(is_incomplete=True, items=[])
