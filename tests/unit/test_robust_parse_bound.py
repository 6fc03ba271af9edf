"""documents.py: a first parse that takes too long gives up; the text stays exact.

py-tree-sitter 0.26 honours progress_callback only when reading through a callback, and that
path leaks what the callback returns, so the bound is applied to the first parse of a large
document only (BOUNDED_PARSE_MIN_BYTES); later edits parse from bytes as before.
"""

from __future__ import annotations

import logging
import time

import pytest

import ghostls.documents as documents
from ghostls.documents import DocumentStore, TextEdit

GARBAGE = "\x01\x02 )( ]\n" * 20_000


def test_first_parse_gives_up_within_the_bound(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(documents, "PARSE_TIMEOUT_MICROS", 1_000)  # 1 ms: hostile for anything
    monkeypatch.setattr(documents, "BOUNDED_PARSE_MIN_BYTES", 0)
    store = DocumentStore()
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="ghostls.documents"):
        snapshot = store.open("file:///hostile.py", GARBAGE, 1)
    elapsed = time.perf_counter() - started
    assert "gave up" in caplog.text
    assert snapshot.text == GARBAGE  # the text is never lost
    assert snapshot.tree.root_node.end_byte == 0  # an empty tree, not a partial one
    assert elapsed < 5.0
    # Edits still apply exactly; the degraded document does not re-parse on every keystroke.
    snapshot = store.change("file:///hostile.py", [TextEdit(0, 0, 0, 0, "x = 1\n")], 2)
    assert snapshot is not None
    assert snapshot.text == "x = 1\n" + GARBAGE
    assert snapshot.tree.root_node.end_byte == 0
    # A full replacement parses again.
    snapshot = store.change("file:///hostile.py", ["y = 2\n"], 3)
    assert snapshot is not None
    assert snapshot.tree.root_node.end_byte == len(snapshot.source)


def test_small_documents_and_edits_are_parsed_unbounded() -> None:
    store = DocumentStore()
    snapshot = store.open("file:///ok.py", "def f(:\n    pass\n", 1)
    assert snapshot.tree.root_node.has_error
    assert snapshot.tree.root_node.end_byte == len(snapshot.source)
    snapshot = store.change("file:///ok.py", [TextEdit(0, 6, 0, 6, "x)")], 2)
    assert snapshot is not None
    assert not snapshot.tree.root_node.has_error
