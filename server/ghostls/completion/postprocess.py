"""Make raw model text fit the cursor: cut it where it should end, trim what the user has.

Everything here is a pure function of the text and a :class:`FitContext` describing the cursor,
so the same rules serve the engine's early stop (``should_stop``) and the final clean-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ghostls.completion.lines import bracket_depth, indent_width, is_blank


@dataclass(frozen=True)
class Steps:
    """Post-processing steps, each switchable so benchmarks can measure its gain."""

    block_end: bool = True  # stop at a dedent below the block
    blank_line_stop: bool = True  # a multi-line suggestion ends at a blank line
    suffix_resume: bool = True  # stop where the text after the cursor resumes
    suffix_overlap: bool = True  # trim / absorb what the rest of the line already has
    repeats: bool = True  # drop a line that repeats the one before it
    syntax_check: bool = True  # reject or shorten what breaks the parse
    alternatives: bool = True  # a refused suggestion: try the next likeliest first tokens
    needed_names: bool = True  # a new line above code reading an unbound name defines it
    needed_attributes: bool = True  # ... and in __init__, an attribute the class only reads
    gap_single_line: bool = True  # a blank line inside a non-empty block gets one statement
    statement_start: bool = True  # ... which opens no block and is not a comment

    @classmethod
    def from_disabled(cls, names: str) -> Steps:
        """``"suffix_resume,repeats"`` -> those steps off (for benchmark on/off runs)."""
        off = {n.strip() for n in names.split(",") if n.strip()}
        known = set(cls.__dataclass_fields__)
        return cls(**{name: name not in off for name in known})


@dataclass(frozen=True)
class FitContext:
    """What post-processing needs to know about the cursor (no LSP, no tree)."""

    line_before: str  # the cursor's line up to the cursor
    line_after: str = ""  # the rest of the cursor's line (no newline)
    multiline: bool = False
    # Lines after the first with a smaller indentation end the suggestion.
    block_indent: int = 0
    previous_line: str = ""  # the last non-blank line above the cursor's line
    next_lines: tuple[str, ...] = ()  # the first non-blank lines below the cursor's line
    steps: Steps = field(default_factory=Steps)


@dataclass(frozen=True)
class Fitted:
    text: str  # what to insert at the cursor
    replaces_line_end: bool  # True: the insert also replaces ``line_after``
    notes: tuple[str, ...] = ()  # which steps changed the text (debug / benchmark)


def block_indent_for(line_before: str, line_after: str) -> int:
    """The indentation a multi-line suggestion's later lines must keep to stay in the block.

    On a blank line the block is the cursor's column; at the end of a block opener (``if x:``)
    only lines deeper than the opener belong to it; elsewhere the current line's indentation.
    """
    if is_blank(line_before) and is_blank(line_after):
        return len(line_before.expandtabs(8))
    stripped = line_before.rstrip()
    base = indent_width(line_before)
    if stripped.endswith(":") and is_blank(line_after):
        return base + 1
    return base


def _same_line(a: str, b: str) -> bool:
    return bool(a.strip()) and a.rstrip() == b.rstrip()


def cut_index(lines: list[str], ctx: FitContext) -> tuple[int | None, str]:
    """Index of the first line that must not be shown (and why), or None.

    ``lines`` are complete lines of a suggestion; ``lines[0]`` continues the cursor's line.
    """
    steps = ctx.steps
    if not ctx.multiline:
        if len(lines) > 1:
            # One line; but at the end of a finished line, the next line is the suggestion.
            first_empty = is_blank(lines[0]) and not is_blank(ctx.line_before)
            if first_empty and is_blank(ctx.line_after):
                return (2, "single-line") if len(lines) > 2 else (None, "")
            return 1, "single-line"
        return None, ""
    blank_run = 0
    for i, line in enumerate(lines):
        if i == 0:
            continue
        if is_blank(line):
            blank_run += 1
            if steps.blank_line_stop and any(not is_blank(x) for x in lines[:i]):
                return i, "blank-line"
            if blank_run >= 2:
                return i - 1, "blank-lines"
            continue
        blank_run = 0
        if steps.block_end and indent_width(line) < ctx.block_indent:
            return i, "block-end"
        if steps.suffix_resume and ctx.next_lines and _same_line(line, ctx.next_lines[0]):
            return i, "suffix-resume"
        previous = lines[i - 1] if i > 1 else ctx.line_before + lines[0]
        if steps.repeats and _same_line(line, previous):
            return i, "repeat"
    return None, ""


def first_line_done(line: str, ctx: FitContext) -> bool:
    """True once the first line re-types what follows the cursor, brackets balanced alike.

    ``foo(|)`` with the model writing ``a, b)``: the user's ``)`` resumes here, stop.
    """
    rest = ctx.line_after.strip()
    if not rest or not ctx.steps.suffix_resume or not line.rstrip().endswith(rest):
        return False
    return bracket_depth(ctx.line_before + line) == bracket_depth(ctx.line_before + rest)


def should_stop(text: str, ctx: FitContext) -> bool:
    """The engine's early stop: True once the suggestion's end has been generated."""
    lines = text.split("\n")
    if len(lines) == 1:
        return first_line_done(lines[0], ctx)
    if not ctx.multiline:
        return cut_index(lines, ctx)[0] is not None
    # A partial last line may not have its indentation yet: judge complete lines only.
    return cut_index(lines[:-1], ctx)[0] is not None


def _absorb_line_end(first: str, ctx: FitContext) -> tuple[str, bool, str]:
    """Fit the first line to the rest of the cursor's line.

    Returns (first line, replaces the line end, note). If the line already ends with what the
    user has after the cursor (``)``, ``):``), the suggestion replaces the line's end; if it ends
    with only the start of it, the missing part is appended so nothing the user typed is lost.
    """
    rest = ctx.line_after.rstrip()
    if not rest.strip() or not ctx.steps.suffix_overlap:
        return first, False, ""
    body = first.rstrip()
    stripped_rest = rest.strip()
    if body.endswith(stripped_rest):
        return body, True, "absorbed-line-end"
    for k in range(len(stripped_rest) - 1, 0, -1):
        if body.endswith(stripped_rest[:k]):
            return body + stripped_rest[k:], True, "merged-line-end"
    return first, False, ""


def fit(raw: str, ctx: FitContext) -> Fitted | None:
    """Clean raw model text into an insertable suggestion, or None when nothing is left."""
    notes: list[str] = []
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    index, why = cut_index(lines, ctx)
    if index is not None:
        lines = lines[:index]
        notes.append(why)
    if ctx.multiline and len(lines) == 1 and first_line_done(lines[0], ctx):
        notes.append("suffix-resume")
    # Trailing whitespace never helps; trailing blank lines neither.
    lines = [line.rstrip() for line in lines]
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    if not lines or all(is_blank(line) for line in lines):
        return None
    first_index = 0
    if len(lines) > 1 and is_blank(lines[0]) and not ctx.multiline:
        first_index = 1  # the "next line" form: keep the newline, the line is the suggestion
    # A whole line that repeats the line above it is the model looping, not a suggestion.
    above = ctx.previous_line if is_blank(ctx.line_before) else ctx.line_before + ctx.line_after
    whole_line = is_blank(ctx.line_before) or first_index == 1
    candidate = lines[1] if first_index == 1 else ctx.line_before + lines[0]
    if ctx.steps.repeats and whole_line and _same_line(candidate, above):
        return None
    # A whole line that is the next line of the file: the model skipped ahead to code the
    # user already has.
    if (
        ctx.steps.suffix_resume
        and whole_line
        and ctx.next_lines
        and _same_line(candidate.strip(), ctx.next_lines[0].strip())
    ):
        return None
    replaces = False
    if len(lines) == 1:
        first, replaces, note = _absorb_line_end(lines[0], ctx)
        lines[0] = first
        if note:
            notes.append(note)
    result = "\n".join(lines)
    if not result.strip():
        return None
    return Fitted(result, replaces, tuple(notes))
