"""textDocument/inlineCompletion: ghost text."""

from __future__ import annotations

from lsprotocol import types

from ghostls.app import GhostServer
from ghostls.completion.service import Suggestion, completion_service

ACCEPT_COMMAND = "ghostls.didAccept"


def lsp_range(suggestion: Suggestion, start: int | None = None) -> types.Range:
    snapshot = suggestion.snapshot
    first = start if start is not None else suggestion.start
    row, col = snapshot.position_at(first)
    end_row, end_col = snapshot.position_at(suggestion.end)
    return types.Range(
        start=types.Position(line=row, character=col),
        end=types.Position(line=end_row, character=end_col),
    )


def accept_command(suggestion: Suggestion) -> types.Command:
    """Run by the client when the user takes the suggestion: a local accept count."""
    return types.Command(
        title="ghostls: suggestion accepted",
        command=ACCEPT_COMMAND,
        arguments=[{"id": suggestion.item_id, "acceptedLength": len(suggestion.text)}],
    )


async def inline_completion(
    ls: GhostServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList:
    position = params.position
    suggestion = await completion_service(ls).suggest(
        params.text_document.uri, position.line, position.character
    )
    if suggestion is None:
        return types.InlineCompletionList(items=[])
    # Always a range: without one VS Code replaces the word at the cursor.
    item = types.InlineCompletionItem(
        insert_text=suggestion.text,
        range=lsp_range(suggestion),
        command=accept_command(suggestion),
    )
    return types.InlineCompletionList(items=[item])
