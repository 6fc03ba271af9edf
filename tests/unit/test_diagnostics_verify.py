"""The fix verifier on crafted candidates, and the search with a scripted engine.

The engine here is a stand-in that returns chosen candidates (this tests the search and the
verifier, one module each); the real model is exercised in tests/e2e/test_fixes_model.py.
"""

from __future__ import annotations

from typing import Any

from ghostls.diagnostics.checks import check_text
from ghostls.diagnostics.model_fixes import FixTarget, search
from ghostls.diagnostics.verify import Target, agree_with_peers, verify_patch
from ghostls.engine.types import (
    CancelToken,
    Candidate,
    EngineState,
    GenerationRequest,
    GenerationResult,
    PromptParts,
)
from ghostls.syntax.errors import LineIndex

TYPO = (
    "def total(values):\n    result = 0\n    for value in values:\n"
    "        result += valeu\n    return result\n"
)
COLON = (
    "def total(values):\n    result = 0\n    for value in values\n"
    "        result += value\n    return result\n"
)


def replace_row(text: str, row: int, new: str) -> str:
    lines = text.split("\n")
    lines[row] = new
    return "\n".join(lines)


def test_a_real_fix_passes() -> None:
    baseline = check_text(TYPO)
    target = Target("undefined-name", "undefined name 'valeu'", "ghostls")
    patched = replace_row(TYPO, 3, "        result += value")
    assert verify_patch(TYPO, patched, target, baseline, (3, 3)).ok


def test_a_candidate_that_adds_a_new_error_is_rejected() -> None:
    baseline = check_text(TYPO)
    target = Target("undefined-name", "undefined name 'valeu'", "ghostls")
    # Clears 'valeu' but uses another undefined name.
    patched = replace_row(TYPO, 3, "        result += amount")
    verdict = verify_patch(TYPO, patched, target, baseline, (3, 3))
    assert not verdict.ok and "adds a new diagnostic" in verdict.reason


def test_a_candidate_that_leaves_the_diagnostic_is_rejected() -> None:
    baseline = check_text(TYPO)
    target = Target("undefined-name", "undefined name 'valeu'", "ghostls")
    patched = replace_row(TYPO, 3, "        result -= valeu")
    verdict = verify_patch(TYPO, patched, target, baseline, (3, 3))
    assert not verdict.ok and verdict.reason == "the diagnostic is still there"


def test_candidates_that_do_not_parse_or_change_nothing_are_rejected() -> None:
    baseline = check_text(COLON)
    target = Target("syntax-error", "expected ':' after the 'for' loop header", "ghostls")
    still_broken = replace_row(COLON, 2, "    for value in values)")
    assert not verify_patch(COLON, still_broken, target, baseline, (2, 2)).ok
    assert verify_patch(COLON, COLON, target, baseline, (2, 2)).reason == "changes nothing"


def test_commenting_out_the_code_is_not_a_fix() -> None:
    baseline = check_text(COLON)
    target = Target("syntax-error", "expected ':'", "ghostls")
    lines = COLON.split("\n")
    patched = replace_row(COLON, 2, "    # for value in values")
    verdict = verify_patch(
        COLON, patched, target, baseline, (2, 2), old_lines=lines[2], new_lines="    # x"
    )
    assert not verdict.ok


def test_without_a_baseline_peers_decide_what_is_new() -> None:
    good = check_text(replace_row(COLON, 2, "    for value in values:"))
    renamed = check_text(replace_row(COLON, 2, "    for item in values:"))  # 'value' undefined
    assert agree_with_peers([good, renamed]) == [True, False]


def test_foreign_diagnostic_needs_only_parse_and_nothing_new() -> None:
    text = "items = []\nitems.appnd(1)\nprint(items)\n"
    baseline = check_text(text)
    target = Target("reportAttributeAccessIssue", "Cannot access attribute 'appnd'", "Pylance")
    assert verify_patch(text, replace_row(text, 1, "items.append(1)"), target, baseline, (1, 1)).ok
    broken = replace_row(text, 1, "items.append(1, undefined_x)")
    assert not verify_patch(text, broken, target, baseline, (1, 1)).ok


