"""Positions: LSP columns in UTF-16 / UTF-8 / UTF-32, clamping, CRLF, and the store's edges."""

from __future__ import annotations

import pytest

from ghostls.documents import DocumentStore, TextEdit, new_parser
from ghostls.positions import Encoding, column_to_index, index_to_column, utf8_len

SNAKE = "🐍"  # astral: 2 UTF-16 code units, 4 UTF-8 bytes


@pytest.mark.parametrize(
    ("encoding", "column", "index"),
    [
        (Encoding.UTF16, 0, 0),
        (Encoding.UTF16, 1, 1),  # after 'a'
        (Encoding.UTF16, 2, 1),  # inside the surrogate pair: start of the emoji
        (Encoding.UTF16, 3, 2),  # after the emoji
        (Encoding.UTF16, 4, 3),  # after 'é'
        (Encoding.UTF16, 99, 4),  # beyond the end: the end
        (Encoding.UTF8, 1, 1),
        (Encoding.UTF8, 2, 1),  # inside the emoji's 4 bytes
        (Encoding.UTF8, 4, 1),
        (Encoding.UTF8, 5, 2),
        (Encoding.UTF8, 6, 2),  # inside 'é'
        (Encoding.UTF8, 7, 3),
        (Encoding.UTF32, 2, 2),
        (Encoding.UTF32, 9, 4),
        (Encoding.UTF16, -3, 0),
    ],
)
def test_column_to_index_clamps(encoding: Encoding, column: int, index: int) -> None:
    assert column_to_index(f"a{SNAKE}éb", column, encoding) == index


@pytest.mark.parametrize(
    ("encoding", "index", "column"),
    [
        (Encoding.UTF16, 2, 3),
        (Encoding.UTF16, 4, 5),
        (Encoding.UTF8, 2, 5),
        (Encoding.UTF8, 3, 7),
        (Encoding.UTF32, 3, 3),
        (Encoding.UTF16, 40, 5),  # beyond the end
    ],
)
def test_index_to_column(encoding: Encoding, index: int, column: int) -> None:
    assert index_to_column(f"a{SNAKE}éb", index, encoding) == column


def test_encoding_from_lsp_defaults_to_utf16() -> None:
    assert Encoding.from_lsp("utf-8") is Encoding.UTF8
    assert Encoding.from_lsp("utf-32") is Encoding.UTF32
    assert Encoding.from_lsp("latin-1") is Encoding.UTF16
    assert Encoding.from_lsp(None) is Encoding.UTF16
    assert utf8_len(SNAKE + "中") == 7


def test_snapshot_positions_with_crlf_and_no_trailing_newline() -> None:
    text = f"x = '{SNAKE}'\r\ny = 中\r\nlast"
    snap = DocumentStore().open("file:///p.py", text, 1)
    assert snap.line_count == 3
    assert snap.line(0) == f"x = '{SNAKE}'"
    assert snap.line(1) == "y = 中"
    assert snap.line(2) == "last"
    assert snap.line(7) == ""
    # Column past the end of a CRLF line stops before the '\r'.
    assert snap.offset_at(0, 100) == text.index("\r")
    assert snap.offset_at(1, 5) == text.index("中") + 1
    assert snap.offset_at(9, 0) == len(text)  # beyond the last line: end of text
    assert snap.offset_at(-1, 4) == 0
    assert snap.position_at(len(text)) == (2, 4)
    assert snap.position_at(text.index("'") + 2) == (0, 7)  # after the emoji: 5 + 2 units
    snake_at = text.index(SNAKE)
    assert snap.byte_at(snake_at + 1) == snake_at + 4
    assert snap.offset_of_byte(snake_at + 2) == snake_at  # inside the emoji's bytes
    assert snap.point_at(text.index("中") + 1) == (1, 7)


def test_edits_at_surrogate_pairs_and_line_ends() -> None:
    store = DocumentStore(Encoding.UTF16)
    uri = "file:///e.py"
    store.open(uri, f"a{SNAKE}b\r\nc", 1)
    # Column 2 is inside the surrogate pair: it clamps to the emoji's start.
    snap = store.change(uri, [TextEdit(0, 2, 0, 2, "X")], 2)
    assert snap is not None and snap.text == f"aX{SNAKE}b\r\nc"
    # Replacing the emoji by its UTF-16 range.
    snap = store.change(uri, [TextEdit(0, 2, 0, 4, "é")], 3)
    assert snap is not None and snap.text == "aXéb\r\nc"
    # A range ending past the line's end stops before the CRLF.
    snap = store.change(uri, [TextEdit(0, 3, 0, 50, "")], 4)
    assert snap is not None and snap.text == "aXé\r\nc"
    # Joining lines removes the whole CRLF.
    snap = store.change(uri, [TextEdit(0, 3, 1, 0, " ")], 5)
    assert snap is not None and snap.text == "aXé c"
    assert snap.line_count == 1
    assert str(snap.tree.root_node) == str(new_parser().parse(snap.source).root_node)


def test_store_ignores_stale_versions_and_unknown_documents() -> None:
    store = DocumentStore()
    store.open("file:///s.py", "x = 1\n", 5)
    assert store.change("file:///s.py", [TextEdit(0, 0, 0, 0, "y")], 4) is None
    assert store.get("file:///s.py").text == "x = 1\n"  # type: ignore[union-attr]
    assert store.change("file:///other.py", ["z"], 1) is None
    full = store.change("file:///s.py", ["def g():\n    pass\n"], 6)
    assert full is not None and full.version == 6
    assert full.tree.root_node.children[0].type == "function_definition"
    store.close("file:///s.py")
    assert "file:///s.py" not in store
    assert len(store) == 0


def test_empty_edit_keeps_the_same_tree() -> None:
    store = DocumentStore()
    first = store.open("file:///n.py", "x = 1\n", 1)
    second = store.change("file:///n.py", [TextEdit(0, 2, 0, 2, "")], 2)
    assert second is not None and second.version == 2
    assert second.tree is first.tree
