"""Token-budgeted prompt parts for a completion at a cursor.

Layout decisions, all for the model's KV cache (llama.cpp reuses the longest common token
prefix of the previous prompt):

- The prefix window starts at a line whose number is a multiple of ``window_step_lines`` (a
  quarter of it if the budget is too small for whole steps) and is sized from whole lines
  *above* the cursor's line, so typing on a line never moves the start, and pressing Enter
  moves it once per step of lines.
- The extra chunks (definitions the code near the cursor uses) are chosen by usefulness under a
  fixed budget, then emitted in a stable order (other files by path, then this file, each in
  file order), so a keystroke that does not add or drop a chunk leaves them byte-identical.
- The partial current line ends the prefix; the suffix starts with the rest of that line and
  ends at a line boundary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import tree_sitter

from ghostls.documents import Snapshot
from ghostls.engine.types import ContextChunk, PromptParts
from ghostls.syntax.cursor import CursorInfo, analyze_cursor
from ghostls.syntax.scopes import enclosing_scope_nodes, header_text
from ghostls.syntax.symbols import Definition, module_imports, referenced_uses, resolve

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 3.5
# Names that resolve to many unrelated definitions, or are never worth a chunk.
_UNHELPFUL_NAMES = frozenset({"self", "cls", "__init__", "super", "object"})
MAX_DEFINITIONS_PER_NAME = 2
_BARE_KINDS = frozenset({"function", "class", "variable"})
_ATTRIBUTE_KINDS = frozenset({"method", "function"})
_METHOD = frozenset({"method"})


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN + 0.999)


@dataclass(frozen=True)
class ContextBudget:
    max_tokens: int = 1500  # prefix + suffix + extra
    prefix_share: float = 0.65  # of max_tokens, for the prefix window
    suffix_tokens: int = 200
    extra_tokens: int = 325  # cap for the extra chunks (less if the rest leaves less)
    window_step_lines: int = 32  # the prefix window's start is a multiple of this many lines
    current_line_reserve: int = 40  # tokens kept for the cursor's own line
    reference_window_lines: int = 40  # names used this far above the cursor are looked up
    max_chunk_tokens: int = 160  # one definition's summary is cut to this

    @property
    def prefix_tokens(self) -> int:
        return max(1, int(self.max_tokens * self.prefix_share))

    @property
    def suffix_budget(self) -> int:
        return max(0, min(self.suffix_tokens, self.max_tokens - self.prefix_tokens))

    @property
    def extra_budget(self) -> int:
        return max(
            0, min(self.extra_tokens, self.max_tokens - self.prefix_tokens - self.suffix_budget)
        )


@dataclass(frozen=True)
class BuiltContext:
    prompt: PromptParts
    cursor: CursorInfo
    debug: dict[str, Any] = field(default_factory=dict)


def _line_span(snapshot: Snapshot, first: int, last: int) -> tuple[int, int]:
    """Code-point range of rows [first, last) including their line terminators."""
    offsets = snapshot.line_offsets
    start = offsets[first] if first < len(offsets) else len(snapshot.text)
    end = offsets[last] if last < len(offsets) else len(snapshot.text)
    return start, end


class _Counter:
    """Token counts of line ranges; the default estimate needs no text copies."""

    def __init__(self, snapshot: Snapshot, count: Callable[[str], int] | None) -> None:
        self.snapshot = snapshot
        self.count = count

    def rows(self, first: int, last: int) -> int:
        start, end = _line_span(self.snapshot, first, last)
        if self.count is None:
            return int((end - start) / CHARS_PER_TOKEN + 0.999)
        return self.count(self.snapshot.text[start:end])

    def text(self, text: str) -> int:
        return estimate_tokens(text) if self.count is None else self.count(text)


def _prefix_start_row(row: int, budget: ContextBudget, counter: _Counter) -> tuple[int, int]:
    """First row of the prefix window and the tokens of the whole lines above the cursor.

    The earliest row that fits the budget is rounded *down the file* to a multiple of the
    step, so the start stays put while the cursor moves through a step's worth of lines. If
    that would leave the window less than a third full, a finer step is used.
    """
    room = max(0, budget.prefix_tokens - budget.current_line_reserve)
    earliest, used = row, 0
    while earliest > 0:
        cost = counter.rows(earliest - 1, earliest)
        if used + cost > room:
            break
        used += cost
        earliest -= 1
    if earliest == 0:
        return 0, used
    step = max(1, budget.window_step_lines)
    for quantum in (step, max(1, step // 4), 1):
        start = min(row, -(-earliest // quantum) * quantum)
        tokens = counter.rows(start, row)
        if quantum == 1 or tokens * 3 >= room:
            return start, tokens
    return earliest, used  # not reached: quantum 1 always returns


def _suffix_end_row(row: int, budget: ContextBudget, counter: _Counter, first: int) -> int:
    """Exclusive end row of the suffix: whole lines after the cursor's line under budget."""
    room = budget.suffix_budget - first
    end = row + 1
    count = counter.snapshot.line_count
    while end < count and room > 0:
        cost = counter.rows(end, end + 1)
        if cost > room:
            break
        room -= cost
        end += 1
    return end


