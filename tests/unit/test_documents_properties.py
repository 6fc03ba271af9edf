"""Property tests: random incremental edits keep the store exact and its tree fresh.

The model is a plain Python string edited with an independent position conversion, written
from the LSP spec (lines end at '\\n', a '\\r' before it is not part of the line, columns
count UTF-16 code units or UTF-8 bytes, and clamp to the line's end or to the start of the
character they fall inside).
"""

from __future__ import annotations

from dataclasses import dataclass

import tree_sitter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ghostls.documents import DocumentStore, LineTable, TextEdit, new_parser
from ghostls.positions import Encoding

PIECES = [
    "a",
    "b_1",
    " ",
    "    ",
    "\t",
    "\n",
    "\r\n",
    "(",
    ")",
    "[",
    "]",
    ":",
    '"',
    "'",
    '"""',
    "#",
    "\\",
    "é",
    "中",
    "🐍",
    "𝔘",
    "def f(x):",
    "class C:",
    "x = 1",
    "return ",
    "if x:",
    "f'{a}'",
]
text_st = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


def model_lines(text: str) -> list[str]:
    """Line contents as LSP sees them (terminators dropped)."""
    lines = text.split("\n")
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def model_offset(text: str, line: int, character: int, encoding: Encoding) -> int:
    raw = text.split("\n")
    if line < 0:
        return 0
    if line >= len(raw):
        return len(text)
    start = sum(len(r) + 1 for r in raw[:line])
    content = model_lines(text)[line]
    units = 0
    for index, ch in enumerate(content):
        if encoding is Encoding.UTF16:
            width = len(ch.encode("utf-16-le")) // 2
        elif encoding is Encoding.UTF8:
            width = len(ch.encode("utf-8"))
        else:
            width = 1
        if units + width > character:
            return start + index
        units += width
    return start + len(content)


def model_apply(text: str, edit: TextEdit, encoding: Encoding) -> str:
    a = model_offset(text, edit.start_line, edit.start_character, encoding)
    b = model_offset(text, edit.end_line, edit.end_character, encoding)
    a, b = min(a, b), max(a, b)
    return text[:a] + edit.text + text[b:]


def model_column(text: str, offset: int, encoding: Encoding) -> tuple[int, int]:
    before = text[:offset]
    line = before.count("\n")
    head = before.rsplit("\n", 1)[-1]
    content = model_lines(text)[line]
    head = head[: len(content)]
    if encoding is Encoding.UTF16:
        return line, len(head.encode("utf-16-le")) // 2
    if encoding is Encoding.UTF8:
        return line, len(head.encode("utf-8"))
    return line, len(head)


@dataclass(frozen=True)
class EditSpec:
    """Positions as fractions of the current text, so they stay meaningful as it changes."""

    start: float
    length: float
    text: str
    jitter_line: int  # occasionally push a position past the last line / column
    jitter_col: int
    reverse: bool


edit_spec_st = st.builds(
    EditSpec,
    start=st.floats(0, 1),
    length=st.floats(0, 0.3),
    text=text_st,
    jitter_line=st.sampled_from([0, 0, 0, 0, 1, 5]),
    jitter_col=st.sampled_from([0, 0, 0, 0, 1, 3, 100]),
    reverse=st.booleans(),
)


def to_edit(text: str, spec: EditSpec, encoding: Encoding) -> TextEdit:
    a = int(spec.start * len(text))
    b = min(len(text), a + int(spec.length * len(text)))
    (l1, c1), (l2, c2) = model_column(text, a, encoding), model_column(text, b, encoding)
    if spec.jitter_line >= 1 and spec.jitter_col == 100:
        l2 += spec.jitter_line  # beyond the last line: clamps to the end of the text
    c2 += spec.jitter_col  # beyond a line's end, or into a surrogate pair / UTF-8 sequence
    if spec.reverse:
        return TextEdit(l2, c2, l1, c1, spec.text)
    return TextEdit(l1, c1, l2, c2, spec.text)


def node_positions(node: tree_sitter.Node) -> list[tuple[str, int, int, object, object, bool]]:
    """Every node with its byte range and points (the S-expression leaves positions out)."""
    out = []
    stack = [node]
    while stack:
        current = stack.pop()
        out.append(
            (
                current.type,
                current.start_byte,
                current.end_byte,
                tuple(current.start_point),
                tuple(current.end_point),
                current.is_missing,
            )
        )
        stack.extend(reversed(current.children))
    return out