class ScriptedEngine:
    """Returns fixed candidates and scores them by a table (stand-in for the model)."""

    def __init__(self, candidates: list[str], scores: dict[str, float]) -> None:
        self.candidates = candidates
        self.scores = scores
        self.requests: list[GenerationRequest] = []

    @property
    def state(self) -> str:
        return EngineState.READY

    @property
    def info(self) -> Any:
        return None

    @property
    def error(self) -> str | None:
        return None

    async def generate(
        self, request: GenerationRequest, cancel: CancelToken | None = None
    ) -> GenerationResult:
        self.requests.append(request)
        cands = tuple(Candidate(c, -1.0) for c in self.candidates)
        return GenerationResult(self.candidates[0] if self.candidates else "", candidates=cands)

    async def score(self, prompt: PromptParts, continuation: str) -> float:
        line = continuation.split("\n")[0].strip()
        return self.scores.get(line, -50.0)

    async def close(self) -> None:
        return None


def _target(text: str, row: int, code: str, message: str) -> FixTarget:
    index = LineIndex(text)
    return FixTarget(row, row, index.starts[row], index.starts[row], code, message, "ghostls")


async def test_search_never_offers_a_candidate_that_adds_an_error() -> None:
    engine = ScriptedEngine(
        ["result += amount", "result += value", "result +=", "# result += value"],
        {"result += amount": 0.0, "result += value": -1.0},
    )
    target = _target(TYPO, 3, "undefined-name", "undefined name 'valeu'")
    outcome = await search(engine, TYPO, target, check_text(TYPO), use_edits=False)
    offered = [f.new_lines.strip() for f in outcome.fixes]
    assert offered == ["result += value"]  # 'amount' scored higher but adds an undefined name
    prompt = engine.requests[0].prompt.prefix
    assert "valeu" in prompt and "undefined name" in prompt  # the model is told what is wrong


async def test_search_ranks_survivors_by_the_model_score() -> None:
    engine = ScriptedEngine([], {"for value in values:": -1.0, "for value in values,:": -9.0})
    target = _target(COLON, 2, "syntax-error", "expected ':' after the 'for' loop header")
    outcome = await search(engine, COLON, target, check_text(COLON), use_generation=False)
    assert outcome.fixes
    assert outcome.fixes[0].new_lines == "    for value in values:"
    assert outcome.fixes == tuple(sorted(outcome.fixes, key=lambda f: -f.logprob))


async def test_search_says_why_when_nothing_verifies() -> None:
    engine = ScriptedEngine(["result += amount"], {})
    target = _target(TYPO, 3, "undefined-name", "undefined name 'valeu'")
    outcome = await search(engine, TYPO, target, check_text(TYPO), use_edits=False)
    assert outcome.fixes == () and outcome.reason.startswith("no verified fix found")


async def test_foreign_target_must_change_the_text_it_points_at() -> None:
    text = "items = []\nitems.apend(1)\nprint(items)\n"
    engine = ScriptedEngine(["items.apend(1),", "items.append(1)"], {"items.append(1)": -1.0})
    start = text.index("apend")
    target = FixTarget(1, 1, start, start + 5, "attr", 'Cannot access attribute "apend"', "Pylance")
    outcome = await search(engine, text, target, check_text(text), use_edits=False)
    assert [f.new_lines for f in outcome.fixes] == ["items.append(1)"]


async def test_search_refuses_a_range_outside_the_document() -> None:
    engine = ScriptedEngine(["x = 1"], {})
    target = FixTarget(40, 41, 0, 0, None, "", "", selection=True)
    outcome = await search(engine, TYPO, target, check_text(TYPO))
    assert outcome.fixes == () and "outside the document" in outcome.reason
