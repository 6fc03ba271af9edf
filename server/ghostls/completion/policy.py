"""Single- or multi-line, and the cursor facts post-processing needs."""

from __future__ import annotations

from ghostls.completion.lines import indent_width, is_blank
from ghostls.completion.postprocess import FitContext, Steps, block_indent_for
from ghostls.documents import Snapshot
from ghostls.syntax.cursor import CompletionKind, CursorInfo

# Generation caps: a single line rarely needs more; a block stops itself at its end.
SINGLE_LINE_MAX_TOKENS = 40


# A single statement on a blank line cannot open a block (its body would be missing) and is
# code, not a comment: a small model's prose there is noise (comments get no suggestions either).
STATEMENT_OPENERS_TO_AVOID = (
    "if", "elif", "else", "for", "while", "with", "try", "except", "finally",
    "def", "class", "async", "@", "#",
)  # fmt: skip


def choose_multiline(cursor: CursorInfo, mode: str, steps: Steps | None = None) -> bool | None:
    """True/False for multi/single-line; None when there should be no suggestion at all."""
    if cursor.kind is CompletionKind.NONE:
        return None
    if steps is not None and not steps.gap_single_line and cursor.blank_line_in_block:
        # (ablation) the old rule: any blank line inside a block was multi-line
        return mode != "never"
    if not is_blank(cursor.text_after_cursor):
        return False  # something follows on the line: complete this line only
    if mode == "never":
        return False
    if mode == "always":
        return True
    return cursor.kind is CompletionKind.MULTI_LINE


def _neighbour_lines(snapshot: Snapshot, row: int, step: int, count: int) -> list[str]:
    found: list[str] = []
    r = row + step
    scanned = 0
    while 0 <= r < snapshot.line_count and len(found) < count and scanned < 200:
        line = snapshot.line(r)
        if not is_blank(line):
            found.append(line)
        r += step
        scanned += 1
    return found


def fit_context(
    snapshot: Snapshot, offset: int, cursor: CursorInfo, multiline: bool, steps: Steps
) -> FitContext:
    row, _ = snapshot.position_at(offset)
    line = snapshot.line(row)
    column = offset - snapshot.line_offsets[row]
    before, after = line[:column], line[column:]
    block_indent = block_indent_for(before, after)
    if cursor.after_block_opener and is_blank(after):
        block_indent = max(block_indent, indent_width(cursor.indent))
    previous = _neighbour_lines(snapshot, row, -1, 1)
    following = _neighbour_lines(snapshot, row, 1, 3)
    return FitContext(
        line_before=before,
        line_after=after,
        multiline=multiline,
        block_indent=block_indent,
        previous_line=previous[0] if previous else "",
        next_lines=tuple(following),
        steps=steps,
    )


def openers_to_avoid(ctx: FitContext) -> tuple[str, ...]:
    """Words a single-line suggestion on a blank line may not start with (see above)."""
    if not ctx.steps.statement_start or ctx.multiline:
        return ()
    if ctx.line_before.strip() or ctx.line_after.strip():
        return ()
    return STATEMENT_OPENERS_TO_AVOID


def stop_strings(ctx: FitContext) -> tuple[str, ...]:
    """Stop strings for the engine; ``should_stop`` does the finer work."""
    if ctx.multiline:
        return ("\n\n\n",)
    if not is_blank(ctx.line_before) and is_blank(ctx.line_after):
        return ()  # at the end of a finished line the suggestion may be the next line
    return ("\n",)
