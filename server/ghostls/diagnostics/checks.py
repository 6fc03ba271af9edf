"""All of ghostls' checks on one buffer: syntax first, then names when the buffer parses."""

from __future__ import annotations

import time
from dataclasses import dataclass

import tree_sitter

from ghostls.diagnostics.names import check_names
from ghostls.diagnostics.problems import Edit, Fix, Problem, Severity
from ghostls.syntax.errors import LineIndex, SyntaxProblem, find_syntax_errors, python_parse

# Limits that keep a keystroke cheap on huge files: above them we give up politely.
MAX_CHARS = 4_000_000  # no checks at all (a generated or minified file)
MAX_LINES_FOR_NAMES = 30_000  # pyflakes takes ~12 ms per 1,000 lines here


@dataclass(frozen=True)
class CheckResult:
    problems: tuple[Problem, ...]
    names_checked: bool  # pyflakes ran (the buffer parsed and was small enough)
    note: str = ""  # why something was not checked, for the user
    elapsed_ms: float = 0.0

    @property
    def has_syntax_errors(self) -> bool:
        return any(p.code == "syntax-error" for p in self.problems)


def syntax_to_problem(problem: SyntaxProblem) -> Problem:
    fix = None
    if problem.fix is not None:
        f = problem.fix
        fix = Fix(f.title, (Edit(f.start, f.end, f.text),), preferred=f.certain)
    return Problem(
        "syntax-error",
        problem.message,
        Severity.ERROR,
        problem.start,
        problem.end,
        fix,
        kind=problem.kind,
    )


def check_text(
    text: str,
    tree: tree_sitter.Tree | None = None,
    *,
    filename: str = "<buffer>",
    max_lines_for_names: int = MAX_LINES_FOR_NAMES,
) -> CheckResult:
    """Check ``text`` (never executes it). ``tree`` is its tree-sitter tree if already parsed."""
    started = time.perf_counter()
    if len(text) > MAX_CHARS:
        note = f"file too large to check ({len(text):,} characters; limit {MAX_CHARS:,})"
        return CheckResult((), False, note, _ms(started))
    module, error = python_parse(text)
    if error is not None:
        syntax = find_syntax_errors(text, tree, error)
        return CheckResult(tuple(syntax_to_problem(p) for p in syntax), False, "", _ms(started))
    assert module is not None
    index = LineIndex(text)
    if len(index.starts) > max_lines_for_names:
        note = (
            f"names not checked: the file has {len(index.starts):,} lines "
            f"(limit {max_lines_for_names:,})"
        )
        return CheckResult((), False, note, _ms(started))
    problems = check_names(module, text, index, filename)
    return CheckResult(tuple(problems), True, "", _ms(started))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
