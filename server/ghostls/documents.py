"""Open documents: text, version and tree-sitter tree, edited incrementally.

The store is mutated only on the event loop (didOpen/didChange/didClose). Features take an
immutable :class:`Snapshot`; the tree inside a snapshot is never edited again because every edit
works on a copy of the previous tree.
"""

from __future__ import annotations

import bisect
import functools
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

# Parsing a pathological buffer must give up rather than stall the event loop. Budgets and
# costs are CPU time of the parsing thread, so a loaded machine does not change the verdicts.
PARSE_TIMEOUT_MICROS = 2_000_000  # a full parse of a large document (open, replacement)
RETRY_PARSE_TIMEOUT_MICROS = 250_000  # a degraded document's try to parse again
# A full parse of a document this large is bounded (smaller ones parse from bytes, fastest).
BOUNDED_PARSE_MIN_BYTES = 256 * 1024
# A document at least this large whose parse costs more than SLOW_PARSE_MIN_MICROS and more
# than SLOW_FACTOR times what plain code costs per byte on this machine (measured once, see
# _plain_code_micros_per_byte) is pathological: its keystrokes stop re-parsing. Smaller or
# cheaper documents always parse. (Measured ratios are in docs/RELIABILITY.md.)
SLOW_PARSE_MIN_BYTES = 64 * 1024
SLOW_PARSE_MIN_MICROS = 100_000
SLOW_FACTOR = 4.0
# A degraded document tries again after this long, doubling up to the maximum.
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0


def new_parser() -> tree_sitter.Parser:
    parser = tree_sitter.Parser(PY_LANGUAGE)
    return parser


@functools.cache
def _plain_code_micros_per_byte() -> float:
    """CPU cost per byte of parsing ordinary code here: the yardstick for "pathological"."""
    line = 'def f{0}(x, *args):\n    """Doc."""\n    return [x + {0} for _ in args] or None\n'
    sample = "".join(line.format(i) for i in range(800)).encode()
    parser = new_parser()
    best = float("inf")
    for _ in range(3):
        started = time.thread_time()
        parser.parse(sample)
        best = min(best, time.thread_time() - started)
    return max(best, 1e-9) * 1_000_000 / len(sample)


def _parse_bounded(
    parser: tree_sitter.Parser,
    source: bytes,
    old: tree_sitter.Tree | None,
    budget_micros: int,
    chunk: int,
) -> tree_sitter.Tree | None:
    """Parse within ``budget_micros`` of CPU time; None when it gave up.

    py-tree-sitter 0.26 honours progress_callback only when it reads through a callback, and
    it keeps one reference to every chunk the callback returns: with 64 KB chunks about the
    source's size leaks per parse. With ``chunk`` 1 every chunk is one character, and those
    are shared objects (see _one_character), so nothing leaks (measured: no growth over
    hundreds of parses), at the price of a Python call per character read (2.5-4x the
    parse time). Chunks always end on a character boundary: tree-sitter cannot decode a
    character split between two chunks (the tree then differs from a parse of the bytes).
    """
    deadline = time.thread_time() + budget_micros / 1_000_000
    size = len(source)

    def read_chunk(byte: int, _point: tuple[int, int]) -> bytes:
        end = min(size, byte + chunk)
        while end < size and source[end] & 0xC0 == 0x80:  # not inside a character
            end -= 1
        return source[byte:end]

    def read_character(byte: int, _point: tuple[int, int]) -> bytes:
        return _one_character(source, byte)

    def give_up(_offset: int, _has_error: bool) -> bool:
        return time.thread_time() > deadline

    read = read_character if chunk == 1 else read_chunk
    try:
        if old is None:
            return parser.parse(read, progress_callback=give_up)
        return parser.parse(read, old, progress_callback=give_up)
    except ValueError:  # "Parsing failed": the callback halted it
        parser.reset()  # else the next parse would resume this one
        return None


# Multi-byte characters handed to tree-sitter, one shared object each (tree-sitter's binding
# keeps a reference to each chunk for good: returning the same object costs nothing more).
_CHARACTERS: dict[bytes, bytes] = {}
_CHARACTERS_MAX = 65536


