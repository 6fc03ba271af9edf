"""A module's imports and definitions, the names used near the cursor, and their resolution.

Results for a snapshot are cached on it (snapshots are immutable), so a keystroke pays once per
document version and not at all for other open files that did not change.
"""

from __future__ import annotations

import inspect
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import tree_sitter

from ghostls.documents import Snapshot
from ghostls.syntax.nodes import captures, docstring_node, node_text, string_value
from ghostls.syntax.scopes import header_text

IMPORTS_QUERY = """
(import_statement) @import
(import_from_statement) @import
(future_import_statement) @import
"""
# (A `#any-of?` predicate on @receiver would be evaluated in Python by py-tree-sitter and
# made this query ~100x slower; the receiver's text is checked below instead.)
IDENTIFIERS_QUERY = """
(identifier) @name
(attribute attribute: (identifier) @attr)
(attribute object: (identifier) @receiver attribute: (identifier) @member)
(function_definition name: (identifier) @defined)
(class_definition name: (identifier) @defined)
"""

# module > try > else_clause > block > import: deeper imports (inside defs) are local ones.
IMPORT_DEPTH = 4
MAX_METHODS_IN_CLASS_SUMMARY = 12
MAX_ASSIGNMENT_CHARS = 160
MAX_WINDOW_BYTES = 16_384


@dataclass(frozen=True)
class Import:
    text: str  # the whole statement as written
    names: tuple[str, ...]  # names it binds in the module ("*" for a star import)
    module: str  # "os.path" / "..pkg.mod" / "" for plain `import a, b` with several modules
    start_row: int
    end_row: int
    top_level: bool  # directly at module level (not inside a def, if, try ...)


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str  # "function" | "class" | "method" | "variable"
    qualname: str  # "Class.method" for methods
    text: str  # what to show the model: header, docstring summary, body elided
    start_row: int
    end_row: int
    start_byte: int
    end_byte: int
    uri: str = ""
    owner_header: str = ""  # a method's class header ("class C(B):"), else ""
    member_text: str = ""  # a method's own text, indented as in its class


_import_cache: weakref.WeakKeyDictionary[Snapshot, list[Import]] = weakref.WeakKeyDictionary()
_definition_cache: weakref.WeakKeyDictionary[Snapshot, list[Definition]] = (
    weakref.WeakKeyDictionary()
)
_index_cache: weakref.WeakKeyDictionary[Snapshot, list[_Entry]] = weakref.WeakKeyDictionary()
_module_import_cache: weakref.WeakKeyDictionary[Snapshot, list[Import]] = (
    weakref.WeakKeyDictionary()
)
_statement_cache: weakref.WeakKeyDictionary[Snapshot, list[tree_sitter.Node]] = (
    weakref.WeakKeyDictionary()
)
_built_cache: weakref.WeakKeyDictionary[Snapshot, dict[_Entry, Definition | None]] = (
    weakref.WeakKeyDictionary()
)


def _bound_names(statement: tree_sitter.Node, source: bytes) -> tuple[tuple[str, ...], str]:
    names: list[str] = []
    module = ""
    if statement.type == "import_statement":
        modules = []
        for child in statement.children_by_field_name("name"):
            if child.type == "aliased_import":
                alias = child.child_by_field_name("alias")
                dotted = child.child_by_field_name("name")
                names.append(node_text(alias, source) if alias is not None else "")
                modules.append(node_text(dotted, source) if dotted is not None else "")
            else:
                written = node_text(child, source)
                names.append(written.split(".")[0])  # `import a.b` binds `a`
                modules.append(written)
        module = modules[0] if len(modules) == 1 else ""
    else:
        module_node = statement.child_by_field_name("module_name")
        module = node_text(module_node, source) if module_node is not None else "__future__"
        for child in statement.children_by_field_name("name"):
            if child.type == "aliased_import":
                alias = child.child_by_field_name("alias")
                names.append(node_text(alias, source) if alias is not None else "")
            else:
                names.append(node_text(child, source).split(".")[-1])
        if any(child.type == "wildcard_import" for child in statement.named_children):
            names.append("*")
    return tuple(name for name in names if name), module