def _cut(text: str, max_tokens: int, counter: _Counter) -> str:
    if counter.text(text) <= max_tokens:
        return text
    kept: list[str] = []
    used = 0
    for line in text.splitlines():
        cost = counter.text(line + "\n")
        if used + cost > max_tokens:
            break
        kept.append(line)
        used += cost
    return "\n".join([*kept, "    ..."]) if kept else ""


def _visible(definition: Definition, uri: str, rows: tuple[int, int]) -> bool:
    """True if the definition's header is already in the prompt's windows."""
    return definition.uri == uri and rows[0] <= definition.start_row < rows[1]


@dataclass
class _Pick:
    uri: str
    start_byte: int  # orders the file's chunk
    text: str
    tokens: int
    label: str
    rank: int  # usefulness: lower is more useful
    group: str = ""  # a class header that ``text`` (indented members) sits under


def build_context(
    snapshot: Snapshot,
    offset: int,
    others: Sequence[Snapshot] = (),
    budget: ContextBudget = ContextBudget(),  # frozen: safe as a default
    count_tokens: Callable[[str], int] | None = None,
) -> BuiltContext:
    """Prompt parts for a completion at code-point ``offset`` of ``snapshot``."""
    started = time.perf_counter()
    offset = max(0, min(offset, len(snapshot.text)))
    cursor = analyze_cursor(snapshot, offset)
    counter = _Counter(snapshot, count_tokens)
    row = cursor.row

    start_row, above_tokens = _prefix_start_row(row, budget, counter)
    prefix_start = snapshot.line_offsets[start_row]
    line_end = _line_span(snapshot, row, row + 1)[1]
    # A monster line (generated code) could blow any budget: only then cut mid-line.
    max_chars = int(budget.max_tokens * CHARS_PER_TOKEN)
    prefix_start = max(prefix_start, offset - max_chars)
    prefix = snapshot.text[prefix_start:offset]
    rest_of_line = snapshot.text[offset : min(line_end, offset + max_chars)]
    end_row = _suffix_end_row(row, budget, counter, counter.text(rest_of_line))
    suffix_end = _line_span(snapshot, end_row, end_row)[0]
    suffix = snapshot.text[offset : min(suffix_end, offset + max_chars)]
    visible_rows = (start_row, end_row)

    if cursor.analyzable:
        picks, considered, skipped = _choose_extras(
            snapshot, offset, others, budget, counter, visible_rows
        )
    else:
        picks, considered, skipped = [], [], [f"no extras: {cursor.reason}"]
    extra = _layout(picks, snapshot)
    prompt = PromptParts(prefix=prefix, suffix=suffix, extra=extra, path=module_path(snapshot.uri))
    elapsed = (time.perf_counter() - started) * 1000
    debug: dict[str, Any] = {
        "cursor": {"row": row, "column": cursor.column, "kind": cursor.kind.value},
        "reason": cursor.reason,
        "prefix_rows": [start_row, row],
        "suffix_rows": [row, end_row],
        "prefix_tokens": counter.text(prefix),
        "prefix_tokens_above_line": above_tokens,
        "suffix_tokens": counter.text(suffix),
        "extra_tokens": sum(p.tokens for p in picks),
        "budget": {
            "prefix": budget.prefix_tokens,
            "suffix": budget.suffix_budget,
            "extra": budget.extra_budget,
        },
        "chunks": [
            {"label": p.label, "path": module_path(p.uri), "rank": p.rank, "tokens": p.tokens}
            for p in picks
        ],
        "names": considered[:20],
        "skipped": skipped[:20],
        "ms": round(elapsed, 3),
    }
    if log.isEnabledFor(logging.DEBUG):
        log.debug("context %s", debug)
    return BuiltContext(prompt=prompt, cursor=cursor, debug=debug)


def module_path(uri: str) -> str:
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    return name or uri


