"""The scopes (module, classes, functions) that enclose a cursor, with signatures and docs."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import tree_sitter

from ghostls.documents import Snapshot
from ghostls.syntax.nodes import (
    SCOPE_TYPES,
    TooDeep,
    ancestors,
    docstring_node,
    node_text,
    previous_leaf,
    string_value,
    too_deep,
)


@dataclass(frozen=True)
class Scope:
    kind: str  # "module" | "class" | "function"
    name: str
    signature: str  # header up to and including its ':' (may span lines); "" for the module
    docstring: str  # cleaned (inspect.cleandoc); "" if none
    start_byte: int
    end_byte: int
    start_row: int
    end_row: int
    decorators: tuple[str, ...] = ()
    body_indent: str = ""  # indentation of the scope's body ("" for the module)

    @property
    def summary(self) -> str:
        """First line of the docstring."""
        return self.docstring.splitlines()[0] if self.docstring else ""


def module_name(uri: str) -> str:
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    return name[:-3] if name.endswith(".py") else name


def header_text(node: tree_sitter.Node, source: bytes) -> str:
    """A def/class header: from its keyword through the ':' that opens the body."""
    body = node.child_by_field_name("body")
    end = node.end_byte
    if body is not None:
        colon = body.prev_sibling
        while colon is not None and colon.type != ":":
            colon = colon.prev_sibling
        end = colon.end_byte if colon is not None else body.start_byte
    return source[node.start_byte : end].decode("utf-8", "replace").rstrip()


def scope_of(node: tree_sitter.Node, snapshot: Snapshot) -> Scope:
    """A Scope for a function_definition or class_definition node."""
    source = snapshot.source
    name_node = node.child_by_field_name("name")
    body = node.child_by_field_name("body")
    doc = docstring_node(body)
    decorators: tuple[str, ...] = ()
    outer = node.parent
    if outer is not None and outer.type == "decorated_definition":
        decorators = tuple(
            node_text(child, source) for child in outer.named_children if child.type == "decorator"
        )
    body_indent = ""
    if body is not None and body.named_child_count:
        body_indent = " " * body.start_point.column
        line = snapshot.line(body.start_point.row)
        body_indent = line[: len(line) - len(line.lstrip(" \t"))]
    return Scope(
        kind="class" if node.type == "class_definition" else "function",
        name=node_text(name_node, source) if name_node is not None else "",
        signature=header_text(node, source),
        docstring=inspect.cleandoc(string_value(doc, source)) if doc is not None else "",
        start_byte=node.start_byte,
        end_byte=node.end_byte,
        start_row=node.start_point.row,
        end_row=node.end_point.row,
        decorators=decorators,
        body_indent=body_indent,
    )


def module_scope(snapshot: Snapshot) -> Scope:
    root = snapshot.tree.root_node
    doc = docstring_node(root)
    return Scope(
        kind="module",
        name=module_name(snapshot.uri),
        signature="",
        docstring=inspect.cleandoc(string_value(doc, snapshot.source)) if doc is not None else "",
        start_byte=0,
        end_byte=len(snapshot.source),
        start_row=0,
        end_row=max(0, snapshot.line_count - 1),
    )


def enclosing_scope_nodes(snapshot: Snapshot, offset: int) -> list[tree_sitter.Node]:
    """def/class nodes around the cursor, outermost first (none in absurdly deep code)."""
    try:
        return _scope_nodes(snapshot, offset)
    except TooDeep:
        return []


def _scope_nodes(snapshot: Snapshot, offset: int) -> list[tree_sitter.Node]:
    """On a line that is blank up to the cursor, tree-sitter's ranges end at the last statement,
    so the scopes come from the code above, kept while the cursor's indentation is deeper than
    their header (column 0 keeps only a just-opened, still empty one).
    """
    offset = max(0, min(offset, len(snapshot.text)))
    row = snapshot.row_of(offset)
    before = snapshot.line(row)[: offset - snapshot.line_offsets[row]]
    byte = snapshot.byte_at(offset)
    root = snapshot.tree.root_node
    found: list[tree_sitter.Node] = []
    if too_deep(root, byte):
        return found
    if before.strip():
        node = root.descendant_for_byte_range(max(0, byte - 1), byte)
        for anc in ancestors(node):
            if anc.type in SCOPE_TYPES and anc.start_byte < byte:
                found.append(anc)
    else:
        width = len(before.expandtabs(8))
        prev = previous_leaf(root, byte)
        for anc in ancestors(prev):
            if anc.type not in SCOPE_TYPES:
                continue
            header_col = len(
                snapshot.line(anc.start_point.row)[: anc.start_point.column].expandtabs(8)
            )
            if anc.parent is not None and anc.parent.type == "decorated_definition":
                header_col = anc.parent.start_point.column
            body = anc.child_by_field_name("body")
            empty = body is None or body.named_child_count == 0
            if byte < anc.end_byte or width > header_col or (width == 0 and empty):
                found.append(anc)
            # Once a scope is dropped, the ones outside it remain candidates.
    found.reverse()
    return found


def enclosing_scopes(snapshot: Snapshot, offset: int) -> list[Scope]:
    """Module scope first, innermost scope last."""
    return [module_scope(snapshot)] + [
        scope_of(node, snapshot) for node in enclosing_scope_nodes(snapshot, offset)
    ]
