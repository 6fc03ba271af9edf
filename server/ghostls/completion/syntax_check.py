"""Re-parse the buffer with a suggestion inserted; refuse what adds a syntax error.

The snapshot's tree is copied and edited, so the parse is incremental (a fraction of a
millisecond for a line in a large file) and the snapshot itself is never touched.

tree-sitter-python accepts a block opener with no body (``if x:`` followed by a line at the
same indentation parses as an empty ``block``), which CPython refuses ("expected an indented
block"). A tiny model proposes exactly that often (a third of the fresh-line suggestions on
the quality tasks), so when a suggestion is a whole new statement (the cursor's line was blank
before it), empty blocks it leaves around the edit count as errors too. Once the user has typed
part of the line (``if ready``), completing the opener is what they are doing: allowed.

tree-sitter also recovers from some code silently (``x = TK.`` before a line at the same
indentation parsed without an ERROR node). So when the outermost definition around the cursor
parses with CPython before the suggestion (``ast``: parsing only, nothing runs), it must parse
after it too. One definition is parsed, not the file: a few milliseconds at most.
"""

from __future__ import annotations

import ast

import tree_sitter

from ghostls.completion.chunks import outermost_definition
from ghostls.documents import Snapshot, new_parser


def count_errors(node: tree_sitter.Node) -> int:
    """ERROR and MISSING nodes under ``node`` (visits only subtrees that have errors)."""
    if not node.has_error and not node.is_missing:
        return 0
    if node.is_error or node.is_missing:
        return 1 + sum(count_errors(child) for child in node.children if child.has_error)
    return sum(count_errors(child) for child in node.children)


def _cpython_parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _is_empty_block(node: tree_sitter.Node) -> bool:
    return node.type == "block" and all(c.type == "comment" for c in node.named_children)


def empty_blocks_near(root: tree_sitter.Node, start_byte: int, end_byte: int) -> int:
    """Empty ``block`` nodes among the nodes that touch ``[start_byte, end_byte]``.

    Only nodes overlapping the range are visited, so this costs the tree's depth, not its size.
    """
    found = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if node.start_byte > end_byte or node.end_byte < start_byte:
            continue
        if _is_empty_block(node):
            found += 1
        stack.extend(node.children)
    return found


def _end_point(start: tuple[int, int], inserted: bytes) -> tuple[int, int]:
    newlines = inserted.count(b"\n")
    if not newlines:
        return start[0], start[1] + len(inserted)
    return start[0] + newlines, len(inserted) - inserted.rfind(b"\n") - 1


class SyntaxGuard:
    """Compares error counts before and after inserting a suggestion into a snapshot."""

    def __init__(self) -> None:
        self._parser = new_parser()
        self._baseline: tuple[str, int, int] | None = None  # (uri, version, errors)
        # (uri, version, start, end) of a definition -> whether CPython parsed it
        self._cpython_before: tuple[tuple[str, int, int, int], bool] | None = None

    def errors_before(self, snapshot: Snapshot) -> int:
        cached = self._baseline
        if cached and cached[0] == snapshot.uri and cached[1] == snapshot.version:
            return cached[2]
        errors = count_errors(snapshot.tree.root_node)
        self._baseline = (snapshot.uri, snapshot.version, errors)
        return errors

    def errors_after(self, snapshot: Snapshot, start: int, end: int, text: str) -> int:
        """Errors in the document with ``[start, end)`` (code points) replaced by ``text``,
        less the empty blocks that were already around ``[start, end)``."""
        start_byte = snapshot.byte_at(start)
        end_byte = snapshot.byte_at(end)
        inserted = text.encode("utf-8", "surrogatepass")
        source = snapshot.source[:start_byte] + inserted + snapshot.source[end_byte:]
        start_point = snapshot.point_at(start)
        tree = snapshot.tree.copy()
        tree.edit(
            start_byte=start_byte,
            old_end_byte=end_byte,
            new_end_byte=start_byte + len(inserted),
            start_point=start_point,
            old_end_point=snapshot.point_at(end),
            new_end_point=_end_point(start_point, inserted),
        )
        root = self._parser.parse(source, tree).root_node
        row_start = snapshot.line_offsets[start_point[0]]
        if snapshot.text[row_start:start].strip():
            return count_errors(root)
        empty_after = empty_blocks_near(root, start_byte, start_byte + len(inserted))
        empty_before = empty_blocks_near(snapshot.tree.root_node, start_byte, end_byte)
        return count_errors(root) + max(0, empty_after - empty_before)

    def breaks(self, snapshot: Snapshot, start: int, end: int, text: str) -> bool:
        if self.errors_after(snapshot, start, end, text) > self.errors_before(snapshot):
            return True
        return self.cpython_breaks(snapshot, start, end, text)

    def cpython_breaks(self, snapshot: Snapshot, start: int, end: int, text: str) -> bool:
        """True if the definition around ``start`` parsed with CPython and would not after."""
        chunk = outermost_definition(snapshot, start, functions_only=False)
        if chunk is None or not chunk.start <= start <= end <= chunk.end:
            return False
        before = snapshot.text[chunk.start : chunk.end]
        key = (snapshot.uri, snapshot.version, chunk.start, chunk.end)
        cached = self._cpython_before
        if cached is not None and cached[0] == key:
            parsed_before = cached[1]
        else:
            parsed_before = _cpython_parses(chunk.text(before))
            self._cpython_before = (key, parsed_before)
        if not parsed_before:
            return False  # already broken: the tree-sitter count above is the judge
        after = before[: start - chunk.start] + text + before[end - chunk.start :]
        return not _cpython_parses(chunk.text(after))

    def longest_valid(
        self, snapshot: Snapshot, start: int, end: int, text: str, multiline: bool
    ) -> tuple[str | None, str]:
        """The suggestion, or its longest line-prefix that adds no error; None if none does.

        Returns (text or None, note) - the note says whether it was shortened or rejected.
        """
        if not self.breaks(snapshot, start, end, text):
            return text, ""
        if multiline:
            lines = text.split("\n")
            for count in range(len(lines) - 1, 0, -1):
                shorter = "\n".join(lines[:count]).rstrip()
                if shorter.strip() and not self.breaks(snapshot, start, end, shorter):
                    return shorter, "syntax-shortened"
        return None, "syntax-rejected"
