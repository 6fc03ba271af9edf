"""Lay PromptParts out as token ids for the loaded model.

The layout is read from the vocabulary, never guessed from a model name:

* FIM, repo-level (the vocabulary has fim_pre/suf/mid and a file separator, e.g. Qwen2.5-Coder):
  ``[bos] [<repo_name> "workspace\\n"] (<file_sep> "path\\ntext\\n")* <file_sep> "path\\n"
  <fim_pre> prefix <fim_suf> suffix <fim_mid>``
* FIM, PSM (fim_pre/suf/mid only): ``[bos] <fim_pre> chunks prefix <fim_suf> suffix <fim_mid>``,
  chunks rendered as comment sections (below).
* Prefix prompt (no FIM tokens, e.g. the embedded gemma-3-270m):
  ``[bos] chunks "# file: current.py\\n" prefix``; the suffix is left to post-processing.

Extra chunks are rendered as Python comment headers followed by the chunk text::

    # file: pkg/util.py
    def helper(x): ...
    <blank line>

They are placed first and sorted by (path, text), so a stable set of chunks gives a stable
token prefix whatever order the context builder ranked them in; together with tokenizing each
piece separately (so later edits cannot re-tokenize earlier pieces), that keeps the KV cache
reusable across keystrokes. Control tokens are inserted by id; user text is tokenized with
special-token parsing off, so a literal "<|fim_prefix|>" in a buffer stays text.

Over budget, we drop the least useful chunks first, then shorten the suffix from its end, then
the prefix from its start, always at line boundaries. The prefix is cut in steps of
``PREFIX_CUT_STEP`` lines so the prompt's start stays put while the user keeps typing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ghostls.engine.types import ContextChunk, PromptParts

PREFIX_CUT_STEP = 16
MAX_CHARS_PER_TOKEN = 32  # longer than any token in the vocabularies we meet (whitespace runs)
REPO_NAME = "workspace"


class Vocabulary(Protocol):
    """What prompt layout needs from a loaded model."""

    @property
    def bos(self) -> int: ...
    @property
    def add_bos(self) -> bool: ...
    @property
    def fim_ids(self) -> tuple[int, int, int, int, int]:
        """(pre, suf, mid, rep, sep), -1 where missing."""
        ...

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = False) -> list[int]: ...


@dataclass(frozen=True)
class BuiltPrompt:
    tokens: list[int]
    layout: str  # "repo" | "psm" | "prefix"
    truncated: bool = False

    @property
    def fim(self) -> bool:
        return self.layout != "prefix"


def render_chunk(chunk: ContextChunk) -> str:
    text = chunk.text if chunk.text.endswith("\n") else chunk.text + "\n"
    return f"# file: {chunk.path}\n{text}\n"


def stable_order(chunks: Sequence[ContextChunk]) -> list[ContextChunk]:
    return sorted(chunks, key=lambda c: (c.path, c.text))


def layout_name(vocab: Vocabulary) -> str:
    pre, suf, mid, _rep, sep = vocab.fim_ids
    if pre < 0 or suf < 0 or mid < 0:
        return "prefix"
    return "repo" if sep >= 0 else "psm"


def _keep_tail_lines(text: str, max_tokens: int, count: Callable[[str], int], step: int = 1) -> str:
    """The longest tail of ``text`` starting at a line boundary that fits ``max_tokens``; the
    number of dropped lines is a multiple of ``step`` when possible."""
    if count(text) <= max_tokens:
        return text
    lines = text.splitlines(keepends=True)
    lo, hi = 1, len(lines)  # drop lo..hi lines; find the fewest that fit
    while lo < hi:
        mid = (lo + hi) // 2
        if count("".join(lines[mid:])) <= max_tokens:
            hi = mid
        else:
            lo = mid + 1
    drop = lo
    rounded = -(-drop // step) * step
    if rounded < len(lines):
        drop = rounded
    return "".join(lines[drop:])


def _keep_tail_chars(text: str, max_tokens: int, count: Callable[[str], int]) -> str:
    """The longest tail of one line that fits ``max_tokens``."""
    lo, hi = 0, len(text)  # find the smallest start that fits
    while lo < hi:
        mid = (lo + hi) // 2
        if count(text[mid:]) <= max_tokens:
            hi = mid
        else:
            lo = mid + 1
    return text[lo:]


def _keep_head_lines(text: str, max_tokens: int, count: Callable[[str], int]) -> str:
    if count(text) <= max_tokens:
        return text
    lines = text.splitlines(keepends=True)
    lo, hi = 0, len(lines) - 1  # keep lo..hi lines; find the most that fit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count("".join(lines[:mid])) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return "".join(lines[:lo])


def build_prompt(vocab: Vocabulary, parts: PromptParts, budget: int) -> BuiltPrompt:
    """Token ids for ``parts`` within ``budget`` tokens (context size minus room to generate)."""
    layout = layout_name(vocab)
    pre, suf, mid, rep, sep = vocab.fim_ids

    def tok(text: str) -> list[int]:
        return vocab.tokenize(text, add_bos=False, special=False) if text else []

    def count(text: str) -> int:
        return len(tok(text))

    path = parts.path or "untitled.py"
    chunks = list(parts.extra)  # most useful first
    prefix, suffix = parts.prefix, parts.suffix if layout != "prefix" else ""
    # No token spans more than MAX_CHARS_PER_TOKEN characters, so text beyond that many per
    # budget token can never fit: cut it first (cheaply, at line boundaries where there are
    # any) so a megabyte-long buffer is never tokenized whole.
    cap = max(budget, 16) * MAX_CHARS_PER_TOKEN
    truncated = len(prefix) > cap or len(suffix) > cap
    if len(prefix) > cap:
        tail = prefix[-cap:]
        newline = tail.find("\n")
        prefix = tail[newline + 1 :] if 0 <= newline < len(tail) - 1 else tail
    if len(suffix) > cap:
        head_part = suffix[:cap]
        newline = head_part.rfind("\n")
        suffix = head_part[: newline + 1] if newline > 0 else head_part

    def head_tokens(kept: list[ContextChunk]) -> list[int]:
        ids = [vocab.bos] if vocab.add_bos else []
        ordered = stable_order(kept)
        if layout == "repo":
            if rep >= 0:
                ids += [rep, *tok(REPO_NAME + "\n")]
            for chunk in ordered:
                text = chunk.text if chunk.text.endswith("\n") else chunk.text + "\n"
                ids += [sep, *tok(f"{chunk.path}\n{text}")]
            ids += [sep, *tok(f"{path}\n"), pre]
        elif layout == "psm":
            ids += [pre, *tok("".join(render_chunk(c) for c in ordered))]
        else:
            header = "".join(render_chunk(c) for c in ordered)
            if parts.path:
                header += f"# file: {parts.path}\n"
            ids += tok(header)
        return ids

    head = head_tokens(chunks)
    specials = 2 if layout != "prefix" else 0  # fim_suf, fim_mid
    budget = max(budget, 16)

    def total() -> int:
        return len(head) + count(prefix) + count(suffix) + specials

    while chunks and total() > budget:
        chunks.pop()  # the least useful one
        head = head_tokens(chunks)
        truncated = True
    if total() > budget and suffix:
        room = budget - len(head) - specials - count(prefix)
        new_suffix = _keep_head_lines(suffix, max(room, budget // 4), count)
        truncated = truncated or new_suffix != suffix
        suffix = new_suffix
    if total() > budget:
        room = max(budget - len(head) - specials - count(suffix), 0)
        new_prefix = _keep_tail_lines(prefix, room, count, PREFIX_CUT_STEP)
        if not new_prefix and prefix:
            # Not even the cursor's own line fits: keep as much of its end as does.
            new_prefix = _keep_tail_chars(prefix.splitlines(keepends=True)[-1], room, count)
        truncated = truncated or new_prefix != prefix
        prefix = new_prefix

    if layout == "prefix":
        tokens = head + tok(prefix)
    else:
        tokens = [*head, *tok(prefix), suf, *tok(suffix), mid]
    return BuiltPrompt(tokens=tokens, layout=layout, truncated=truncated)
