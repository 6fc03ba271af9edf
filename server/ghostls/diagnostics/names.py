"""pyflakes' findings (names, imports, likely bugs) run in-process on a parsed buffer.

pyflakes reports each message against an AST node; a subclassed ``report`` keeps that node, so
the range can point at the name itself (the alias in an import, the name after ``def``) rather
than at the statement, and keeps the names in scope for "did you mean ...".
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from keyword import iskeyword
from typing import Any

from pyflakes import checker, messages  # type: ignore[import-untyped]

from ghostls.diagnostics import quickfixes
from ghostls.diagnostics.problems import Problem, Severity
from ghostls.syntax.errors import LineIndex

# pyflakes message class -> (stable code, severity, unnecessary).
CODES: dict[str, tuple[str, str, bool]] = {
    "UndefinedName": ("undefined-name", Severity.ERROR, False),
    "UndefinedLocal": ("undefined-local", Severity.ERROR, False),
    "UndefinedExport": ("undefined-export", Severity.ERROR, False),
    "UnusedImport": ("unused-import", Severity.WARNING, True),
    "UnusedVariable": ("unused-variable", Severity.WARNING, True),
    "UnusedAnnotation": ("unused-annotation", Severity.WARNING, True),
    "UnusedIndirectAssignment": ("unused-global", Severity.WARNING, True),
    "RedefinedWhileUnused": ("redefined", Severity.WARNING, False),
    "ImportShadowedByLoopVar": ("import-shadowed-by-loop-var", Severity.WARNING, False),
    "FStringMissingPlaceholders": ("fstring-missing-placeholders", Severity.WARNING, False),
    "TStringMissingPlaceholders": ("tstring-missing-placeholders", Severity.WARNING, False),
    "ImportStarUsed": ("import-star", Severity.WARNING, False),
    "ImportStarUsage": ("import-star-usage", Severity.WARNING, False),
    "ReturnOutsideFunction": ("return-outside-function", Severity.ERROR, False),
    "YieldOutsideFunction": ("yield-outside-function", Severity.ERROR, False),
    "BreakOutsideLoop": ("break-outside-loop", Severity.ERROR, False),
    "ContinueOutsideLoop": ("continue-outside-loop", Severity.ERROR, False),
    "DuplicateArgument": ("duplicate-argument", Severity.ERROR, False),
    "IsLiteral": ("is-literal", Severity.WARNING, False),
}

MAX_REPORTED = 500  # a file with thousands of findings gets the first 500


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


@dataclass(frozen=True)
class _Found:
    cls: type
    args: tuple[Any, ...]
    scopes: tuple[Any, ...] | None  # the scope stack, for "did you mean" on undefined names


class _RecordingChecker(checker.Checker):
    """A pyflakes checker that keeps each message's node and, for undefined names, the scope."""

    def __init__(self, tree: ast.AST, filename: str) -> None:
        self.found: list[_Found] = []
        super().__init__(tree, filename=filename, withDoctest=False)

    def report(self, messageClass: type, *args: Any, **kwargs: Any) -> None:
        if len(self.found) >= MAX_REPORTED:
            return
        scopes = None
        if messageClass in (messages.UndefinedName, messages.ImportStarUsage):
            scopes = tuple(self.scopeStack)  # the scopes fill up later; names are read at the end
        self.found.append(_Found(messageClass, args, scopes))


