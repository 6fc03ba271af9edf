"""Small tree-walking helpers shared by the syntax modules."""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from ghostls.documents import PY_LANGUAGE

# Statements whose header ends with ':' and opens an indented block.
COMPOUND_TYPES = frozenset(
    {
        "function_definition",
        "class_definition",
        "if_statement",
        "elif_clause",
        "else_clause",
        "for_statement",
        "while_statement",
        "with_statement",
        "try_statement",
        "except_clause",
        "except_group_clause",
        "finally_clause",
        "match_statement",
        "case_clause",
    }
)
# Keywords that start a block opener; used when the opener sits inside an ERROR node.
OPENER_KEYWORDS = frozenset(
    {
        "def",
        "class",
        "if",
        "elif",
        "else",
        "for",
        "while",
        "with",
        "try",
        "except",
        "finally",
        "match",
        "case",
    }
)
SCOPE_TYPES = frozenset({"function_definition", "class_definition"})

# tree-sitter finds a node's parent by walking down from the root, so walking up from a node
# N levels deep costs O(N^2). Code nested this deep is generated or hostile (`a + a + ...`
# a million times, 50,000 brackets): the helpers refuse to analyze it instead of stalling.
MAX_DEPTH = 200
# Longer lines are not hand-written code; analyzing them is slow and pointless.
MAX_LINE_CHARS = 4000


def too_deep(root: tree_sitter.Node, byte: int, limit: int = MAX_DEPTH) -> bool:
    """True if the tree is more than ``limit`` levels deep at ``byte`` (or just before)."""
    for at in {byte, max(0, byte - 1)}:
        cursor = root.walk()
        depth = 0
        while cursor.goto_first_child_for_byte(at) is not None:
            depth += 1
            if depth > limit:
                return True
    return False


MAX_SCAN = 4000  # children of one node scanned one by one (flat ERROR nodes can hold 100k)


def children_until(node: tree_sitter.Node, byte: int) -> Iterator[tree_sitter.Node]:
    """``node``'s children that start before ``byte``, without building the whole list
    (TooDeep after MAX_SCAN of them)."""
    cursor = node.walk()
    if not cursor.goto_first_child():
        return
    scanned = 0
    while True:
        scanned += 1
        if scanned > MAX_SCAN:
            raise TooDeep(f"more than {MAX_SCAN} children to scan")
        child = cursor.node
        if child is None or child.start_byte >= byte:
            return
        yield child
        if not cursor.goto_next_sibling():
            return


_queries: dict[str, tree_sitter.Query] = {}


def query(source: str) -> tree_sitter.Query:
    """A compiled query, cached (compiling costs far more than running)."""
    compiled = _queries.get(source)
    if compiled is None:
        compiled = _queries[source] = tree_sitter.Query(PY_LANGUAGE, source)
    return compiled


def captures(
    source: str,
    node: tree_sitter.Node,
    byte_range: tuple[int, int] | None = None,
    max_start_depth: int | None = None,
) -> dict[str, list[tree_sitter.Node]]:
    """Run a query over ``node`` (optionally only a byte range, or only matches starting at
    most ``max_start_depth`` levels down, which also spares walking the deep parts)."""
    cursor = tree_sitter.QueryCursor(query(source))
    if max_start_depth is not None:
        cursor.set_max_start_depth(max_start_depth)
    if byte_range is not None:
        cursor.set_byte_range(max(0, byte_range[0]), max(0, byte_range[1]))
    found = cursor.captures(node)
    return {name: sorted(nodes, key=lambda n: n.start_byte) for name, nodes in found.items()}


class TooDeep(Exception):
    """The tree is nested beyond MAX_DEPTH where we look: the caller gives up politely."""


def ancestors(node: tree_sitter.Node | None) -> Iterator[tree_sitter.Node]:
    """``node`` itself, then its parents up to the root (TooDeep past MAX_DEPTH levels)."""
    steps = 0
    while node is not None:
        yield node
        steps += 1
        if steps > MAX_DEPTH:
            raise TooDeep(f"more than {MAX_DEPTH} levels")
        node = node.parent


def last_leaf(node: tree_sitter.Node) -> tree_sitter.Node:
    steps = 0
    while node.child_count:
        steps += 1
        if steps > MAX_DEPTH:
            raise TooDeep(f"more than {MAX_DEPTH} levels")
        child = node.child(node.child_count - 1)
        # Skip zero-width trailing children (empty blocks, MISSING tokens).
        index = node.child_count - 1
        while child is not None and child.start_byte == child.end_byte and index > 0:
            index -= 1
            child = node.child(index)
        if child is None or child.start_byte == child.end_byte:
            break
        node = child
    return node


def previous_leaf(
    root: tree_sitter.Node, byte: int, skip_comments: bool = True
) -> tree_sitter.Node | None:
    """The last non-empty leaf that ends at or before ``byte`` (comments skipped if asked)."""
    limit = byte
    while True:
        leaf = _leaf_ending_by(root, limit)
        if leaf is None:
            return None
        if skip_comments and leaf.type == "comment":
            limit = leaf.start_byte
            continue
        return leaf


def _leaf_ending_by(root: tree_sitter.Node, byte: int) -> tree_sitter.Node | None:
    node = root
    candidate: tree_sitter.Node | None = None  # latest node seen that ends by ``byte``
    steps = 0
    while True:
        steps += 1
        if steps > MAX_DEPTH:
            raise TooDeep(f"more than {MAX_DEPTH} levels")
        child = first_child_ending_after(node, byte)
        before = child.prev_sibling if child is not None else _last_child(node)
        while before is not None and before.start_byte == before.end_byte:
            before = before.prev_sibling
        if before is not None:
            candidate = before
        if child is not None and child.start_byte < byte and child.child_count:
            node = child  # straddles ``byte``: its early children end later than ``before``
            continue
        break
    if candidate is None:
        return None
    leaf = last_leaf(candidate)
    return leaf if leaf.end_byte <= byte else None


def first_child_ending_after(node: tree_sitter.Node, byte: int) -> tree_sitter.Node | None:
    """``node.first_child_for_byte`` made safe: tree-sitter 0.26 segfaults when none exists."""
    last = _last_child(node)
    if last is None or last.end_byte <= byte:
        return None
    return node.first_child_for_byte(byte)


def _last_child(node: tree_sitter.Node) -> tree_sitter.Node | None:
    return node.child(node.child_count - 1) if node.child_count else None


def node_text(node: tree_sitter.Node, source: bytes) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8", "replace")


def docstring_node(body: tree_sitter.Node | None) -> tree_sitter.Node | None:
    """The docstring string node of a block or module, if its first statement is one."""
    if body is None:
        return None
    for index in range(body.named_child_count):  # usually stops at the first statement
        child = body.named_child(index)
        if child is None:
            return None
        if child.type == "comment":
            continue
        if child.type == "expression_statement" and child.named_child_count == 1:
            first = child.named_children[0]
            if first.type in ("string", "concatenated_string"):
                return first
        return None
    return None


def string_value(node: tree_sitter.Node, source: bytes) -> str:
    """The text inside a string literal's quotes (escapes left as written)."""
    parts = [
        node_text(child, source)
        for child in node.named_children
        if child.type in ("string_content", "escape_sequence")
    ]
    if parts:
        return "".join(parts)
    text = node_text(node, source)
    return text.strip("rRbBuUfF").strip("\"'")
