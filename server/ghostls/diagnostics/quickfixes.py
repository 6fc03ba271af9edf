"""Deterministic fixes: computed once with the diagnostic and carried in its data.

Each one is certain by construction: removing an import nobody uses, the one defined name a
typo is closest to, an ``f`` prefix on a string without placeholders.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterable

from ghostls.diagnostics.problems import Edit, Fix
from ghostls.syntax.errors import LineIndex


def find_alias(node: ast.Import | ast.ImportFrom, imported_name: str) -> ast.alias | None:
    """The alias pyflakes means by ``imported_name`` ('os.path', 'pkg.name as other')."""
    full, _, asname = imported_name.partition(" as ")
    for alias in node.names:
        if (alias.asname or "") != asname:
            continue
        if alias.name == full or full.endswith("." + alias.name) or full.endswith(alias.name):
            return alias
    return None


def _alias_range(alias: ast.alias, index: LineIndex) -> tuple[int, int]:
    start = index.offset_of_point(alias.lineno - 1, alias.col_offset)
    end = index.offset_of_point((alias.end_lineno or alias.lineno) - 1, alias.end_col_offset or 0)
    return start, end


def remove_import(
    node: ast.Import | ast.ImportFrom, alias: ast.alias, text: str, index: LineIndex
) -> Fix | None:
    if not hasattr(alias, "lineno"):
        return None  # Python < 3.10 gives aliases no position
    shown = alias.name + (f" as {alias.asname}" if alias.asname else "")
    if len(node.names) > 1:
        i = node.names.index(alias)
        start, end = _alias_range(alias, index)
        if i + 1 < len(node.names):
            end = _alias_range(node.names[i + 1], index)[0]
        else:
            start = _alias_range(node.names[i - 1], index)[1]
        return Fix(f"Remove unused import '{shown}'", (Edit(start, end, ""),))
    start = index.offset_of_point(node.lineno - 1, node.col_offset)
    end = index.offset_of_point((node.end_lineno or node.lineno) - 1, node.end_col_offset or 0)
    return Fix(f"Remove unused import '{shown}'", (_statement_removal(text, index, start, end),))


def _statement_removal(text: str, index: LineIndex, start: int, end: int) -> Edit:
    """Delete a statement: its whole lines when it has them alone, else it and its ';'."""
    first_row, last_row = index.row_of(start), index.row_of(end)
    before = text[index.starts[first_row] : start]
    line_end = index.offset(last_row, len(index.line(last_row)))
    after = text[end:line_end]
    if after.lstrip().startswith(";"):
        semi = end + after.index(";") + 1
        while semi < line_end and text[semi] in " \t":
            semi += 1
        return Edit(start, semi, "")
    if before.strip():
        semi = before.rstrip().endswith(";")
        cut = index.starts[first_row] + len(before.rstrip()) - (1 if semi else 0)
        return Edit(cut, end, "")
    if after.strip() and not after.strip().startswith("#"):
        return Edit(start, end, "pass")
    if _only_statement_in_block(index, first_row, last_row):
        return Edit(start, line_end, "pass")
    next_start = index.starts[last_row + 1] if last_row + 1 < len(index.starts) else len(text)
    return Edit(index.starts[first_row], next_start, "")


def _only_statement_in_block(index: LineIndex, first_row: int, last_row: int) -> bool:
    line = index.line(first_row)
    indent = len(line) - len(line.lstrip())
    if indent == 0:
        return False
    prev = _neighbour(index, range(first_row - 1, -1, -1))
    nxt = _neighbour(index, range(last_row + 1, len(index.starts)))
    opens_block = prev is not None and prev.rstrip().endswith(":")
    prev_shallower = prev is not None and _indent(prev) < indent
    next_shallower = nxt is None or _indent(nxt) < indent
    return opens_block and prev_shallower and next_shallower


def _neighbour(index: LineIndex, rows: Iterable[int]) -> str | None:
    for row in rows:
        line = index.line(row)
        if line.strip() and not line.lstrip().startswith("#"):
            return line
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a swap of neighbours counts 1); > limit stops early."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def max_typo_distance(name: str) -> int:
    if len(name) < 3:
        return 0
    return 1 if len(name) <= 5 else 2


def closest(
    name: str, candidates: Iterable[str], rivals: Iterable[str] = (), limit: int | None = None
) -> str | None:
    """The single candidate nearest to ``name`` within the typo distance; None if tied/far.

    ``rivals`` are other names the user may have meant (in the file but not in scope, such as
    attributes): one as close as the best candidate makes the guess ambiguous.
    """
    limit = max_typo_distance(name) if limit is None else limit
    if limit == 0:
        return None
    size = len(name)
    dunder = name.startswith("__")
    letters = set(name)
    best: list[str] = []
    best_distance = limit + 1
    for candidate in candidates:
        if abs(len(candidate) - size) > limit or candidate == name:
            continue  # cheap tests first: most names are far too long or short
        if candidate.startswith("__") and not dunder:
            continue
        if len(letters ^ set(candidate)) > 2 * limit:
            continue  # each edit changes at most two letters of the set: too far apart
        distance = edit_distance(name, candidate, min(limit, best_distance))
        if distance < best_distance:
            best, best_distance = [candidate], distance
        elif distance == best_distance and distance <= limit:
            best.append(candidate)
    if len(best) != 1 or best_distance > limit:
        return None
    others = [r for r in rivals if r != best[0]]
    if others and _any_within(name, others, best_distance):
        return None
    return best[0]


def _any_within(name: str, names: list[str], distance: int) -> bool:
    letters = set(name)
    for other in names:
        if other == name or abs(len(other) - len(name)) > distance:
            continue
        if len(letters ^ set(other)) > 2 * distance:
            continue
        if edit_distance(name, other, distance) <= distance:
            return True
    return False


def replace_name(name: str, replacement: str, start: int, end: int) -> Fix:
    return Fix(f"Replace '{name}' by '{replacement}'", (Edit(start, end, replacement),))


def closest_name(name: str, visible: Iterable[str], start: int, end: int) -> Fix | None:
    replacement = closest(name, visible)
    return None if replacement is None else replace_name(name, replacement, start, end)


def drop_fstring_prefix(text: str, start: int, end: int) -> Fix | None:
    """Remove the ``f`` from the one f-string literal in text[start:end]."""
    segment = text[start:end]
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(segment).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None
    index = LineIndex(segment)
    prefixed: list[int] = []
    for token in tokens:
        if token.type == tokenize.STRING or token.type == getattr(tokenize, "FSTRING_START", -1):
            quote = min(i for i in (token.string.find("'"), token.string.find('"')) if i >= 0)
            prefix = token.string[:quote]
            if "f" in prefix.lower():
                offset = index.offset(token.start[0] - 1, token.start[1])
                prefixed.append(offset + prefix.lower().index("f"))
    if len(prefixed) != 1:
        return None
    at = start + prefixed[0]
    return Fix("Remove the 'f' prefix", (Edit(at, at + 1, ""),))
