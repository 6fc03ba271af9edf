"""Attributes a class reads from ``self`` that nothing in it assigns: what ``__init__`` lacks.

The attribute form of ``needed_names``. On a blank line in ``__init__``, if the class's methods
read ``self._flag`` and no line of the class assigns it (and the class body does not define
it), the line being written is most likely its assignment. A model without FIM tokens never
sees the methods below; starting the suggestion with ``self._flag =`` hands it that.

Only classes without base classes (or with ``object``) are checked: an attribute a class only
reads may come from a base, which this module cannot see. The class is parsed by CPython's
``ast`` (never executed), so the cost is one parse of one class.
"""

from __future__ import annotations

import ast

from ghostls.completion.chunks import outermost_definition
from ghostls.documents import Snapshot
from ghostls.syntax.scopes import enclosing_scope_nodes


def _self_attributes(node: ast.AST, self_name: str) -> tuple[list[ast.Attribute], set[str]]:
    """(reads of ``self.x`` in source order, names assigned as ``self.x``) under ``node``."""
    reads: list[ast.Attribute] = []
    assigned: set[str] = set()
    # ``self.x(...)``: a method, most likely inherited; data attributes are what __init__ sets.
    called = {id(sub.func) for sub in ast.walk(node) if isinstance(sub, ast.Call)}
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.value, ast.Name)
            and sub.value.id == self_name
        ):
            if isinstance(sub.ctx, ast.Load):
                if id(sub) not in called:
                    reads.append(sub)
            else:
                assigned.add(sub.attr)
    reads.sort(key=lambda a: (a.lineno, a.col_offset))
    return reads, assigned


def _class_level_names(cls: ast.ClassDef) -> set[str]:
    names: set[str] = set()
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _plain_bases(cls: ast.ClassDef) -> bool:
    return all(isinstance(b, ast.Name) and b.id == "object" for b in cls.bases) and not any(
        k.arg == "metaclass" for k in cls.keywords
    )


def _class_with_init_at(tree: ast.Module, line: int) -> tuple[ast.ClassDef, str] | None:
    """The class whose ``__init__`` starts at 1-based ``line``, and the name of its self.

    (The line, not the span: a blank line after the method's last statement is past the end
    ``ast`` gives it, though the cursor is in the method.)"""
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            if (
                isinstance(stmt, ast.FunctionDef)
                and stmt.name == "__init__"
                and stmt.lineno == line
                and stmt.args.args
            ):
                return node, stmt.args.args[0].arg
    return None


def attributes_needed_by_class(snapshot: Snapshot, offset: int) -> tuple[str, ...]:
    """``self.x`` for each attribute the class reads but never assigns, when the cursor is in
    its ``__init__``; first read first."""
    scopes = enclosing_scope_nodes(snapshot, offset)
    if len(scopes) < 2 or scopes[-1].type != "function_definition":
        return ()
    name = scopes[-1].child_by_field_name("name")
    if name is None or name.text != b"__init__" or scopes[-2].type != "class_definition":
        return ()
    chunk = outermost_definition(snapshot, offset, functions_only=False)
    if chunk is None:
        return ()
    try:
        tree = ast.parse(chunk.text(snapshot.text[chunk.start : chunk.end]) + "\n")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    found = _class_with_init_at(tree, scopes[-1].start_point.row - chunk.first_row + 1)
    if found is None:
        return ()
    cls, self_name = found
    if not _plain_bases(cls):
        return ()
    reads, assigned = _self_attributes(cls, self_name)
    known = assigned | _class_level_names(cls)
    wanted = (
        f"{self_name}.{a.attr}"
        for a in reads
        if a.attr not in known and not a.attr.startswith("__")
    )
    return tuple(dict.fromkeys(wanted))


__all__ = ["attributes_needed_by_class"]
