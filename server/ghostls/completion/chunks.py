"""The outermost function or class around a cursor, as text CPython can parse on its own.

Parsing one definition instead of the whole file keeps CPython's parser (and pyflakes) cheap
on every request however large the file is.
"""

from __future__ import annotations

from dataclasses import dataclass

import tree_sitter

from ghostls.documents import Snapshot
from ghostls.syntax.scopes import enclosing_scope_nodes

MAX_CHUNK_CHARS = 200_000  # a bigger definition is not analysed


@dataclass(frozen=True)
class Chunk:
    first_row: int  # the definition's first row (its first decorator's)
    last_row: int
    width: int  # the indentation taken off every line
    start: int  # code-point offsets of the rows' span in the snapshot
    end: int

    def text(self, source: str) -> str:
        """``source[start:end]`` with the definition's indentation taken off each line."""
        return "\n".join(dedent_line(line, self.width) for line in source.split("\n"))


def dedent_line(line: str, width: int) -> str:
    """``line`` without up to ``width`` leading blanks (string lines may have fewer)."""
    blanks = len(line) - len(line.lstrip(" \t"))
    return line[min(blanks, width) :]


def _with_decorators(node: tree_sitter.Node) -> tree_sitter.Node:
    parent = node.parent
    return parent if parent is not None and parent.type == "decorated_definition" else node


def outermost_definition(snapshot: Snapshot, offset: int, *, functions_only: bool) -> Chunk | None:
    """The outermost def (or def/class) enclosing ``offset``, or None at module level."""
    scopes = enclosing_scope_nodes(snapshot, offset)
    if functions_only:
        scopes = [node for node in scopes if node.type == "function_definition"]
    if not scopes:
        return None
    node = _with_decorators(scopes[0])
    if node.end_byte - node.start_byte > MAX_CHUNK_CHARS:
        return None
    first, last = node.start_point.row, node.end_point.row
    offsets = snapshot.line_offsets
    start = offsets[first]
    end = offsets[last + 1] - 1 if last + 1 < len(offsets) else len(snapshot.text)
    return Chunk(first, last, node.start_point.column, start, end)