def imports(snapshot: Snapshot) -> list[Import]:
    """Every import statement in the file, in order."""
    cached = _import_cache.get(snapshot)
    if cached is not None:
        return cached
    source = snapshot.source
    found: list[Import] = []
    nodes = captures(IMPORTS_QUERY, snapshot.tree.root_node, max_start_depth=IMPORT_DEPTH)
    for node in nodes.get("import", []):
        found.append(_import_of(node, source))
    _import_cache[snapshot] = found
    return found


def _import_of(node: tree_sitter.Node, source: bytes) -> Import:
    names, module = _bound_names(node, source)
    parent = node.parent
    return Import(
        text=node_text(node, source),
        names=names,
        module=module,
        start_row=node.start_point.row,
        end_row=node.end_point.row,
        top_level=parent is not None and parent.type == "module",
    )


_IMPORT_TYPES = frozenset({"import_statement", "import_from_statement", "future_import_statement"})


def module_imports(snapshot: Snapshot) -> list[Import]:
    """The module-level imports only (also those in top-level if/try blocks), found without a
    query: the statements are walked anyway for the definitions, and this runs per keystroke."""
    cached = _module_import_cache.get(snapshot)
    if cached is not None:
        return cached
    source = snapshot.source
    found = []
    for node in _statements(snapshot):
        if node.type not in _IMPORT_TYPES:
            continue
        found.append(_import_of(node, source))
    _module_import_cache[snapshot] = found
    return found


def _doc_summary(body: tree_sitter.Node | None, source: bytes) -> str:
    doc = docstring_node(body)
    if doc is None:
        return ""
    cleaned = inspect.cleandoc(string_value(doc, source))
    return cleaned.splitlines()[0].strip() if cleaned else ""


def _function_text(node: tree_sitter.Node, source: bytes, indent: str = "") -> str:
    """Decorators + signature + a one-line docstring, body elided."""
    lines = []
    outer = node.parent
    if outer is not None and outer.type == "decorated_definition":
        lines += [
            indent + node_text(d, source) for d in outer.named_children if d.type == "decorator"
        ]
    header = header_text(node, source)
    summary = _doc_summary(node.child_by_field_name("body"), source)
    if summary:
        body_indent = indent + "    "
        lines.append(indent + header)
        lines.append(f'{body_indent}"""{summary}"""')
        lines.append(f"{body_indent}...")
    else:
        lines.append(f"{indent}{header} ...")
    return "\n".join(lines)


def _unwrap(node: tree_sitter.Node) -> tree_sitter.Node:
    if node.type == "decorated_definition":
        inner = node.child_by_field_name("definition")
        if inner is not None:
            return inner
    return node


