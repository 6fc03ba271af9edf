"""documents.py: parsing a hostile buffer gives up or stops per keystroke; text stays exact.

A full parse of a large document is bounded (PARSE_TIMEOUT_MICROS). A large document whose
parse costs several times what plain code costs per byte is "degraded": keystrokes do not
re-parse it (they took 0.7-1.3 s each in 300 KB of junk), its snapshots get an empty tree, and
a retry now and then (bounded, incremental from the last good tree with every edit since
applied) brings the tree back once parsing is fast again.
"""

from __future__ import annotations

import logging
import random
import resource
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
    monkeypatch.setattr(documents, "RETRY_FIRST_SECONDS", 3600.0)  # no retry in this test
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


def _junk(size: int) -> str:
    rng = random.Random(10)
    return bytes(rng.randrange(256) for _ in range(size)).decode("latin-1")


def _plain_code(lines: int) -> str:
    return "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(lines // 2))


def test_keystrokes_in_binary_junk_do_not_reparse(caplog: pytest.LogCaptureFixture) -> None:
    """300 KB of junk (12x plain code's parse cost per byte here) degrades on open."""
    store = DocumentStore()
    uri = "file:///junk.py"
    junk = _junk(200_000)
    with caplog.at_level(logging.WARNING, logger="ghostls.documents"):
        opened = store.open(uri, junk, 1)
    assert store.degraded(uri)
    assert "plain code per byte" in caplog.text
    assert opened.tree.root_node.end_byte == len(opened.source)  # the open paid for its tree
    text = junk
    for version in range(2, 12):
        snapshot = store.change(uri, [TextEdit(100, 0, 100, 0, "x")], version)
        assert snapshot is not None
        lines = text.split("\n")
        lines[100] = "x" + lines[100]
        text = "\n".join(lines)
        assert snapshot.text == text  # never a lost keystroke
        assert snapshot.tree.root_node.end_byte == 0  # no parse per keystroke
    # Deleting the junk (the document becomes small) parses again at once.
    snapshot = store.change(uri, [TextEdit(0, 0, 10_000, 0, "x = 1\n")], 12)
    assert snapshot is not None and snapshot.text == "x = 1\n"
    assert not store.degraded(uri)
    assert str(snapshot.tree.root_node) == str(documents.new_parser().parse(b"x = 1\n").root_node)


def test_plain_code_with_a_typo_keeps_parsing() -> None:
    """Real code is never judged pathological, even where an edit re-parses a lot."""
    store = DocumentStore()
    uri = "file:///big.py"
    snapshot = store.open(uri, _plain_code(12_000), 1)
    assert not store.degraded(uri)
    row = snapshot.line_count // 2
    for version, piece in enumerate(["x", '"""', "(", ")"], start=2):
        snapshot = store.change(uri, [TextEdit(row, 0, row, 0, piece)], version)
        assert snapshot is not None
        assert not store.degraded(uri)
        assert snapshot.tree.root_node.end_byte == len(snapshot.source)


def test_a_retry_after_many_edits_equals_a_fresh_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pending tree took every edit made while degraded: the retry's incremental parse
    is the fresh parse of the text (a tree edit lost or misplaced would show here)."""
    monkeypatch.setattr(documents, "SLOW_PARSE_MIN_BYTES", 0)
    monkeypatch.setattr(documents, "SLOW_PARSE_MIN_MICROS", 0)
    monkeypatch.setattr(documents, "SLOW_FACTOR", -1.0)  # every parse is "too slow"
    monkeypatch.setattr(documents, "RETRY_FIRST_SECONDS", 3600.0)
    store = DocumentStore()
    uri = "file:///retry.py"
    text = _plain_code(200)
    store.open(uri, text, 1)
    assert store.degraded(uri)
    rng = random.Random(3)
    for version in range(2, 40):
        lines = text.split("\n")
        row = rng.randrange(len(lines))
        col = rng.randrange(len(lines[row]) + 1)
        piece = rng.choice(["x", "(", ")", ":\n    ", '"', "é", ""])
        end = min(len(lines[row]), col + rng.randrange(3))
        snapshot = store.change(uri, [TextEdit(row, col, row, end, piece)], version)
        lines[row] = lines[row][:col] + piece + lines[row][end:]
        text = "\n".join(lines)
        assert snapshot is not None and snapshot.text == text
        assert snapshot.tree.root_node.end_byte == 0
    monkeypatch.setattr(documents, "RETRY_FIRST_SECONDS", 0.0)
    store._docs[uri]._retry_at = 0.0  # the retry is due now
    snapshot = store.change(uri, [TextEdit(0, 0, 0, 0, "#\n")], 40)
    assert snapshot is not None
    fresh = documents.new_parser().parse(snapshot.source)
    assert snapshot.tree.root_node.end_byte == len(snapshot.source)
    assert str(snapshot.tree.root_node) == str(fresh.root_node)


def test_retries_do_not_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounded parses read one-byte chunks: py-tree-sitter 0.26 keeps a reference to every
    chunk (with 64 KB chunks ~the source's size per parse, 300 parses of 100 KB ~30 MB)."""
    monkeypatch.setattr(documents, "SLOW_PARSE_MIN_BYTES", 0)
    monkeypatch.setattr(documents, "SLOW_PARSE_MIN_MICROS", 0)
    monkeypatch.setattr(documents, "SLOW_FACTOR", -1.0)
    monkeypatch.setattr(documents, "RETRY_FIRST_SECONDS", 0.0)
    monkeypatch.setattr(documents, "RETRY_MAX_SECONDS", 0.0)
    store = DocumentStore()
    uri = "file:///leak.py"
    text = _plain_code(5_000)  # ~120 KB
    store.open(uri, text, 1)
    for version in range(2, 60):  # warm-up
        store.change(uri, [TextEdit(0, 0, 0, 0, "x")], version)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for version in range(60, 360):  # every second edit is a bounded retry
        store.change(uri, [TextEdit(0, 0, 0, 0, "x")], version)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 8_000, f"{grown_kb} kB over 150 bounded parses"
