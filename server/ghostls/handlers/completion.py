"""textDocument/completion: the inline suggestion as a completion item, for older clients.

Neovim <= 0.11's built-in client and Emacs eglot have no ghost text; they get the same
suggestion as the first item of an incomplete list (so they ask again as the user types).
"""

from __future__ import annotations

from lsprotocol import types

from ghostls.app import GhostServer
from ghostls.completion.service import Suggestion, completion_service
from ghostls.handlers.inline_completion import accept_command, lsp_range

LABEL_WIDTH = 60


def _word_start(suggestion: Suggestion) -> int:
    """Start of the identifier before the cursor: clients filter items by that word."""
    text = suggestion.snapshot.text
    start = suggestion.start
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    return start


def label_for(full: str) -> str:
    lines = [line.strip() for line in full.splitlines() if line.strip()]
    label = lines[0] if lines else full.strip()
    more = len(lines) > 1
    if len(label) > LABEL_WIDTH:
        label, more = label[: LABEL_WIDTH - 1], True
    return label + (" …" if more else "")


def completion_item(suggestion: Suggestion, plain_insert: bool = False) -> types.CompletionItem:
    """``plain_insert``: give ``insertText`` instead of a ``textEdit`` (see ``_plain_insert``)."""
    start = _word_start(suggestion)
    typed = suggestion.snapshot.text[start : suggestion.start]
    full = typed + suggestion.text
    # A menu that takes insertText inserts one line; a newline would arrive as a NUL character.
    inserted = full.split("\n", 1)[0] if plain_insert else full
    return types.CompletionItem(
        label=label_for(full),
        kind=types.CompletionItemKind.Text,
        detail="ghostls suggestion",
        documentation=types.MarkupContent(
            kind=types.MarkupKind.Markdown, value=f"```python\n{full}\n```"
        ),
        sort_text="0000",
        filter_text=inserted,
        preselect=True,
        insert_text_format=types.InsertTextFormat.PlainText,
        insert_text=inserted if plain_insert else None,
        text_edit=None
        if plain_insert
        else types.TextEdit(range=lsp_range(suggestion, start), new_text=full),
        command=accept_command(suggestion),
    )


def _plain_insert(ls: GhostServer) -> bool:
    """Neovim's built-in menu inserts a plain-text textEdit only up to its first space
    (runtime/lua/vim/lsp/completion.lua, get_completion_word), so it gets insertText, which it
    inserts whole in place of the word before the cursor."""
    return ls.client_name.lower() in ("neovim", "nvim")


def _has_ghost_text(ls: GhostServer) -> bool:
    """Clients with inline completion show the suggestion as ghost text: no duplicate here."""
    try:
        caps = ls.client_capabilities.text_document
    except Exception:
        return False
    return caps is not None and caps.inline_completion is not None


async def completion(ls: GhostServer, params: types.CompletionParams) -> types.CompletionList:
    if _has_ghost_text(ls):
        return types.CompletionList(is_incomplete=False, items=[])
    position = params.position
    suggestion = await completion_service(ls).suggest(
        params.text_document.uri, position.line, position.character
    )
    items = [completion_item(suggestion, _plain_insert(ls))] if suggestion is not None else []
    return types.CompletionList(is_incomplete=True, items=items)
