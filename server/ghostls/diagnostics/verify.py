"""Is a proposed patch a fix? Parse it and re-run our checks on it; never run the code.

A candidate passes only if the patched buffer parses (tree-sitter: no ERROR/MISSING node, and
CPython's parser), the targeted diagnostic is gone, and no new diagnostic appears compared with
a baseline:

* the check of the same buffer before the patch when it parsed (so pyflakes ran on it);
* while the buffer has a syntax error pyflakes never ran on it, so the baseline is the last
  version of the buffer that parsed, if we saw one, else the buffer with our own syntax fixes
  applied (when that parses); without either, no finding may appear in the changed lines and
  nothing only some of the valid candidates produce (:func:`agree_with_peers`).

For another server's diagnostic (pyright, ruff, mypy, ...) we cannot re-run its checker: the
patch must change the text the diagnostic points at (checked by the search in
``model_fixes``), parse, and add no ghostls diagnostic.
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


def _is_code(lines: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in lines.split("\n"))


def verify_patch(
    original: str,
    patched: str,
    target: Target,
    baseline: CheckResult,
    changed_rows: tuple[int, int],
    clean_baseline: CheckResult | None = None,
    *,
    old_lines: str = "",
    new_lines: str = "",
) -> Verdict:
    """``changed_rows``: first and last row of the replaced text in ``patched``.

    Without a baseline that ran the name checks (the buffer never parsed), the verdict is
    provisional: :func:`agree_with_peers` must also pass over all provisional survivors.
    """
    if patched == original:
        return Verdict(False, "changes nothing")
    if old_lines and _is_code(old_lines) and not _is_code(new_lines):
        return Verdict(False, "comments out or deletes the code")
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
        return Verdict(True, "verified", result)
    index = LineIndex(patched)
    first, last = changed_rows
    for p in result.problems:
        if first <= index.row_of(p.start) <= last:
            return Verdict(False, f"adds a new diagnostic: {p.code} {p.message}", result)
    return Verdict(True, "provisional", result)


def agree_with_peers(results: list[CheckResult]) -> list[bool]:
    """Without a baseline: a finding only some candidates produce is one they added.

    Whatever every syntactically valid candidate reports was already in the code around the
    mistake; a candidate that reports more than that common part introduced it.
    """
    if not results:
        return []
    counters = [_keys(r.problems) for r in results]
    common = counters[0].copy()
    for counter in counters[1:]:
        common &= counter
    return [not (counter - common) for counter in counters]
