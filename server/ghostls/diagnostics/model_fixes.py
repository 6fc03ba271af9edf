"""Model-proposed fixes: a search over candidate replacements of the faulty lines, verified.

Candidates come from two places:

* the model itself: ``generate(..., n_candidates=N)`` continues the code before the faulty
  lines, after a comment that shows the broken line and what is wrong with it;
* small edits of the faulty lines (a missing ':' or bracket, a stray bracket, an identifier
  replaced by a similar name from the file, the neighbouring indentation levels).

Every candidate goes through :func:`ghostls.diagnostics.verify.verify_patch` (the patched
buffer must parse and come out of our checks cleaner, see there). Survivors are ranked by the
model's log-likelihood of the new lines after the code before them (``engine.score``), so the
model decides among fixes that are already known to be valid. User code is never executed.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ghostls.diagnostics.checks import CheckResult, check_text
from ghostls.diagnostics.problems import Edit, apply_edits
from ghostls.diagnostics.quickfixes import edit_distance
from ghostls.diagnostics.verify import Target, agree_with_peers, verify_patch
from ghostls.engine.types import (
    CancelToken,
    Engine,
    EngineState,
    GenerationRequest,
    PromptParts,
)
from ghostls.syntax.errors import LineIndex, python_parse

if TYPE_CHECKING:
    from ghostls.app import GhostServer
    from ghostls.documents import Snapshot

log = logging.getLogger(__name__)

CONTEXT_LINES = 30  # lines before the faulty ones given to the model
SUFFIX_LINES = 10  # lines after them (used by FIM models)
MAX_TARGET_LINES = 6  # longer spans are not rewritten by the model
MAX_EDIT_CANDIDATES = 40
# A faulty line longer than this (minified or hostile code) gets no edit candidates: one
# candidate per bracket of a 100 KB line stalled the event loop for minutes (issue 10).
MAX_CANDIDATE_LINE_CHARS = 2_000
MAX_SCORED = 6  # survivors scored by the model (each costs a short decode)


@dataclass(frozen=True)
class FixTarget:
    """The lines to rewrite and what must go away (rows are 0-based, inclusive)."""

    start_row: int
    end_row: int
    start: int
    end: int
    code: str | None
    message: str
    source: str
    selection: bool = False

    @property
    def target(self) -> Target:
        return Target(self.code, self.message, self.source, self.selection)


@dataclass(frozen=True)
class ModelFix:
    title: str
    edit: Edit
    new_lines: str
    logprob: float
    origin: str  # "model" (generated) or "edit" (a small edit the model ranked)


@dataclass(frozen=True)
class Outcome:
    fixes: tuple[ModelFix, ...]
    reason: str  # why nothing was found, or "" when fixes were found
    tried: int = 0
    elapsed_ms: float = 0.0


def target_to_json(target: FixTarget) -> dict[str, Any]:
    return dict(target.__dict__)


def target_from_json(data: dict[str, Any]) -> FixTarget:
    return FixTarget(
        start_row=int(data["start_row"]),
        end_row=int(data["end_row"]),
        start=int(data["start"]),
        end=int(data["end"]),
        code=None if data.get("code") is None else str(data["code"]),
        message=str(data.get("message", "")),
        source=str(data.get("source", "")),
        selection=bool(data.get("selection", False)),
    )


# -- server glue ----------------------------------------------------------------------------


def available(ls: GhostServer) -> bool:
    engine = ls.services.get("engine")
    return bool(
        ls.settings.fixes.model
        and engine is not None
        and getattr(engine, "state", None) == EngineState.READY
    )


_RECENT: dict[tuple[Any, ...], Outcome] = {}  # (uri, version, target) -> outcome
_RECENT_SIZE = 32


async def fixes_for(ls: GhostServer, snapshot: Snapshot, target: FixTarget) -> Outcome:
    """The search for ``target`` in ``snapshot``, remembered per version (editors ask twice)."""
    engine = ls.services.get("engine")
    if not available(ls) or engine is None:
        return Outcome((), "the model is not ready")
    key = (snapshot.uri, snapshot.version, *target_to_json(target).values())
    if key in _RECENT:
        return _RECENT[key]
    outcome = await _search_snapshot(ls, engine, snapshot, target)
    if outcome.fixes or "within" not in outcome.reason:  # a timeout may do better next time
        _RECENT[key] = outcome
        while len(_RECENT) > _RECENT_SIZE:
            _RECENT.pop(next(iter(_RECENT)))
    return outcome


async def _search_snapshot(
    ls: GhostServer, engine: Engine, snapshot: Snapshot, target: FixTarget
) -> Outcome:
    service = ls.services.get("diagnostics")
    clean = None
    if service is not None:
        baseline = await service.check(snapshot)
        entry = service.last_clean.get(snapshot.uri)
        clean = entry[1] if entry else None
    else:
        baseline = check_text(snapshot.text, snapshot.tree)
    settings = ls.settings.fixes
    return await search(
        engine,
        snapshot.text,
        target,
        baseline,
        clean_baseline=clean,
        n_candidates=settings.candidates,
        budget_ms=settings.timeBudgetMs,
        key=f"fix:{snapshot.uri}",
    )


# -- the search -----------------------------------------------------------------------------


def _replace_rows(text: str, index: LineIndex, first: int, last: int, new: str) -> Edit:
    start = index.starts[first]
    end = index.offset(last, len(index.line(last)))
    return Edit(start, end, new)


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _prompt(index: LineIndex, target: FixTarget, hint: bool) -> PromptParts:
    """The code before the faulty lines; with ``hint``, a comment naming the mistake."""
    first = max(0, target.start_row - CONTEXT_LINES)
    before = index.text[index.starts[first] : index.starts[target.start_row]]
    last = min(len(index.starts), target.end_row + 1 + SUFFIX_LINES)
    after_start = index.starts[target.end_row + 1] if target.end_row + 1 < len(index.starts) else 0
    after = index.text[after_start : index.starts[last - 1]] if after_start else ""
    if not hint:
        return PromptParts(prefix=before, suffix=after)
    broken = [index.line(r) for r in range(target.start_row, target.end_row + 1)]
    indent = _indent_of(broken[0])
    what = f"  <- {target.message}" if target.message else "  <- fix this"
    note = "".join(f"{indent}# {line.strip()}\n" for line in broken[:-1])
    note += f"{indent}# {broken[-1].strip()}{what}\n{indent}"
    return PromptParts(prefix=before + note, suffix=after)


def _model_candidates(text: str, count: int) -> list[str]:
    """Generated text -> replacement lines (the same number of lines as the target)."""
    lines = text.split("\n")
    return ["\n".join(lines[:count])] if lines and lines[0].strip() else []


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Names a typo may have meant besides the file's own: builtins and the methods of builtin
# types (static lists read from this interpreter; the user's code is never imported or run).
_KNOWN_NAMES = frozenset(
    name
    for source in (builtins, str, bytes, list, dict, set, tuple, int, float)
    for name in dir(source)
    if not name.startswith("_")
)
_CLOSERS = ")]}"
_INSERTS = (":", ")", "]", "}", ",")


def edit_candidates(index: LineIndex, target: FixTarget) -> list[str]:
    """Small edits of the faulty lines, the kind the diagnostic points to first."""
    rows = range(target.start_row, min(target.end_row, target.start_row + 2) + 1)
    names = {m.group(0) for m in _IDENT.finditer(index.text)} | _KNOWN_NAMES
    original = [index.line(r) for r in range(target.start_row, target.end_row + 1)]
    if any(len(line) > MAX_CANDIDATE_LINE_CHARS for line in original):
        return []
    flagged = index.text[target.start : target.end]
    groups: dict[str, list[str]] = {"indent": [], "token": [], "bracket": [], "name": []}

    def add(group: str, row: int, new_line: str) -> None:
        lines = list(original)
        lines[row - target.start_row] = new_line
        if new_line != original[row - target.start_row]:
            groups[group].append("\n".join(lines))

    for row in rows:
        line = index.line(row)
        code = line.rstrip()
        comment = ""
        hash_at = _comment_start(line)
        if hash_at is not None:
            code, comment = line[:hash_at].rstrip(), "  " + line[hash_at:]
        indent = _indent_of(line)
        for level in _neighbour_indents(index, row):
            if level != indent:
                add("indent", row, level + line.lstrip())
        for token in _INSERTS:
            add("token", row, code + token + comment)
            trimmed = code.rstrip(":")
            if trimmed != code:
                add("token", row, trimmed + token + ":" + comment)
        for i, ch in enumerate(code):
            if ch in "()[]{}":
                add("bracket", row, code[:i] + code[i + 1 :] + comment)
        for match in _IDENT.finditer(code):
            word = match.group(0)
            if len(word) < 3 or (flagged.isidentifier() and word != flagged):
                continue  # for a name diagnostic, only the flagged name is rewritten
            for name in sorted(names):
                if name != word and edit_distance(word, name, 2) <= 2:
                    add("name", row, code[: match.start()] + name + code[match.end() :] + comment)
    message = target.message.lower()
    if "indent" in message:
        order = ("indent", "token", "bracket", "name")
    elif flagged.isidentifier() and target.code != "syntax-error":
        order = ("name", "token", "bracket", "indent")
    else:
        order = ("token", "bracket", "indent", "name")
    out: list[str] = []
    for group in order:
        out.extend(c for c in groups[group] if c not in out)
    return out[:MAX_EDIT_CANDIDATES]


def _comment_start(line: str) -> int | None:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return i
    return None


def _neighbour_indents(index: LineIndex, row: int) -> list[str]:
    levels: list[str] = []
    for r in range(row - 1, max(row - 30, -1), -1):
        line = index.line(r)
        if line.strip() and not line.lstrip().startswith("#"):
            indent = _indent_of(line)
            if indent not in levels:
                levels.append(indent)
            if len(levels) >= 3 or not indent:
                break
    if levels:
        levels.append(levels[0] + "    ")
    return levels


_CONTINUES = (" ", "\t", ")", "]", "}", "else", "elif", "except", "finally", "@")


def _continues(line: str) -> bool:
    """Does this line belong to the top-level statement above it (indented, a closing
    bracket, an else/except clause, or blank)?"""
    return not line or line.startswith(_CONTINUES)


def _window_parses(index: LineIndex, row: int, new_lines: str, count: int) -> bool:
    """Cheap pre-filter: the enclosing top-level statement with the new lines must parse."""
    first = row
    while first > 0 and _continues(index.line(first)):
        first -= 1  # back to the top-level statement that holds the row
    last = row + count
    while last < len(index.starts) and _continues(index.line(last)):
        last += 1
    lines = [index.line(r) for r in range(first, row)]
    lines += new_lines.split("\n")
    lines += [index.line(r) for r in range(row + count, min(last, len(index.starts)))]
    _, error = python_parse("\n".join(lines) + "\n")
    return error is None


def _reference(text: str, baseline: CheckResult) -> CheckResult | None:
    """The checks of the buffer with our syntax fixes applied (certain or best guess), if that
    parses: what the code around the mistake looks like to pyflakes."""
    edits = [p.fix.edits for p in baseline.problems if p.fix is not None]
    if not edits or len(edits) != len(baseline.problems):
        return None
    patched = apply_edits(text, [e for group in edits for e in group])
    result = check_text(patched)
    return result if result.names_checked else None


@dataclass
class _Search:
    """State of one search: candidates tried and survivors (with their check results)."""

    text: str
    index: LineIndex
    target: FixTarget
    baseline: CheckResult
    reference: CheckResult | None
    deadline: float
    original: str
    seen: set[str] = field(default_factory=set)
    survivors: list[tuple[str, str, Edit, CheckResult]] = field(default_factory=list)
    tried: int = 0

    async def consider(self, new_lines: str, origin: str) -> None:
        if new_lines in self.seen or new_lines == self.original:
            return
        self.seen.add(new_lines)
        self.tried += 1
        count = self.target.end_row - self.target.start_row + 1
        if not self._changes_the_flagged_text(new_lines):
            return
        if not _window_parses(self.index, self.target.start_row, new_lines, count):
            return
        edit = _replace_rows(
            self.text, self.index, self.target.start_row, self.target.end_row, new_lines
        )
        patched = self.text[: edit.start] + new_lines + self.text[edit.end :]
        last_row = self.target.start_row + new_lines.count("\n")
        verdict = verify_patch(
            self.text,
            patched,
            self.target.target,
            self.baseline,
            (self.target.start_row, last_row),
            self.reference,
            old_lines=self.original,
            new_lines=new_lines,
        )
        if verdict.ok and verdict.result is not None:
            self.survivors.append((new_lines, origin, edit, verdict.result))
        await asyncio.sleep(0)  # let the event loop breathe between checks

    def _changes_the_flagged_text(self, new_lines: str) -> bool:
        """Another server's diagnostic cannot be re-checked: at least the text it points at
        must change (a trailing ',' that makes a tuple is no fix for 'apend')."""
        target = self.target
        if target.source in ("ghostls", "") or target.selection:
            return True
        flagged = self.text[target.start : target.end]
        if not flagged.strip() or "\n" in flagged:
            return True
        column = target.start - self.index.starts[target.start_row]
        first_line = new_lines.split("\n")[0]
        return first_line[column : column + len(flagged)] != flagged

    def out_of_time(self) -> bool:
        return time.perf_counter() > self.deadline


async def _generate(
    engine: Engine, state: _Search, n_candidates: int, budget_ms: int, key: str
) -> list[str]:
    count = state.target.end_row - state.target.start_row + 1
    cancel = CancelToken()
    try:
        result = await asyncio.wait_for(
            engine.generate(
                GenerationRequest(
                    prompt=_prompt(state.index, state.target, hint=True),
                    max_tokens=min(12 + len(state.original) // 2, 160),
                    stop=("\n\n",) if count > 1 else ("\n",),
                    time_budget_ms=max(100, budget_ms),
                    key=key,
                    n_candidates=n_candidates,
                ),
                cancel,
            ),
            timeout=budget_ms / 1000 + 1,
        )
    except asyncio.TimeoutError:
        cancel.cancel("budget")
        return []
    texts = [c.text for c in result.candidates] or ([result.text] if result.text else [])
    indent = _indent_of(state.index.line(state.target.start_row))
    out: list[str] = []
    for generated in texts:
        for new in _model_candidates(generated, count):
            # The prompt ends with the line's indentation: the model writes the rest.
            out.append(indent + new if not new.startswith((" ", "\t")) else new)
    return out


async def search(
    engine: Engine,
    text: str,
    target: FixTarget,
    baseline: CheckResult,
    *,
    clean_baseline: CheckResult | None = None,
    n_candidates: int = 4,
    budget_ms: int = 4000,
    key: str = "",
    use_edits: bool = True,
    use_generation: bool = True,
) -> Outcome:
    """Candidates for ``target``'s lines, verified, ranked by the model's likelihood."""
    started = time.perf_counter()
    index = LineIndex(text)
    count = target.end_row - target.start_row + 1
    if count > MAX_TARGET_LINES:
        return Outcome((), f"the span is longer than {MAX_TARGET_LINES} lines")
    if not 0 <= target.start_row <= target.end_row < len(index.starts):
        return Outcome((), "the range is outside the document")
    original = "\n".join(index.line(r) for r in range(target.start_row, target.end_row + 1))
    reference = baseline if baseline.names_checked else clean_baseline
    if reference is None:
        reference = _reference(text, baseline)
    state = _Search(text, index, target, baseline, reference, started + budget_ms / 1000, original)
    # The model generates on its worker thread while the small edits are verified here.
    generation = None
    if use_generation:
        generation = asyncio.ensure_future(
            _generate(engine, state, n_candidates, budget_ms // 2, key)
        )
    try:
        if use_edits and target.code != "unused-import":
            for candidate in edit_candidates(index, target):
                if state.out_of_time() or len(state.survivors) >= MAX_SCORED:
                    break
                await state.consider(candidate, "edit")
        generated = await generation if generation is not None else []
    finally:
        if generation is not None and not generation.done():
            generation.cancel()
    for candidate in generated:
        if state.out_of_time():
            break
        await state.consider(candidate, "model")
    survivors = state.survivors
    if reference is None and survivors:
        keep = agree_with_peers([s[3] for s in survivors])
        survivors = [s for s, ok in zip(survivors, keep, strict=True) if ok]
    if not survivors:
        reason = "no verified fix found"
        if state.out_of_time():
            reason += f" within {budget_ms / 1000:g} s"
        return Outcome((), reason, state.tried, (time.perf_counter() - started) * 1000)

    prompt = _prompt(index, target, hint=False)
    follow = index.line(target.end_row + 1) if target.end_row + 1 < len(index.starts) else ""
    scored: list[ModelFix] = []
    for rank, (new_lines, origin, edit, _result) in enumerate(survivors):
        if state.out_of_time() and scored:
            logprob = -1e9 - rank  # out of time: keep the search order after the scored ones
        else:
            logprob = await engine.score(prompt, new_lines + "\n" + follow + "\n")
        shown = " ".join(new_lines.split())
        shown = shown if len(shown) <= 50 else shown[:49] + "…"
        title = f"ghostls (model): line {target.start_row + 1} → {shown}"
        scored.append(ModelFix(title, edit, new_lines, logprob, origin))
    scored.sort(key=lambda f: f.logprob, reverse=True)
    return Outcome(tuple(scored), "", state.tried, (time.perf_counter() - started) * 1000)