def _class_members(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    body = node.child_by_field_name("body")
    if body is None:
        return []
    return [_unwrap(child) for child in body.named_children]


def _class_text(node: tree_sitter.Node, source: bytes) -> str:
    lines = []
    outer = node.parent
    if outer is not None and outer.type == "decorated_definition":
        lines += [node_text(d, source) for d in outer.named_children if d.type == "decorator"]
    lines.append(header_text(node, source))
    summary = _doc_summary(node.child_by_field_name("body"), source)
    if summary:
        lines.append(f'    """{summary}"""')
    shown = 0
    for member in _class_members(node):
        if member.type == "function_definition" and shown < MAX_METHODS_IN_CLASS_SUMMARY:
            lines.append(f"    {header_text(member, source)} ...")
            shown += 1
        elif member.type == "expression_statement" and member.start_point.row == (
            member.end_point.row
        ):
            first = member.named_children[0] if member.named_child_count else None
            if first is not None and first.type == "assignment":
                lines.append("    " + node_text(member, source)[:MAX_ASSIGNMENT_CHARS])
    if len(lines) == 1 + bool(summary):
        lines.append("    ...")
    return "\n".join(lines)


def _assignment_targets(statement: tree_sitter.Node, source: bytes) -> list[str]:
    if statement.type != "expression_statement" or not statement.named_child_count:
        return []
    first = statement.named_children[0]
    if first.type not in ("assignment", "augmented_assignment"):
        return []
    left = first.child_by_field_name("left")
    if left is None:
        return []
    if left.type == "identifier":
        return [node_text(left, source)]
    if left.type in ("pattern_list", "tuple_pattern"):
        return [node_text(n, source) for n in left.named_children if n.type == "identifier"]
    return []


def _assignment_text(statement: tree_sitter.Node, source: bytes) -> str:
    text = node_text(statement, source)
    first_line = text.splitlines()[0] if text else ""
    if len(first_line) > MAX_ASSIGNMENT_CHARS or first_line != text:
        # Long or multi-line value: the first line tells the model the shape.
        return first_line[:MAX_ASSIGNMENT_CHARS] + " ..."
    return text


class _Entry(NamedTuple):
    """A definition found by the cheap index pass; its text is built only when asked for.

    (A NamedTuple: hundreds are made per keystroke, and frozen dataclasses are slow to build.)
    """

    name: str
    kind: str
    start_byte: int  # of the function_definition / class_definition / expression_statement
    end_byte: int
    owner_start: int = -1  # the class of a method
    owner_end: int = -1


# (name, kind, start, end) relative to the start of the statement they were found in.
_Rel = tuple[str, str, int, int]


class _ContentCache:
    """Index entries of statements keyed by their exact source bytes.

    tree-sitter re-creates most statement nodes on a re-parse (ids do not survive), but the
    text of all statements but the edited one is unchanged, so a keystroke re-indexes one
    statement. Bounded by the total size of the keys.
    """

    def __init__(self, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.entries: OrderedDict[bytes, tuple[_Rel, ...]] = OrderedDict()

    def get(self, key: bytes) -> tuple[_Rel, ...] | None:
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def put(self, key: bytes, value: tuple[_Rel, ...]) -> None:
        self.entries[key] = value
        self.size += len(key)
        while self.size > self.max_bytes and self.entries:
            old, _ = self.entries.popitem(last=False)
            self.size -= len(old)


_content_cache = _ContentCache()
_class_cache = _ContentCache()  # whole classes: one lookup instead of one per member


# Module-level statements that hold more module-level definitions in their blocks
# (`try: import x / except: x = None`, `if sys.platform == ...: def f(): ...`).
_CONDITIONAL = frozenset(
    {"if_statement", "try_statement", "with_statement", "elif_clause", "else_clause"}
)
_CLAUSES = frozenset({"elif_clause", "else_clause", "except_clause", "finally_clause"})


def _module_statements(root: tree_sitter.Node) -> list[tree_sitter.Node]:
    """Top-level statements, with those inside top-level if/try/with blocks spliced in."""
    found: list[tree_sitter.Node] = []
    for statement in root.named_children:
        if statement.type not in _CONDITIONAL:
            found.append(statement)
            continue
        for part in statement.named_children:
            blocks = [part] if part.type == "block" else []
            if part.type in _CLAUSES:
                blocks = [c for c in part.named_children if c.type == "block"]
            for block in blocks:
                found.extend(block.named_children)
    return found


def _statement_rels(statement: tree_sitter.Node, source: bytes) -> tuple[_Rel, ...]:
    """Functions and assignments a (non-class) statement defines, relative to its start."""
    base = statement.start_byte
    node = _unwrap(statement)
    if node.type == "function_definition":
        name_node = node.child_by_field_name("name")
        if name_node is None:
            return ()
        return (
            (
                node_text(name_node, source),
                "function",
                node.start_byte - base,
                node.end_byte - base,
            ),
        )
    return tuple(
        (name, "variable", node.start_byte - base, node.end_byte - base)
        for name in _assignment_targets(node, source)
    )


def _cached_rels(statement: tree_sitter.Node, source: bytes) -> tuple[_Rel, ...]:
    key = source[statement.start_byte : statement.end_byte]
    rels = _content_cache.get(key)
    if rels is None:
        rels = _statement_rels(statement, source)
        _content_cache.put(key, rels)
    return rels


def _statements(snapshot: Snapshot) -> list[tree_sitter.Node]:
    cached = _statement_cache.get(snapshot)
    if cached is None:
        cached = _statement_cache[snapshot] = _module_statements(snapshot.tree.root_node)
    return cached


def _class_rels(
    statement: tree_sitter.Node, node: tree_sitter.Node, source: bytes
) -> tuple[_Rel, ...]:
    """A class and its methods relative to ``statement``; methods carry no owner here (the
    owner is the class, the first item)."""
    base = statement.start_byte
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return ()
    rels: list[_Rel] = [
        (node_text(name_node, source), "class", node.start_byte - base, node.end_byte - base)
    ]
    body = node.child_by_field_name("body")
    for member in body.named_children if body is not None else ():
        shift = member.start_byte - base
        for name, kind, start, end in _cached_rels(member, source):
            if kind == "function":  # a def in a class body is a method
                rels.append((name, "method", shift + start, shift + end))
    return tuple(rels)


def _index(snapshot: Snapshot) -> list[_Entry]:
    """Module-level definitions and methods, in file order, without building any text.

    Statements (a whole class included) are looked up by their exact text, so a keystroke
    re-indexes the edited statement (in a class: the edited member) and little else.
    """
    cached = _index_cache.get(snapshot)
    if cached is not None:
        return cached
    source = snapshot.source
    entries: list[_Entry] = []
    for statement in _statements(snapshot):
        node = _unwrap(statement)
        base = statement.start_byte
        if node.type != "class_definition":
            for name, kind, start, end in _cached_rels(statement, source):
                entries.append(_Entry(name, kind, base + start, base + end))
            continue
        key = source[base : statement.end_byte]
        rels = _class_cache.get(key)
        if rels is None:
            rels = _class_rels(statement, node, source)
            _class_cache.put(key, rels)
        if not rels:
            continue
        _, _, class_start, class_end = rels[0]
        owner = (base + class_start, base + class_end)
        entries.append(_Entry(rels[0][0], "class", *owner))
        for name, _kind, start, end in rels[1:]:
            entries.append(_Entry(name, "method", base + start, base + end, *owner))
    _index_cache[snapshot] = entries
    return entries


_NODE_TYPES = {
    "function": ("function_definition",),
    "method": ("function_definition",),
    "class": ("class_definition",),
    "variable": ("expression_statement",),
}


def _node_at(
    root: tree_sitter.Node, start: int, end: int, types: tuple[str, ...]
) -> tree_sitter.Node | None:
    node = root.descendant_for_byte_range(start, end)
    while node is not None and not (
        node.start_byte == start and node.end_byte == end and node.type in types
    ):
        if node.start_byte < start or node.end_byte > end:
            return None
        node = node.parent
    return node


def _build(snapshot: Snapshot, entry: _Entry) -> Definition | None:
    source = snapshot.source
    root = snapshot.tree.root_node
    node = _node_at(root, entry.start_byte, entry.end_byte, _NODE_TYPES[entry.kind])
    if node is None:
        return None
    owner_header = member_text = ""
    if entry.kind == "function":
        text, qualname = _function_text(node, source), entry.name
    elif entry.kind == "class":
        text, qualname = _class_text(node, source), entry.name
    elif entry.kind == "method":
        owner = _node_at(root, entry.owner_start, entry.owner_end, ("class_definition",))
        if owner is None:
            return None
        owner_name = owner.child_by_field_name("name")
        class_name = node_text(owner_name, source) if owner_name is not None else "?"
        qualname = f"{class_name}.{entry.name}"
        owner_header = header_text(owner, source)
        member_text = _function_text(node, source, "    ")
        text = f"{owner_header}\n{member_text}"
    else:
        text, qualname = _assignment_text(node, source), entry.name
    outer = node.parent
    span = outer if outer is not None and outer.type == "decorated_definition" else node
    return Definition(
        name=entry.name,
        kind=entry.kind,
        qualname=qualname,
        text=text,
        start_row=span.start_point.row,
        end_row=span.end_point.row,
        start_byte=span.start_byte,
        end_byte=span.end_byte,
        uri=snapshot.uri,
        owner_header=owner_header,
        member_text=member_text,
    )


def definitions(snapshot: Snapshot) -> list[Definition]:
    """Module-level functions, classes (and their methods) and assignments, in file order."""
    cached = _definition_cache.get(snapshot)
    if cached is None:
        built = (_build(snapshot, e) for e in _index(snapshot))
        cached = _definition_cache[snapshot] = [d for d in built if d is not None]
    return cached


def find_definitions(snapshot: Snapshot, names: Iterable[str]) -> dict[str, list[Definition]]:
    """Definitions of ``names`` only (text built for those alone: cheap on every keystroke)."""
    wanted = set(names)
    found: dict[str, list[Definition]] = {}
    built = _built_cache.setdefault(snapshot, {})
    for entry in _index(snapshot):
        if entry.name in wanted:
            definition = built.get(entry)
            if definition is None:
                definition = built[entry] = _build(snapshot, entry)
            if definition is not None:
                found.setdefault(entry.name, []).append(definition)
    return found


class NameUse(NamedTuple):
    name: str
    attribute: bool  # used as `obj.name` (a method or a module's function), not bare
    on_self: bool = False  # used as `self.name` / `cls.name`: a method of this class


def referenced_uses(snapshot: Snapshot, offset: int, window: int = 40) -> list[NameUse]:
    """Identifiers used within ``window`` lines above (and a few below) the cursor, each
    with whether it was used as an attribute; nearest first.

    The identifier being typed at the cursor is left out: it changes with every keystroke and
    is not a reference yet.
    """
    offset = max(0, min(offset, len(snapshot.text)))
    row = snapshot.row_of(offset)
    first_row = max(0, row - window)
    last_row = min(snapshot.line_count - 1, row + max(1, window // 4))
    start = snapshot.byte_at(snapshot.line_offsets[first_row])
    end_offset = (
        snapshot.line_offsets[last_row + 1]
        if last_row + 1 < snapshot.line_count
        else len(snapshot.text)
    )
    cursor_byte = snapshot.byte_at(offset)
    # Bounded in bytes too: a few huge (generated) lines must not mean a huge query.
    start = max(start, cursor_byte - MAX_WINDOW_BYTES)
    end = min(snapshot.byte_at(end_offset), cursor_byte + MAX_WINDOW_BYTES // 4)
    found = captures(IDENTIFIERS_QUERY, snapshot.tree.root_node, (start, end))
    attributes = {node.start_byte for node in found.get("attr", [])}
    source = snapshot.source
    members = {
        member.start_byte
        for receiver, member in zip(
            found.get("receiver", []), found.get("member", []), strict=False
        )
        if source[receiver.start_byte : receiver.end_byte] in (b"self", b"cls")
    }
    defined = {node.start_byte for node in found.get("defined", [])}  # names, not uses
    distance: dict[NameUse, int] = {}
    for node in found.get("name", []):
        if node.start_byte <= cursor_byte <= node.end_byte or node.start_byte in defined:
            continue
        at = node.start_byte
        use = NameUse(node_text(node, source), at in attributes, at in members)
        gap = (
            cursor_byte - node.end_byte
            if node.end_byte <= cursor_byte
            # Code below the cursor matters less than code above it.
            else 2 * (node.start_byte - cursor_byte)
        )
        if use not in distance or gap < distance[use]:
            distance[use] = gap
    return sorted(distance, key=lambda use: distance[use])


def referenced_names(snapshot: Snapshot, offset: int, window: int = 40) -> list[str]:
    """The names of :func:`referenced_uses`, nearest first, each once."""
    return list(dict.fromkeys(use.name for use in referenced_uses(snapshot, offset, window)))


def resolve(names: Sequence[str], snapshots: Sequence[Snapshot]) -> list[tuple[str, Definition]]:
    """Definitions of ``names`` in the given snapshots (earlier snapshots first), in ``names``
    order."""
    per_snapshot = [find_definitions(snapshot, names) for snapshot in snapshots]
    found: list[tuple[str, Definition]] = []
    for name in names:
        for table in per_snapshot:
            for definition in table.get(name, ()):
                found.append((name, definition))
    return found
