"""Names the code below the cursor reads but nothing defines: what a new line should bind.

On a blank line in a function, if a few lines further down read ``saved_main`` and nothing in
the function, the module or the builtins binds it, the line being written almost always is its
definition (the quality tasks: 24 of 26 such lines). A model without FIM tokens never sees
those lines; starting the suggestion with ``saved_main =`` hands it that knowledge.

Only the outermost enclosing function is parsed (CPython's ``ast``, never executed) and
checked with pyflakes, so the cost does not grow with the file; module-level names come from
the tree-sitter symbol index instead.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from pyflakes import checker, messages  # type: ignore[import-untyped]

from ghostls.completion.chunks import outermost_definition
from ghostls.documents import Snapshot
from ghostls.syntax.scopes import enclosing_scope_nodes
from ghostls.syntax.symbols import module_imports, resolve

LOOK_AHEAD_ROWS = 40  # reads further below than this say little about the current line
_MODULE_KINDS = frozenset({"function", "class", "variable"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _undefined_reads(chunk: str) -> list[tuple[int, int, str]]:
    """(1-based line, column, name) of every read of an unbound name that pyflakes reports."""
    try:
        tree = ast.parse(chunk)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found = checker.Checker(tree, "chunk.py").messages
    return sorted(
        (m.lineno, m.col, str(m.message_args[0]))
        for m in found
        if isinstance(m, (messages.UndefinedName, messages.UndefinedLocal))
    )


def _bound_at_module_level(snapshot: Snapshot, names: Iterable[str]) -> set[str]:
    wanted = list(dict.fromkeys(names))
    bound: set[str] = set()
    for imp in module_imports(snapshot):
        if "*" in imp.names:  # a star import may bind anything
            return set(wanted)
        bound.update(imp.names)
    for name, definition in resolve(wanted, [snapshot]):
        if definition.kind in _MODULE_KINDS and not definition.owner_header:
            bound.add(name)
    # Bindings the symbol index does not model: `global x`, module-level for/with targets.
    text = snapshot.text
    for name in wanted:
        if name in bound:
            continue
        global_statement = rf"(?m)^[ \t]*global\b[^\n]*\b{name}\b"
        module_loop = rf"(?m)^(?:async[ \t]+)?(?:for|with)\b[^\n]*\b{name}\b"
        if re.search(global_statement, text) or re.search(module_loop, text):
            bound.add(name)
    return bound


def names_needed_below(snapshot: Snapshot, offset: int) -> tuple[str, ...]:
    """Unbound names read below the cursor's line in its function, nearest first."""
    chunk = outermost_definition(snapshot, offset, functions_only=True)
    if chunk is None:
        return ()
    innermost = [
        n for n in enclosing_scope_nodes(snapshot, offset) if n.type == "function_definition"
    ][-1]
    row = snapshot.position_at(offset)[0]
    last_row = min(innermost.end_point.row, row + LOOK_AHEAD_ROWS)
    # The outermost function holds every scope the cursor's names can come from, short of the
    # module (class bodies are not visible from methods).
    first_row = chunk.first_row
    text = chunk.text(snapshot.text[chunk.start : chunk.end])
    reads = [
        (line + first_row - 1, name)
        for line, _column, name in _undefined_reads(text + "\n")
        if _IDENTIFIER.match(name)
    ]
    below = [name for at, name in reads if row < at <= last_row]
    if not below:
        return ()
    bound = _bound_at_module_level(snapshot, below)
    return tuple(dict.fromkeys(name for name in below if name not in bound))


__all__ = ["names_needed_below"]
