"""Crafted buffers with the cursor marked in the text."""

from __future__ import annotations

from ghostls.documents import DocumentStore, Snapshot

CURSOR = "<|>"


def snapshot_at_cursor(text: str) -> tuple[Snapshot, int]:
    """The buffer without the marker, and the code-point offset where the marker was."""
    row = next(i for i, line in enumerate(text.split("\n")) if CURSOR in line)
    column = text.split("\n")[row].index(CURSOR)
    snapshot = DocumentStore().open("file:///t/marked.py", text.replace(CURSOR, ""), 1)
    return snapshot, snapshot.offset_at(row, column)
