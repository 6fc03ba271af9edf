"""Is a proposed patch a fix? Parse it and re-run our checks on it; never run the code.

A candidate passes only if the patched buffer parses (tree-sitter: no ERROR/MISSING node, and
CPython's parser), the targeted diagnostic is gone, and no new diagnostic appears compared with
a baseline:

* the check of the same buffer before the patch when it parsed (so pyflakes ran on it);
* while the buffer has a syntax error pyflakes never ran on it, so the baseline is the last
  version of the buffer that parsed, if we saw one; without one, no new finding may appear in
  the changed lines.

For another server's diagnostic (pyright, ruff, mypy, ...) we cannot re-run its checker: the
patch must change the lines the diagnostic points at, parse, and add no ghostls diagnostic.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ghostls.diagnostics.checks import CheckResult, check_text
from ghostls.diagnostics.problems import Problem
from ghostls.documents import new_parser
from ghostls.syntax.errors import LineIndex

GHOSTLS_SOURCE = "ghostls"


@dataclass(frozen=True)
class Target:
    """What a fix must remove: a diagnostic (ours or another server's) or just a selection."""

    code: str | None
    message: str
    source: str  # "ghostls", another server's name, or "" for a selection
    selection: bool = False

    @property
    def ours(self) -> bool:
        return self.source == GHOSTLS_SOURCE and not self.selection


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str
    result: CheckResult | None = None


def problem_key(code: str | None, message: str) -> tuple[str, str]:
    """Identity of a finding across edits: line numbers in messages move with the code."""
    return (code or "", re.sub(r"\d+", "#", message))


def _keys(problems: tuple[Problem, ...]) -> Counter[tuple[str, str]]:
    return Counter(problem_key(p.code, p.message) for p in problems)


def verify_patch(
    original: str,
    patched: str,
    target: Target,
    baseline: CheckResult,
    changed_rows: tuple[int, int],
    clean_baseline: CheckResult | None = None,
) -> Verdict:
    """``changed_rows``: first and last row of the replaced text in ``patched``."""
    if patched == original:
        return Verdict(False, "changes nothing")
    tree = new_parser().parse(patched.encode("utf-8", "surrogatepass"))
    if tree.root_node.has_error:
        return Verdict(False, "does not parse (tree-sitter)")
    result = check_text(patched, tree)
    if result.has_syntax_errors:
        return Verdict(False, "does not parse (Python)", result)
    after = _keys(result.problems)
    target_key = problem_key(target.code, target.message)
    if target.ours and target.code != "syntax-error":
        before = _keys(baseline.problems)
        if after[target_key] >= before[target_key]:
            return Verdict(False, "the diagnostic is still there", result)
    reference = baseline if baseline.names_checked else clean_baseline
    if reference is not None:
        new = after - _keys(reference.problems)
        new.pop(target_key, None)
        if new:
            code, message = next(iter(new))
            return Verdict(False, f"adds a new diagnostic: {code} {message}", result)
    else:
        index = LineIndex(patched)
        first, last = changed_rows
        for p in result.problems:
            if first <= index.row_of(p.start) <= last:
                return Verdict(False, f"adds a new diagnostic: {p.code} {p.message}", result)
    return Verdict(True, "verified", result)