def assert_store_matches(store: DocumentStore, uri: str, text: str) -> None:
    snap = store.get(uri)
    assert snap is not None
    assert snap.text == text
    assert snap.source == text.encode("utf-8")
    expected_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    assert list(snap.line_offsets) == expected_starts
    fresh = new_parser().parse(text.encode("utf-8"))
    assert str(snap.tree.root_node) == str(fresh.root_node)
    assert node_positions(snap.tree.root_node) == node_positions(fresh.root_node)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    initial=text_st,
    specs=st.lists(edit_spec_st, min_size=1, max_size=12),
    encoding=st.sampled_from([Encoding.UTF16, Encoding.UTF8, Encoding.UTF32]),
    batch=st.booleans(),
    block=st.sampled_from([1, 2, 3, 64]),
)
def test_random_edits_match_string_model_and_fresh_parse(
    initial: str, specs: list[EditSpec], encoding: Encoding, batch: bool, block: int
) -> None:
    # Tiny line-table blocks make every edit cross block boundaries.
    saved, LineTable.BLOCK = LineTable.BLOCK, block
    try:
        _check_random_edits(initial, specs, encoding, batch)
    finally:
        LineTable.BLOCK = saved


def _check_random_edits(
    initial: str, specs: list[EditSpec], encoding: Encoding, batch: bool
) -> None:
    store = DocumentStore(encoding)
    uri = "file:///prop.py"
    store.open(uri, initial, 0)
    model = initial
    version = 0
    if batch:
        # Several content changes in one didChange: each is relative to the previous one.
        edits = []
        for spec in specs:
            edit = to_edit(model, spec, encoding)
            edits.append(edit)
            model = model_apply(model, edit, encoding)
        store.change(uri, edits, 1)
        assert_store_matches(store, uri, model)
        return
    for spec in specs:
        edit = to_edit(model, spec, encoding)
        model = model_apply(model, edit, encoding)
        version += 1  # noqa: SIM113 - versions, not indices
        assert store.change(uri, [edit], version) is not None
        assert_store_matches(store, uri, model)


@settings(max_examples=100, deadline=None)
@given(text=text_st, encoding=st.sampled_from([Encoding.UTF16, Encoding.UTF8, Encoding.UTF32]))
def test_offsets_bytes_and_positions_round_trip(text: str, encoding: Encoding) -> None:
    store = DocumentStore(encoding)
    snap = store.open("file:///rt.py", text, 1)
    source = text.encode("utf-8")
    for offset in range(len(text) + 1):
        byte = snap.byte_at(offset)
        assert byte == len(text[:offset].encode("utf-8"))
        assert snap.offset_of_byte(byte) == offset
        row, column = snap.point_at(offset)
        assert row == text[:offset].count("\n")
        line_start = text.rfind("\n", 0, offset) + 1
        assert column == len(text[line_start:offset].encode("utf-8"))
        line, col = snap.position_at(offset)
        if offset == len(text) or text[offset - 1 : offset + 1] != "\r\n":
            # Every offset except the one between '\r' and '\n' is a real LSP position.
            assert (line, col) == model_column(text, offset, encoding)
            assert snap.offset_at(line, col) == offset
    # A byte inside a multi-byte character maps to that character.
    for byte in range(len(source) + 1):
        offset = snap.offset_of_byte(byte)
        assert len(text[:offset].encode("utf-8")) <= byte
        assert offset == len(text) or len(text[: offset + 1].encode("utf-8")) > byte


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.integers(0, 50), max_size=40).map(lambda xs: sorted(set(xs))),
    ops=st.lists(
        st.tuples(
            st.integers(0, 45),
            st.integers(0, 10),
            st.lists(st.integers(0, 3), max_size=5),
            st.integers(-5, 5),
        ),
        max_size=10,
    ),
    block=st.sampled_from([1, 2, 3, 5, 64]),
)
def test_line_table_matches_a_list(
    values: list[int], ops: list[tuple[int, int, list[int], int]], block: int
) -> None:
    saved, LineTable.BLOCK = LineTable.BLOCK, block
    try:
        table = LineTable.from_values(values)
        model = list(values)
        for first, span, new, delta in ops:
            first = min(first, len(model))
            last = min(len(model), first + span)
            model = model[:first] + new + [v + delta for v in model[last:]]
            previous, before = table, list(table)
            table = table.replace(first, last, new, delta)
            assert list(previous) == before  # the old table (a snapshot's) is left as it was
            assert list(table) == model
            assert len(table) == len(model)
            assert [table[i] for i in range(len(model))] == model
        if model == sorted(model):
            for probe in range(-2, 60):
                expected = max(0, sum(1 for v in model if v <= probe) - 1)
                assert table.row_of(probe) == expected
    finally:
        LineTable.BLOCK = saved


def test_snapshots_stay_valid_while_the_store_moves_on() -> None:
    store = DocumentStore()
    uri = "file:///keep.py"
    first = store.open(uri, "def f(x):\n    return x\n", 1)
    first_tree = str(first.tree.root_node)
    second = store.change(uri, [TextEdit(1, 11, 1, 12, "y + 1")], 2)
    assert second is not None
    assert second.text == "def f(x):\n    return y + 1\n"
    assert first.text == "def f(x):\n    return x\n"
    assert str(first.tree.root_node) == first_tree
    assert first.tree.root_node.end_byte == len(first.source)
