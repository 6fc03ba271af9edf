"""Open documents: text, version and tree-sitter tree, edited incrementally.

The store is mutated only on the event loop (didOpen/didChange/didClose). Features take an
immutable :class:`Snapshot`; the tree inside a snapshot is never edited again because every edit
works on a copy of the previous tree.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import overload

import tree_sitter
import tree_sitter_python

from ghostls.positions import Encoding, column_to_index, index_to_column, utf8_len

log = logging.getLogger(__name__)

PY_LANGUAGE = tree_sitter.Language(tree_sitter_python.language())

# Parsing a pathological buffer must give up rather than stall the event loop.
PARSE_TIMEOUT_MICROS = 2_000_000
# Only the first parse of a document at least this large is bounded (see Document._parse).
BOUNDED_PARSE_MIN_BYTES = 256 * 1024


def new_parser() -> tree_sitter.Parser:
    parser = tree_sitter.Parser(PY_LANGUAGE)
    return parser


def _parse_bounded(
    parser: tree_sitter.Parser, source: bytes, old: tree_sitter.Tree | None
) -> tree_sitter.Tree | None:
    """Parse within PARSE_TIMEOUT_MICROS; None when it gave up.

    tree-sitter 0.26 only honours progress_callback when it reads through a callback.
    """
    deadline = time.monotonic() + PARSE_TIMEOUT_MICROS / 1_000_000

    def read(byte: int, _point: tuple[int, int]) -> bytes:
        return source[byte : byte + 65536]

    def give_up(_offset: int, _has_error: bool) -> bool:
        return time.monotonic() > deadline

    try:
        if old is None:
            return parser.parse(read, progress_callback=give_up)
        return parser.parse(read, old, progress_callback=give_up)
    except ValueError:  # "Parsing failed": the callback halted it
        return None


def _line_starts(text: str, base: int = 0) -> list[int]:
    """Code-point offsets where each line after the first begins (just after each '\\n')."""
    starts: list[int] = []
    find = text.find
    pos = find("\n")
    while pos != -1:
        starts.append(base + pos + 1)
        pos = find("\n", pos + 1)
    return starts


class LineTable(Sequence[int]):
    """An immutable, sorted list of line-start offsets with cheap edits.

    Stored as blocks of about BLOCK lines, each with a shift added to its values, so an edit
    rebuilds only the blocks it touches and shifts the later ones by changing one number per
    block (a plain list would rewrite every following line start on every keystroke). Edits
    return a new table: snapshots keep theirs.
    """

    BLOCK = 64
    __slots__ = ("_blocks", "_firsts", "_shifts", "_starts")

    def __init__(
        self,
        blocks: tuple[tuple[int, ...], ...],
        shifts: tuple[int, ...],
        starts: tuple[int, ...] | None = None,
        firsts: tuple[int, ...] | None = None,
    ) -> None:
        self._blocks = blocks
        self._shifts = shifts
        # Index of each block's first line, then the total; each block's first value.
        self._starts = starts if starts is not None else (0, *accumulate(map(len, blocks)))
        self._firsts = (
            firsts
            if firsts is not None
            else tuple(b[0] + d for b, d in zip(blocks, shifts, strict=True))
        )

    @classmethod
    def from_values(cls, values: Sequence[int]) -> LineTable:
        blocks = _chunks(list(values), cls.BLOCK)
        return cls(blocks, (0,) * len(blocks))

    def __len__(self) -> int:
        return self._starts[-1]

    def _locate(self, index: int) -> tuple[int, int]:
        total = self._starts[-1]
        if index < 0:
            index += total
        if not 0 <= index < total:
            raise IndexError("line index out of range")
        block = bisect.bisect_right(self._starts, index) - 1
        return block, index - self._starts[block]

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> list[int]: ...

    def __getitem__(self, index: int | slice) -> int | list[int]:
        if isinstance(index, slice):
            return list(self)[index]
        block, inner = self._locate(index)
        return self._blocks[block][inner] + self._shifts[block]

    def __iter__(self) -> Iterator[int]:
        for block, shift in zip(self._blocks, self._shifts, strict=True):
            if shift:
                yield from (value + shift for value in block)
            else:
                yield from block

    def row_of(self, offset: int) -> int:
        """Index of the last line start <= ``offset`` (0 when before the first)."""
        block = bisect.bisect_right(self._firsts, offset) - 1
        if block < 0:
            return 0
        inner = bisect.bisect_right(self._blocks[block], offset - self._shifts[block]) - 1
        return self._starts[block] + inner

    def replace(self, first: int, last: int, new: Sequence[int], delta: int) -> LineTable:
        """The table with entries [first, last) replaced by ``new`` and ``delta`` added to
        every entry from ``last`` on."""
        blocks, shifts, starts = self._blocks, self._shifts, self._starts
        if not blocks:
            return LineTable.from_values(list(new))
        size = self.BLOCK
        # The blocks holding [first, last) (at least one: the one at or before `first`),
        # widened by a neighbour when the result would be a sliver.
        top = len(blocks) - 1
        b0 = min(top, max(0, bisect.bisect_right(starts, first) - 1))
        b1 = min(top, max(b0, bisect.bisect_right(starts, max(first, last - 1)) - 1))
        removed = last - first
        if starts[b1 + 1] - starts[b0] - removed + len(new) < size // 2 and b1 < top:
            b1 += 1
        base = starts[b0]
        middle: list[int] = []
        for b in range(b0, b1 + 1):
            shift = shifts[b]
            middle.extend([v + shift for v in blocks[b]] if shift else blocks[b])
        lo, hi = first - base, last - base
        middle[lo:hi] = new
        if delta:
            middle[lo + len(new) :] = [v + delta for v in middle[lo + len(new) :]]
        rebuilt = _chunks(middle, size)
        grown = len(new) - removed
        rebuilt_starts = tuple(accumulate(map(len, rebuilt[:-1]), initial=base)) if rebuilt else ()
        tail = slice(b1 + 1, None)
        return LineTable(
            blocks[:b0] + rebuilt + blocks[tail],
            shifts[:b0] + (0,) * len(rebuilt) + tuple(d + delta for d in shifts[tail]),
            starts[:b0] + rebuilt_starts + tuple(i + grown for i in starts[tail]),
            self._firsts[:b0]
            + tuple(r[0] for r in rebuilt)
            + tuple(f + delta for f in self._firsts[tail]),
        )


def _chunks(values: list[int], size: int) -> tuple[tuple[int, ...], ...]:
    """``values`` in blocks of ``size`` to ``2 * size`` entries (one block if fewer)."""
    if not values:
        return ()
    count = max(1, len(values) // size)
    step = -(-len(values) // count)
    return tuple(tuple(values[i : i + step]) for i in range(0, len(values), step))


@dataclass(frozen=True)
class TextEdit:
    """One change in LSP terms: a range (or None for a full replacement) and new text."""

    start_line: int
    start_character: int
    end_line: int
    end_character: int
    text: str


@dataclass(frozen=True, eq=False)
class Snapshot:
    """An immutable view of one document at one version."""

    uri: str
    version: int
    text: str
    source: bytes  # UTF-8 text, what tree-sitter parsed
    tree: tree_sitter.Tree
    line_offsets: Sequence[int]  # code-point offset of the start of every line (a LineTable)
    encoding: Encoding = Encoding.UTF16
    # UTF-8 byte offset of the start of every line (computed on first use when not given).
    line_byte_offsets: Sequence[int] = ()

    @property
    def line_count(self) -> int:
        return len(self.line_offsets)

    def row_of(self, offset: int) -> int:
        """The line holding code-point ``offset`` (clamped into the document)."""
        offsets = self.line_offsets
        if isinstance(offsets, LineTable):
            return offsets.row_of(offset)
        return max(0, bisect.bisect_right(offsets, offset) - 1)

    _row = row_of

    def _line_bytes(self) -> Sequence[int]:
        if len(self.line_byte_offsets) != len(self.line_offsets):
            starts = [0]
            find = self.source.find
            pos = find(b"\n")
            while pos != -1:
                starts.append(pos + 1)
                pos = find(b"\n", pos + 1)
            object.__setattr__(self, "line_byte_offsets", tuple(starts))
        return self.line_byte_offsets

    def line(self, row: int) -> str:
        """Line ``row`` without its line terminator ('\\n' or '\\r\\n')."""
        if row < 0 or row >= len(self.line_offsets):
            return ""
        start = self.line_offsets[row]
        end = self.line_offsets[row + 1] - 1 if row + 1 < len(self.line_offsets) else len(self.text)
        line = self.text[start:end]
        return line[:-1] if line.endswith("\r") else line

    def offset_at(self, row: int, column: int) -> int:
        """Code-point offset for an LSP position (clamped into the document)."""
        if row < 0:
            return 0
        if row >= len(self.line_offsets):
            return len(self.text)
        return self.line_offsets[row] + column_to_index(self.line(row), column, self.encoding)

    def position_at(self, offset: int) -> tuple[int, int]:
        """LSP (line, column) for a code-point offset."""
        offset = max(0, min(offset, len(self.text)))
        row = self._row(offset)
        index = offset - self.line_offsets[row]
        return row, index_to_column(self.line(row), index, self.encoding)

    def byte_at(self, offset: int) -> int:
        """UTF-8 byte offset for a code-point offset (what tree-sitter nodes use)."""
        offset = max(0, min(offset, len(self.text)))
        if len(self.source) == len(self.text):  # ASCII: bytes and code points agree
            return offset
        row = self._row(offset)
        start = self.line_offsets[row]
        return self._line_bytes()[row] + utf8_len(self.text[start:offset])

    def offset_of_byte(self, byte: int) -> int:
        """Code-point offset for a UTF-8 byte offset (inside a character: that character)."""
        byte = max(0, min(byte, len(self.source)))
        if len(self.source) == len(self.text):
            return byte
        line_bytes = self._line_bytes()
        row = bisect.bisect_right(line_bytes, byte) - 1
        chunk = self.source[line_bytes[row] : byte]
        for cut in range(4):  # a byte inside a multi-byte character: that character's start
            try:
                text = chunk[: len(chunk) - cut].decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                continue
            return self.line_offsets[row] + len(text)
        return self.line_offsets[row] + len(chunk.decode("utf-8", "replace"))

    def point_at(self, offset: int) -> tuple[int, int]:
        """tree-sitter point (row, byte column) for a code-point offset."""
        offset = max(0, min(offset, len(self.text)))
        row = self._row(offset)
        return row, utf8_len(self.text[self.line_offsets[row] : offset])


class Document:
    """Mutable state of one open document; produce snapshots with :meth:`snapshot`."""

    def __init__(
        self, uri: str, text: str, version: int, encoding: Encoding = Encoding.UTF16
    ) -> None:
        self.uri = uri
        self.version = version
        self.encoding = encoding
        self._parser = new_parser()
        self._snapshot: Snapshot | None = None
        self._degraded = False  # the first parse gave up (see _parse)
        self._parsed_once = False
        self._set_text(text)

    def _set_text(self, text: str) -> None:
        self._text = text
        self._source = text.encode("utf-8", "surrogatepass")
        self._line_offsets = LineTable.from_values([0, *_line_starts(text)])
        self._line_bytes = LineTable.from_values([0, *_byte_line_starts(self._source)])
        self._tree = self._parse(None)

    def _parse(self, old: tree_sitter.Tree | None) -> tree_sitter.Tree:
        if self._degraded and old is not None:
            # The first parse gave up: edits keep an empty tree (no stall per keystroke).
            return self._parser.parse(b"")
        first, self._parsed_once = not self._parsed_once, True
        if not (first and len(self._source) >= BOUNDED_PARSE_MIN_BYTES):
            self._degraded = False
            return (
                self._parser.parse(self._source)
                if old is None
                else self._parser.parse(self._source, old)
            )
        # py-tree-sitter 0.26 leaks every chunk a read callback returns (measured: about the
        # source's size per parse), and only that path takes a progress_callback: so the bound
        # is used once, on the first parse of a large document, where a stall is likeliest.
        tree = _parse_bounded(self._parser, self._source, None)
        self._degraded = tree is None
        if tree is None:
            self._parser.reset()
            log.warning(
                "parsing %s (%d bytes) gave up after %d ms; syntax features are off for it",
                self.uri,
                len(self._source),
                PARSE_TIMEOUT_MICROS // 1000,
            )
            tree = self._parser.parse(b"")
        return tree

    def snapshot(self) -> Snapshot:
        if self._snapshot is None or self._snapshot.version != self.version:
            self._snapshot = Snapshot(
                uri=self.uri,
                version=self.version,
                text=self._text,
                source=self._source,
                tree=self._tree,
                line_offsets=self._line_offsets,
                encoding=self.encoding,
                line_byte_offsets=self._line_bytes,
            )
        return self._snapshot

    def replace_all(self, text: str, version: int) -> None:
        self._set_text(text)
        self.version = version
        self._snapshot = None

    def apply(self, edits: Sequence[TextEdit | str], version: int) -> None:
        """Apply LSP content changes in order (a str is a full-text replacement)."""
        for edit in edits:
            if isinstance(edit, str):
                self.replace_all(edit, version)
            else:
                self._apply_one(edit)
        self.version = version
        self._snapshot = None

    def _offset(self, row: int, column: int) -> int:
        offsets = self._line_offsets
        if row < 0:
            return 0
        if row >= len(offsets):
            return len(self._text)
        start = offsets[row]
        end = offsets[row + 1] - 1 if row + 1 < len(offsets) else len(self._text)
        line = self._text[start:end]
        if line.endswith("\r"):
            line = line[:-1]
        return start + column_to_index(line, column, self.encoding)

    def _locate(self, offset: int) -> tuple[int, int, tuple[int, int]]:
        """(row, byte offset, tree-sitter point) of a code-point offset."""
        row = self._line_offsets.row_of(offset)
        column = utf8_len(self._text[self._line_offsets[row] : offset])
        return row, self._line_bytes[row] + column, (row, column)

    def _apply_one(self, edit: TextEdit) -> None:
        start = self._offset(edit.start_line, edit.start_character)
        end = self._offset(edit.end_line, edit.end_character)
        if end < start:
            start, end = end, start
        if start == end and not edit.text:
            return  # nothing changes: keep the tree as it is
        _, start_byte, start_point = self._locate(start)
        _, old_end_byte, old_end_point = self._locate(end)
        inserted = edit.text.encode("utf-8", "surrogatepass")
        self._source = self._source[:start_byte] + inserted + self._source[old_end_byte:]
        self._text = self._text[:start] + edit.text + self._text[end:]
        self._update_lines(start, end, edit.text, start_byte, old_end_byte, inserted)
        _, new_end_byte, new_end_point = self._locate(start + len(edit.text))
        tree = self._tree.copy()  # snapshots keep the old, unedited tree
        tree.edit(
            start_byte=start_byte,
            old_end_byte=old_end_byte,
            new_end_byte=new_end_byte,
            start_point=start_point,
            old_end_point=old_end_point,
            new_end_point=new_end_point,
        )
        self._tree = self._parse(tree)

    def _update_lines(
        self,
        start: int,
        end: int,
        inserted: str,
        start_byte: int,
        end_byte: int,
        inserted_bytes: bytes,
    ) -> None:
        """Shift the line tables past the edit and splice in the inserted text's lines."""
        offsets = self._line_offsets
        first = offsets.row_of(start) + 1  # lines starting after `start` may change
        last = offsets.row_of(end) + 1
        delta = len(inserted) - (end - start)
        byte_delta = len(inserted_bytes) - (end_byte - start_byte)
        if "\n" in inserted or first != last or delta:
            self._line_offsets = offsets.replace(first, last, _line_starts(inserted, start), delta)
        if "\n" in inserted or first != last or byte_delta:
            new_bytes = _byte_line_starts(inserted_bytes, start_byte)
            self._line_bytes = self._line_bytes.replace(first, last, new_bytes, byte_delta)