def _choose_extras(
    snapshot: Snapshot,
    offset: int,
    others: Sequence[Snapshot],
    budget: ContextBudget,
    counter: _Counter,
    visible_rows: tuple[int, int],
) -> tuple[list[_Pick], list[str], list[str]]:
    room = budget.extra_budget
    uri = snapshot.uri
    uses = [
        use
        for use in referenced_uses(snapshot, offset, budget.reference_window_lines)
        if use.name not in _UNHELPFUL_NAMES
    ]
    names = list(dict.fromkeys(use.name for use in uses))
    candidates: list[_Pick] = []
    rank = 0

    # 1. Headers of enclosing scopes that scrolled out of the prefix window.
    hidden = [
        node
        for node in enclosing_scope_nodes(snapshot, offset)
        if node.start_point.row < visible_rows[0]
    ]
    if hidden:
        headers = [_indented_header(snapshot, node) for node in hidden]
        group = headers.pop(0) if hidden[0].type == "class_definition" else ""
        text = "\n".join(headers)
        tokens = counter.text(group + text)
        candidates.append(
            _Pick(uri, hidden[-1].start_byte, text, tokens, "scope", rank, group=group)
        )
        rank += 1

    # 2. Imports of the names used near the cursor, when the imports are out of view.
    wanted = set(names)
    import_lines = [
        imp
        for imp in module_imports(snapshot)
        if not (visible_rows[0] <= imp.start_row < visible_rows[1])
        and (wanted.intersection(imp.names) or "*" in imp.names)
    ]
    if import_lines:
        text = "\n".join(imp.text for imp in import_lines)
        candidates.append(_Pick(uri, -1, text, counter.text(text), "imports", rank))
        rank += 1

    # 3. Definitions of those names: this file (out of view) first, then other open files.
    # A bare name means a function, class or variable; `obj.name` a method (the enclosing
    # class's own first) or a function of an imported module.
    sources = [snapshot, *[o for o in others if o.uri != uri]]
    owner = _enclosing_class_header(snapshot, offset)
    by_name: dict[str, list[Definition]] = {}
    for name, definition in resolve(names, sources):
        by_name.setdefault(name, []).append(definition)
    skipped: list[str] = []
    for use in uses:
        kinds = _METHOD if use.on_self else _ATTRIBUTE_KINDS if use.attribute else _BARE_KINDS
        found = [d for d in by_name.get(use.name, ()) if d.kind in kinds]
        found.sort(key=lambda d: not (d.uri == uri and d.owner_header == owner and owner))
        shown = 0
        for definition in found:
            if _visible(definition, uri, visible_rows):
                continue
            if shown >= MAX_DEFINITIONS_PER_NAME:
                skipped.append(f"{definition.qualname}: more definitions of {use.name!r}")
                continue
            body = definition.member_text or definition.text
            text = _cut(body, budget.max_chunk_tokens, counter)
            if not text:
                continue
            shown += 1
            group = definition.owner_header
            candidates.append(
                _Pick(
                    definition.uri,
                    definition.start_byte,
                    text,
                    counter.text(group + text),
                    f"{definition.kind} {definition.qualname}",
                    rank,
                    group=group,
                )
            )
            rank += 1

    picks: list[_Pick] = []
    seen: set[tuple[str, int]] = set()
    seen_text: set[str] = set()
    used = 0
    for pick in candidates:
        key = (pick.uri, pick.start_byte)
        if key in seen or pick.text in seen_text:
            continue
        if used + pick.tokens > room:
            skipped.append(f"{pick.label}: over budget ({pick.tokens} tokens)")
            continue
        seen.add(key)
        seen_text.add(pick.text)
        picks.append(pick)
        used += pick.tokens
    return picks, names, skipped


def _enclosing_class_header(snapshot: Snapshot, offset: int) -> str:
    for node in reversed(enclosing_scope_nodes(snapshot, offset)):
        if node.type == "class_definition":
            return header_text(node, snapshot.source)
    return ""


def _indented_header(snapshot: Snapshot, node: tree_sitter.Node) -> str:
    lead = snapshot.line(node.start_point.row)[: node.start_point.column]
    indent = lead if not lead.strip() else ""
    return indent + header_text(node, snapshot.source)


def _layout(picks: list[_Pick], snapshot: Snapshot) -> tuple[ContextChunk, ...]:
    """One chunk per file in a stable order: other files by path, then this file.

    Inside a chunk the items follow file order; members of one class share its header.
    """
    by_uri: dict[str, list[_Pick]] = {}
    for pick in picks:
        by_uri.setdefault(pick.uri, []).append(pick)
    order = sorted((u for u in by_uri if u != snapshot.uri), key=module_path)
    if snapshot.uri in by_uri:
        order.append(snapshot.uri)
    chunks = []
    for uri in order:
        parts: list[str] = []
        group = ""
        for pick in sorted(by_uri[uri], key=lambda p: p.start_byte):
            lines = []
            if pick.group and pick.group != group:
                lines.append(pick.group)
            group = pick.group
            if pick.text:
                lines.append(pick.text)
            parts.append("\n".join(lines))
        chunks.append(ContextChunk(path=module_path(uri), text="\n".join(p for p in parts if p)))
    return tuple(chunks)


__all__ = [
    "BuiltContext",
    "ContextBudget",
    "build_context",
    "estimate_tokens",
]