class _Suggestions:
    """Closest visible name per (scope stack, name), computed once per file."""

    def __init__(self, builtins: frozenset[str], text: str) -> None:
        self.builtins = builtins
        self.text = text
        self._words: frozenset[str] | None = None
        self._names: dict[tuple[int, ...], frozenset[str]] = {}
        self._fixes: dict[tuple[tuple[int, ...], str], str | None] = {}

    def visible(self, scopes: tuple[Any, ...]) -> frozenset[str]:
        key = tuple(id(s) for s in scopes)
        names = self._names.get(key)
        if names is None:
            found: set[str] = set(self.builtins)
            for depth, scope in enumerate(scopes):
                # A class body's names are not visible inside its methods.
                if isinstance(scope, checker.ClassScope) and depth != len(scopes) - 1:
                    continue
                found.update(scope)
            names = self._names[key] = frozenset(found)
        return names

    def closest(self, scopes: tuple[Any, ...], name: str) -> str | None:
        key = (tuple(id(s) for s in scopes), name)
        if key not in self._fixes:
            visible = self.visible(scopes)
            if self._words is None:
                self._words = frozenset(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", self.text))
            rivals = [w for w in self._words if w not in visible and not iskeyword(w)]
            self._fixes[key] = quickfixes.closest(name, visible, rivals)
        return self._fixes[key]


def check_names(
    module: ast.Module, text: str, index: LineIndex, filename: str = "<buffer>"
) -> list[Problem]:
    recorder = _RecordingChecker(module, filename)
    suggestions = _Suggestions(frozenset(recorder.builtIns), text)
    problems: list[Problem] = []
    for found in recorder.found:
        problem = _to_problem(found, text, index, filename, suggestions)
        if problem is not None:
            problems.append(problem)
    problems.sort(key=lambda p: (p.start, p.end))
    return problems


def _message_text(found: _Found, filename: str) -> str:
    msg = found.cls(filename, *found.args)
    return str(msg.message % msg.message_args)


def _to_problem(
    found: _Found, text: str, index: LineIndex, filename: str, suggestions: _Suggestions
) -> Problem | None:
    name = found.cls.__name__
    code, severity, unnecessary = CODES.get(name, (_kebab(name), Severity.WARNING, False))
    node = found.args[0] if found.args else None
    if not hasattr(node, "lineno"):
        return None
    message = _message_text(found, filename)
    start, end = node_range(node, index)
    fix = None
    if name == "UnusedImport" and isinstance(node, (ast.Import, ast.ImportFrom)):
        alias = quickfixes.find_alias(node, str(found.args[1]))
        if alias is not None:
            start, end = node_range(alias, index)
            fix = quickfixes.remove_import(node, alias, text, index)
    elif name in ("UndefinedName", "ImportStarUsage") and isinstance(node, ast.Name):
        if found.scopes is not None:
            replacement = suggestions.closest(found.scopes, node.id)
            if replacement is not None:
                fix = quickfixes.replace_name(node.id, replacement, start, end)
    elif name == "FStringMissingPlaceholders":
        fix = quickfixes.drop_fstring_prefix(text, start, end)
    elif name in ("UnusedVariable", "RedefinedWhileUnused", "UnusedAnnotation"):
        bound = str(found.args[1]) if len(found.args) > 1 else ""
        start, end = _name_in(node, bound, text, index, start, end)
    elif name == "UndefinedExport" and len(found.args) > 1:
        # The whole __all__ statement is reported; point at the string naming it.
        quoted = re.compile(rf"(['\"]){re.escape(str(found.args[1]))}\1").search(text, start, end)
        if quoted:
            start, end = quoted.start(), quoted.end()
    return Problem(code, message, severity, start, end, fix, unnecessary)


def node_range(node: Any, index: LineIndex) -> tuple[int, int]:
    start = index.offset_of_point(node.lineno - 1, node.col_offset)
    end_line = getattr(node, "end_lineno", None) or node.lineno
    end_col = getattr(node, "end_col_offset", None)
    end = index.offset_of_point(end_line - 1, end_col) if end_col is not None else start
    return start, max(end, start)


def _name_in(
    node: Any, name: str, text: str, index: LineIndex, start: int, end: int
) -> tuple[int, int]:
    """Narrow a statement's range to where ``name`` is bound in it (def/class/as/alias)."""
    if isinstance(node, ast.Name):
        return start, end
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        alias = next((a for a in node.names if (a.asname or a.name.split(".")[0]) == name), None)
        return node_range(alias, index) if alias is not None else (start, end)
    if not name:
        return start, end
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        pattern = rf"(?:def|class)\s+({re.escape(name)})\b"
    elif isinstance(node, ast.ExceptHandler):
        pattern = rf"\bas\s+({re.escape(name)})\b"
    else:
        pattern = rf"\b({re.escape(name)})\b"
    match = re.compile(pattern).search(text, start, end)
    return (match.start(1), match.end(1)) if match else (start, end)