def _byte_line_starts(data: bytes, base: int = 0) -> list[int]:
    starts: list[int] = []
    find = data.find
    pos = find(b"\n")
    while pos != -1:
        starts.append(base + pos + 1)
        pos = find(b"\n", pos + 1)
    return starts


class DocumentStore:
    """All open documents, keyed by URI."""

    def __init__(self, encoding: Encoding = Encoding.UTF16) -> None:
        self.encoding = encoding
        self._docs: dict[str, Document] = {}

    def open(self, uri: str, text: str, version: int) -> Snapshot:
        doc = Document(uri, text, version, self.encoding)
        self._docs[uri] = doc
        return doc.snapshot()

    def change(self, uri: str, edits: Sequence[TextEdit | str], version: int) -> Snapshot | None:
        """Apply edits; None (and a log line) for unknown documents or stale versions."""
        doc = self._docs.get(uri)
        if doc is None:
            log.warning("didChange for a document that is not open: %s (ignored)", uri)
            return None
        if version < doc.version:
            log.warning(
                "didChange with stale version %s < %s for %s (ignored)", version, doc.version, uri
            )
            return None
        doc.apply(edits, version)
        return doc.snapshot()

    def close(self, uri: str) -> None:
        self._docs.pop(uri, None)

    def get(self, uri: str) -> Snapshot | None:
        doc = self._docs.get(uri)
        return doc.snapshot() if doc else None

    def __contains__(self, uri: object) -> bool:
        return uri in self._docs

    def __iter__(self) -> Iterator[Snapshot]:
        return (doc.snapshot() for doc in list(self._docs.values()))

    def __len__(self) -> int:
        return len(self._docs)
