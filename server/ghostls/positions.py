"""Column conversion between LSP position encodings and Python string indices.

LSP columns count UTF-16 code units by default (UTF-8 bytes or code points when negotiated);
Python strings index code points; tree-sitter counts UTF-8 bytes. Columns past the end of the
line clamp to its end, and a column inside a surrogate pair or a multi-byte character clamps to
the start of that character, so a bad position never raises.
"""

from __future__ import annotations

from enum import Enum


class Encoding(str, Enum):
    UTF8 = "utf-8"
    UTF16 = "utf-16"
    UTF32 = "utf-32"

    @classmethod
    def from_lsp(cls, name: object) -> Encoding:
        for member in cls:
            if member.value == name:
                return member
        return cls.UTF16


def _unit_width(ch: str, encoding: Encoding) -> int:
    code = ord(ch)
    if encoding is Encoding.UTF16:
        return 2 if code > 0xFFFF else 1
    if encoding is Encoding.UTF8:
        if code < 0x80:
            return 1
        if code < 0x800:
            return 2
        return 3 if code < 0x10000 else 4
    return 1


def column_to_index(line: str, column: int, encoding: Encoding) -> int:
    """Index into ``line`` (code points) for an LSP column; clamps to [0, len(line)]."""
    if column <= 0:
        return 0
    if encoding is Encoding.UTF32 or line.isascii():
        return min(column, len(line))
    units = 0
    for index, ch in enumerate(line):
        width = _unit_width(ch, encoding)
        if units + width > column:
            return index  # inside a multi-unit character: its start
        units += width
    return len(line)


def index_to_column(line: str, index: int, encoding: Encoding) -> int:
    """LSP column for a code-point index into ``line``."""
    index = max(0, min(index, len(line)))
    if encoding is Encoding.UTF32 or line.isascii():
        return index
    head = line[:index]
    if encoding is Encoding.UTF8:
        return len(head.encode("utf-8"))
    return len(head) + sum(1 for ch in head if ord(ch) > 0xFFFF)


def utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
