"""didOpen / didChange / didClose keep the document store in step with the editor."""

from __future__ import annotations

from lsprotocol import types

from ghostls.app import GhostServer
from ghostls.documents import TextEdit


def did_open(ls: GhostServer, params: types.DidOpenTextDocumentParams) -> None:
    doc = params.text_document
    snapshot = ls.documents.open(doc.uri, doc.text, doc.version)
    ls.emit_change(snapshot)


def _to_edit(change: types.TextDocumentContentChangeEvent) -> TextEdit | str:
    if isinstance(change, types.TextDocumentContentChangePartial):
        r = change.range
        return TextEdit(r.start.line, r.start.character, r.end.line, r.end.character, change.text)
    return change.text


def did_change(ls: GhostServer, params: types.DidChangeTextDocumentParams) -> None:
    doc = params.text_document
    edits = [_to_edit(change) for change in params.content_changes]
    snapshot = ls.documents.change(doc.uri, edits, doc.version)
    if snapshot is not None:
        ls.emit_change(snapshot)


def did_close(ls: GhostServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.documents.close(params.text_document.uri)
    ls.emit_close(params.text_document.uri)


def did_save(ls: GhostServer, params: types.DidSaveTextDocumentParams) -> None:
    """Nothing to do: ghostls works on the editor's buffer, not the file on disk. Handled so
    clients that send it anyway (eglot) don't fill the log with 'unknown method' warnings."""
