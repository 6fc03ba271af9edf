"""documents.py: a parse that takes too long gives up; the text stays exact, parsing recovers."""

from __future__ import annotations

import logging
import time

import pytest

import ghostls.documents as documents
from ghostls.documents import DocumentStore, TextEdit

GARBAGE = "\x01\x02 )( ]\n" * 20_000


def test_parse_gives_up_within_the_bound_and_recovers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(documents, "PARSE_TIMEOUT_MICROS", 1_000)  # 1 ms: hostile for anything
    store = DocumentStore()
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="ghostls.documents"):
        snapshot = store.open("file:///hostile.py", GARBAGE, 1)
    elapsed = time.perf_counter() - started
    assert "gave up" in caplog.text
    assert snapshot.text == GARBAGE  # the text is never lost
    assert snapshot.tree.root_node.end_byte == 0  # an empty tree, not a stale or partial one
    # Far below a full parse of this buffer (hundreds of ms): the bound was applied.
    assert elapsed < 5.0
    # Edits still apply exactly while degraded.
    snapshot = store.change("file:///hostile.py", [TextEdit(0, 0, 0, 0, "x = 1\n")], 2)
    assert snapshot is not None
    assert snapshot.text == "x = 1\n" + GARBAGE
    # With time to finish, the next edit gets a real tree of the whole buffer again.
    monkeypatch.setattr(documents, "PARSE_TIMEOUT_MICROS", 60_000_000)
    snapshot = store.change("file:///hostile.py", [TextEdit(0, 0, 0, 0, "#\n")], 3)
    assert snapshot is not None
    assert snapshot.tree.root_node.end_byte == len(snapshot.source)
    assert snapshot.tree.root_node.child(0) is not None


def test_normal_parse_is_unchanged() -> None:
    snapshot = DocumentStore().open("file:///ok.py", "def f(:\n    pass\n", 1)
    assert snapshot.tree.root_node.has_error
    assert snapshot.tree.root_node.end_byte == len(snapshot.source)
