"""Small text helpers over Python source lines (indentation, bracket depth)."""

from __future__ import annotations

_OPENERS = "([{"
_CLOSERS = ")]}"


def indent_of(line: str) -> str:
    """The leading whitespace of ``line``."""
    return line[: len(line) - len(line.lstrip(" \t"))]


def indent_width(line: str) -> int:
    """Indentation in columns (a tab counts as 8, as Python's tokenizer does)."""
    width = 0
    for char in indent_of(line):
        width = (width // 8 + 1) * 8 if char == "\t" else width + 1
    return width


def is_blank(line: str) -> bool:
    return not line.strip()


def bracket_depth(text: str) -> int:
    """Open minus closed brackets outside string literals and comments (a cheap estimate)."""
    depth = 0
    quote = ""
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == "\n" and len(quote) == 1:
                quote = ""  # an unterminated one-line string ends at the line
            elif text.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
        elif char == "#":
            newline = text.find("\n", i)
            if newline == -1:
                break
            i = newline
        elif char in "'\"":
            quote = char * 3 if text.startswith(char * 3, i) else char
            i += len(quote)
            continue
        elif char in _OPENERS:
            depth += 1
        elif char in _CLOSERS:
            depth -= 1
        i += 1
    return depth
