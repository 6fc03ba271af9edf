"""textDocument/codeAction and codeAction/resolve: quick fixes."""

from __future__ import annotations

from lsprotocol import types

from ghostls.app import GhostServer


async def code_action(
    ls: GhostServer, params: types.CodeActionParams
) -> list[types.CodeAction | types.Command] | None:
    return []


async def resolve_code_action(ls: GhostServer, params: types.CodeAction) -> types.CodeAction:
    return params