def _one_character(source: bytes, byte: int) -> bytes:
    """The UTF-8 character starting at ``byte``: a one-byte slice is CPython's shared object."""
    end = byte + 1
    limit = min(len(source), byte + 4)
    while end < limit and source[end] & 0xC0 == 0x80:
        end += 1
    piece = source[byte:end]
    if end - byte == 1:
        return piece
    shared = _CHARACTERS.get(piece)
    if shared is None:
        if len(_CHARACTERS) >= _CHARACTERS_MAX:
            return piece  # a rare character: this one reference is lost (a few dozen bytes)
        _CHARACTERS[piece] = shared = piece
    return shared


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
        # Degraded: parsing this text gave up or is pathologically slow, so keystrokes do not
        # parse and snapshots get an empty tree until a retry succeeds. `_pending` is the last
        # good tree with every later edit applied (None after a full parse gave up), so a
        # retry is an incremental parse.
        self._degraded = False
        self._pending: tree_sitter.Tree | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._set_text(text)

    @property
    def degraded(self) -> bool:
        """Keystrokes do not re-parse this document (see _judge)."""
        return self._degraded

    def _set_text(self, text: str) -> None:
        self._text = text
        self._source = text.encode("utf-8", "surrogatepass")
        self._line_offsets = LineTable.from_values([0, *_line_starts(text)])
        self._line_bytes = LineTable.from_values([0, *_byte_line_starts(self._source)])
        self._tree = self._parse(None)

    def _parse(self, old: tree_sitter.Tree | None) -> tree_sitter.Tree:
        """Every parse but a retry goes through here (bench/parse.py times it).

        ``old`` is the previous tree, already edited; None for a full parse.
        """
        if old is None:
            self._degraded, self._pending, self._failures = False, None, 0
        started = time.thread_time()
        if old is not None or len(self._source) < BOUNDED_PARSE_MIN_BYTES:
            tree = (
                self._parser.parse(self._source, old) if old else self._parser.parse(self._source)
            )
        else:
            # Chunks of 64 KB cost what parsing from bytes costs; the one-off leak of about
            # the source's size (see _parse_bounded) is paid on open, not per keystroke.
            bounded = _parse_bounded(self._parser, self._source, None, PARSE_TIMEOUT_MICROS, 65536)
            if bounded is None:
                return self._degrade(None, f"gave up after {PARSE_TIMEOUT_MICROS // 1000} ms")
            tree = bounded
        self._judge(tree, old, time.thread_time() - started)
        return tree

    def _judge(self, tree: tree_sitter.Tree, old: tree_sitter.Tree | None, seconds: float) -> None:
        """After a parse that worked: is this buffer too slow to re-parse per keystroke?"""
        size = len(self._source)
        micros = seconds * 1_000_000
        if size < SLOW_PARSE_MIN_BYTES or micros < SLOW_PARSE_MIN_MICROS:
            slowness = 0.0
        else:
            slowness = micros / size / _plain_code_micros_per_byte()
        if slowness > SLOW_FACTOR:
            # This snapshot keeps the exact tree it paid for; the next keystrokes do not parse.
            why = f"took {micros / 1000:.0f} ms, {slowness:.0f}x plain code per byte"
            self._degrade(tree.copy(), why)
        elif old is not None:
            self._failures = 0  # a keystroke that parses fast proves the buffer is fine

    def _degrade(self, pending: tree_sitter.Tree | None, why: str) -> tree_sitter.Tree:
        self._degraded, self._pending = True, pending
        self._failures += 1
        delay = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** (self._failures - 1))
        self._retry_at = time.monotonic() + delay
        log.log(
            logging.WARNING if self._failures == 1 else logging.INFO,
            "parsing %s (%d bytes) %s: edits to it do not re-parse; syntax features are off"
            " for it until a re-parse works (next try in %.0f s)",
            self.uri,
            len(self._source),
            why,
            delay,
        )
        return _empty_tree(self._parser)

    def _retry(self) -> None:
        """A degraded document parses again once its retry time came or it became small."""
        small = len(self._source) < SLOW_PARSE_MIN_BYTES
        if not small and time.monotonic() < self._retry_at:
            return
        pending, self._degraded, self._pending = self._pending, False, None
        if small:
            self._tree = (
                self._parser.parse(self._source, pending)
                if pending
                else (self._parser.parse(self._source))
            )
            self._failures = 0
        else:
            # One-byte chunks: a retry can come every few seconds and must not leak.
            budget = RETRY_PARSE_TIMEOUT_MICROS
            tree = _parse_bounded(self._parser, self._source, pending, budget, 1)
            if tree is None:
                self._tree = self._degrade(pending, f"gave up after {budget // 1000} ms")
            else:
                self._tree = tree
        if not self._degraded:
            log.info("parsing %s works again", self.uri)

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
        if self._degraded:
            self._retry()
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
        if self._degraded:
            # No parse per keystroke: the edit goes to the tree a retry starts from.
            self._tree = _empty_tree(self._parser)  # the last good tree fits no more
            if self._pending is not None:
                _edit_tree(
                    self._pending,
                    start_byte,
                    old_end_byte,
                    new_end_byte,
                    start_point,
                    old_end_point,
                    new_end_point,
                )
            return
        tree = self._tree.copy()  # snapshots keep the old, unedited tree
        _edit_tree(
            tree, start_byte, old_end_byte, new_end_byte, start_point, old_end_point, new_end_point
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


def _edit_tree(
    tree: tree_sitter.Tree,
    start_byte: int,
    old_end_byte: int,
    new_end_byte: int,
    start_point: tuple[int, int],
    old_end_point: tuple[int, int],
    new_end_point: tuple[int, int],
) -> None:
    tree.edit(
        start_byte=start_byte,
        old_end_byte=old_end_byte,
        new_end_byte=new_end_byte,
        start_point=start_point,
        old_end_point=old_end_point,
        new_end_point=new_end_point,
    )


_EMPTY = b""


def _empty_tree(parser: tree_sitter.Parser) -> tree_sitter.Tree:
    """The tree of a document whose parse gave up: a module with no children."""
    return parser.parse(_EMPTY)


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

    def degraded(self, uri: str) -> bool:
        """The document's keystrokes do not re-parse (its parse gave up or is pathological)."""
        doc = self._docs.get(uri)
        return doc is not None and doc.degraded

    def __contains__(self, uri: object) -> bool:
        return uri in self._docs

    def __iter__(self) -> Iterator[Snapshot]:
        return (doc.snapshot() for doc in list(self._docs.values()))

    def __len__(self) -> int:
        return len(self._docs)
