"""Syntax errors worded for people: one problem per real mistake, with a fix when it is certain.

Two parsers look at the buffer, and each does what it is good at:

* CPython's own parser (``compile(..., flags=ast.PyCF_ONLY_AST)``: parsing only, nothing is
  executed) decides *whether* the buffer is valid Python and names the first mistake precisely
  ("expected ':'", "'(' was never closed", "unexpected indent"). tree-sitter cannot see
  indentation mistakes at all (its scanner accepts them) and its ERROR nodes do not say which
  token was expected, so CPython is the authority for the first error.
* tree-sitter's ERROR and MISSING nodes find the mistakes *after* the first one (CPython stops at
  the first), and its error regions tell which later complaints are only the cascade of the
  first mistake, so one mistake gives one problem.

A fix is attached only when it is certain: the patched buffer must get past the mistake in
CPython's parser (it parses, or the next error lies beyond the mistake's region). Everything
here is plain data: code-point offsets into the text, no LSP types.
"""

from __future__ import annotations

import ast
import bisect
import re
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import tree_sitter

from ghostls.documents import new_parser

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}

# Compound statement keyword -> words for "expected ':' after ...".
HEADER_WORDS = {
    "def": "the function signature",
    "async": "the function signature",
    "class": "the class header",
    "if": "the 'if' condition",
    "elif": "the 'elif' condition",
    "else": "'else'",
    "while": "the 'while' condition",
    "for": "the 'for' loop header",
    "try": "'try'",
    "except": "the 'except' clause",
    "finally": "'finally'",
    "with": "the 'with' statement",
    "match": "the 'match' subject",
    "case": "the 'case' pattern",
    "lambda": "the lambda's parameters",
}

_MAX_FIX_TRIES = 12  # candidate positions tried per mistake (each costs one parse)


@dataclass(frozen=True)
class TextFix:
    """Replace text[start:end] by ``text``; offsets are code points."""

    start: int
    end: int
    text: str
    title: str
    certain: bool = True  # False: the likeliest of several working fixes


@dataclass(frozen=True)
class SyntaxProblem:
    start: int
    end: int
    message: str
    kind: str  # missing-token, unclosed-bracket, unmatched-bracket, unexpected-indent, ...
    fix: TextFix | None = None


class LineIndex:
    """Rows and columns (code points) of a text, split on '\\n' like CPython and tree-sitter."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        find = text.find
        pos = find("\n")
        while pos != -1:
            self.starts.append(pos + 1)
            pos = find("\n", pos + 1)
        self._ascii = text.isascii()

    def line(self, row: int) -> str:
        if row < 0 or row >= len(self.starts):
            return ""
        end = self.starts[row + 1] - 1 if row + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[row] : end].rstrip("\r")

    def offset(self, row: int, col: int) -> int:
        if row >= len(self.starts):
            return len(self.text)
        row = max(row, 0)
        return min(self.starts[row] + max(col, 0), self._line_end(row))

    def _line_end(self, row: int) -> int:
        return self.starts[row + 1] - 1 if row + 1 < len(self.starts) else len(self.text)

    def row_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1

    def offset_of_point(self, row: int, byte_col: int) -> int:
        """Code-point offset for a tree-sitter point (row, UTF-8 byte column)."""
        if self._ascii or row >= len(self.starts):
            return self.offset(row, byte_col)
        line = self.text[self.starts[row] : self._line_end(row)]
        prefix = line.encode("utf-8", "surrogatepass")[:byte_col]
        return self.starts[row] + len(prefix.decode("utf-8", "replace"))

    def code_end(self, row: int) -> int:
        """Offset just after the last code character of ``row`` (before a comment/spaces)."""
        line = self.line(row)
        return self.starts[row] + len(_strip_comment(line).rstrip())


def _strip_comment(line: str) -> str:
    """The line without a trailing ``# comment`` (quotes respected, roughly)."""
    quote = ""
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i]
        i += 1
    return line


def python_parse(text: str) -> tuple[ast.Module | None, SyntaxError | None]:
    """Parse with CPython (parse only, never executes). Returns (tree, None) or (None, error)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences etc. are not our business
            tree = compile(text, "<buffer>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        return tree if isinstance(tree, ast.Module) else None, None
    except SyntaxError as error:
        if "null byte" in str(error.msg):
            row = text.count("\n", 0, max(text.find("\0"), 0))
            return None, _synthetic_error("the file contains a null byte", row)
        return None, error
    except ValueError:  # source contains null bytes
        row = text.count("\n", 0, max(text.find("\0"), 0))
        return None, _synthetic_error("the file contains a null byte", row)
    except (RecursionError, MemoryError):
        return None, _synthetic_error("too deeply nested for the parser", 0)


_ERRORS: dict[str, SyntaxError | None] = {}  # patched text -> CPython's verdict (last few)
_ERRORS_KEPT = 8
_ERRORS_LOCK = threading.Lock()


def _error_of(text: str) -> SyntaxError | None:
    """CPython's error for ``text`` (None: it parses), remembered for the last few texts:
    checking a fix and then chaining past it parse the same patched text."""
    with _ERRORS_LOCK:  # the diagnostics worker and the event loop both check
        if text in _ERRORS:
            return _ERRORS[text]
    _, error = python_parse(text)
    with _ERRORS_LOCK:
        _ERRORS[text] = error
        while len(_ERRORS) > _ERRORS_KEPT:
            _ERRORS.pop(next(iter(_ERRORS)))
    return error


def _synthetic_error(message: str, row: int) -> SyntaxError:
    problem = SyntaxError(message)
    problem.lineno, problem.offset = row + 1, 1
    return problem


# -- tree-sitter error regions ----------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    start: int  # code-point offsets
    end: int
    start_row: int
    end_row: int
    missing: str | None  # the token tree-sitter inserted, for MISSING nodes
    node: tree_sitter.Node


def error_regions(tree: tree_sitter.Tree, index: LineIndex, limit: int = 50) -> list[Region]:
    """Top-most ERROR nodes and MISSING nodes, in document order (no descent into errors)."""
    regions: list[Region] = []
    stack = [tree.root_node]
    while stack and len(regions) < limit:
        node = stack.pop()
        if node.is_missing or node.type == "ERROR":
            start = index.offset_of_point(*node.start_point)
            end = index.offset_of_point(*node.end_point)
            missing = node.type if node.is_missing else None
            regions.append(
                Region(start, end, node.start_point[0], node.end_point[0], missing, node)
            )
            continue
        if node.has_error:
            stack.extend(reversed(node.children))
    return regions


def _leaves(node: tree_sitter.Node, limit: int = 5000) -> list[tree_sitter.Node]:
    out: list[tree_sitter.Node] = []
    stack = [node]
    while stack and len(out) < limit:
        n = stack.pop()
        if n.child_count == 0:
            out.append(n)
        else:
            stack.extend(reversed(n.children))
    return out


def _describe_region(region: Region, index: LineIndex) -> SyntaxProblem:
    """Words for a tree-sitter error region (used for the mistakes after CPython's first)."""
    if region.missing is not None:
        token = region.missing
        if token == ":":
            return SyntaxProblem(
                region.start,
                region.start,
                f"expected ':' after {_header_words(index.line(region.start_row))}",
                "missing-token",
            )
        return SyntaxProblem(region.start, region.start, f"missing '{token}'", "missing-token")
    stack: list[tree_sitter.Node] = []
    leaves = _leaves(region.node)
    for leaf in leaves:
        kind = leaf.type
        if kind in OPENERS:
            stack.append(leaf)
        elif kind in CLOSERS:
            if stack and stack[-1].type == CLOSERS[kind]:
                stack.pop()
            else:
                start = index.offset_of_point(*leaf.start_point)
                return SyntaxProblem(start, start + 1, f"unmatched '{kind}'", "unmatched-bracket")
    if stack:
        opener = stack[0]
        start = index.offset_of_point(*opener.start_point)
        row = opener.start_point[0] + 1
        return SyntaxProblem(
            start, start + 1, f"unclosed '{opener.type}' opened on line {row}", "unclosed-bracket"
        )
    first_line = index.line(region.start_row).lstrip()
    keyword = first_line.split(maxsplit=1)[0] if first_line.split() else ""
    keyword = re.split(r"\W", keyword)[0]
    header = _strip_comment(first_line).rstrip()
    if keyword in HEADER_WORDS and not header.endswith(":"):
        end = index.code_end(region.start_row)
        return SyntaxProblem(
            end, end, f"expected ':' after {HEADER_WORDS[keyword]}", "missing-token"
        )
    first_leaf = leaves[0] if leaves else region.node
    start = index.offset_of_point(*first_leaf.start_point)
    end = min(
        index.offset_of_point(*first_leaf.end_point), index._line_end(first_leaf.start_point[0])
    )
    text = index.text[start:end]
    words = f"invalid syntax near '{text}'" if text.strip() else "invalid syntax"
    return SyntaxProblem(start, max(end, start), words, "invalid-syntax")


def _header_words(line: str) -> str:
    word = re.split(r"\W", line.lstrip(), maxsplit=1)[0]
    return HEADER_WORDS.get(word, "the statement header")


# -- CPython's first error --------------------------------------------------------------------


def _cpython_position(error: SyntaxError, index: LineIndex) -> tuple[int, int]:
    row = max((error.lineno or 1) - 1, 0)
    col = max((error.offset or 1) - 1, 0)
    return row, min(index.offset(row, col), index.offset(row, len(index.line(row))))


def _first_error_problem(
    text: str, error: SyntaxError, index: LineIndex, regions: list[Region]
) -> tuple[SyntaxProblem, int]:
    """The problem for CPython's error and the last row of its cascade (for de-duplication)."""
    row, offset = _cpython_position(error, index)
    msg = error.msg or "invalid syntax"
    line = index.line(row)
    cascade_end = row
    for region in regions:
        if region.start_row <= row <= region.end_row:
            cascade_end = max(cascade_end, region.end_row)

    def verified(candidates: Iterable[TextFix]) -> TextFix | None:
        return _first_certain(text, candidates, row, cascade_end, msg)

    if msg.startswith("expected ':'"):
        # CPython points at the token after the header; the colon goes after the last code.
        insert = _code_end_before(index, offset)
        fix = _first_certain(
            text, [TextFix(insert, insert, ":", "Insert ':'")], row, cascade_end, msg, exact=True
        )
        words = f"expected ':' after {_header_words(_header_line(index, row))}"
        return SyntaxProblem(insert, insert, words, "missing-token", fix), cascade_end
    match = re.match(r"'(.)' was never closed", msg)
    if match:
        opener = match.group(1)
        closer = OPENERS.get(opener, ")")
        options = [
            TextFix(pos, pos, closer, f"Insert '{closer}'")
            for pos in _closing_positions(index, row, offset, cascade_end)
        ]
        fix = verified(options) or _own_line_close(text, index, options, row, msg)
        fix = fix or _furthest(text, options, row)
        words = f"unclosed '{opener}' opened on line {row + 1}"
        if fix is not None:
            words += f": missing '{closer}'"
        return SyntaxProblem(offset, offset + 1, words, "unclosed-bracket", fix), cascade_end
    match = re.match(r"unmatched '(.)'", msg)
    if match:
        extra = TextFix(offset, offset + 1, "", f"Remove the extra '{match.group(1)}'")
        fix = _first_certain(text, [extra], row, cascade_end, msg, exact=True)
        return (
            SyntaxProblem(
                offset, offset + 1, f"unmatched '{match.group(1)}'", "unmatched-bracket", fix
            ),
            cascade_end,
        )
    match = re.match(r"closing parenthesis '(.)' does not match opening parenthesis '(.)'", msg)
    if match:
        got, opener = match.group(1), match.group(2)
        want = OPENERS[opener]
        on_line = re.search(r"on line (\d+)", msg)
        where = f" opened on line {on_line.group(1)}" if on_line else ""
        # Either a closer was forgotten before this one, or this one is the wrong closer.
        forgotten = TextFix(offset, offset, want, f"Insert '{want}' before '{got}'")
        swap = TextFix(offset, offset + 1, want, f"Replace '{got}' by '{want}'")
        fix = _first_certain(text, [forgotten], row, cascade_end, msg) or _first_certain(
            text, [swap], row, cascade_end, msg, exact=True
        )
        words = f"'{got}' does not close the '{opener}'{where}: expected '{want}'"
        return SyntaxProblem(offset, offset + 1, words, "mismatched-bracket", fix), cascade_end
    if isinstance(error, IndentationError) or msg.startswith(("unexpected indent", "unindent")):
        return _indentation_problem(text, error, msg, row, index, cascade_end), cascade_end
    if msg.startswith("unterminated"):
        quote = _open_quote(line, offset - index.starts[row])
        fix = None
        if quote and "triple" not in msg:
            fix = verified(
                TextFix(pos, pos, quote, f"Insert the closing {quote}")
                for pos in _string_end_positions(index, row)
            )
        words = (
            "unterminated triple-quoted string: the closing quotes are missing"
            if "triple" in msg
            else "unterminated string: the closing quote is missing"
        )
        end = index.offset(row, len(line)) if "triple" not in msg else offset + 3
        return SyntaxProblem(offset, end, words, "unterminated-string", fix), cascade_end
    if msg.startswith("invalid syntax. Perhaps you forgot a comma?"):
        end_row = max((error.end_lineno or row + 1) - 1, row)
        end = index.offset(end_row, max((error.end_offset or 1) - 1, 0))
        gaps = [
            TextFix(pos, pos, ",", "Insert ','") for pos in _gaps(text, offset, max(end, offset))
        ]
        fix = _unique_certain(text, gaps, row, cascade_end, msg)
        return (
            SyntaxProblem(
                offset, max(end, offset + 1), "missing ',' between items?", "missing-token", fix
            ),
            cascade_end,
        )
    # CPython's other messages are already written for people; point at the offending token.
    end = offset + max(len(_token_at(line, offset - index.starts[row])), 1)
    end = min(end, index.offset(row, len(line)))
    words = msg
    if msg == "invalid syntax":
        token = text[offset:end].strip()
        words = f"invalid syntax: unexpected '{token}'" if token else _ends_early(index, row)
    return SyntaxProblem(offset, max(end, offset), words, "invalid-syntax"), cascade_end


def _ends_early(index: LineIndex, row: int) -> str:
    code = _strip_comment(index.line(row)).rstrip()
    last = code.split()[-1] if code.split() else ""
    return f"the statement ends too early after '{last}'" if last else "invalid syntax"


def _header_line(index: LineIndex, row: int) -> str:
    """The first line of the statement whose header ends on ``row`` (multi-line signatures)."""
    for r in range(row, max(row - 20, -1), -1):
        word = re.split(r"\W", index.line(r).lstrip(), maxsplit=1)[0]
        if word in HEADER_WORDS:
            return index.line(r)
    return index.line(row)


def _code_end_before(index: LineIndex, offset: int) -> int:
    """Skip back over spaces and comments (and line breaks) to just after the last code."""
    row = index.row_of(offset)
    col = offset - index.starts[row]
    code = _strip_comment(index.line(row)[:col]).rstrip()
    while not code and row > 0:
        row -= 1
        code = _strip_comment(index.line(row)).rstrip()
    return index.starts[row] + len(code)


def _closing_positions(index: LineIndex, row: int, offset: int, cascade_end: int) -> list[int]:
    """Where a missing closer may go: before a trailing ':' or at the end of each line's code."""
    positions: list[int] = []
    last = min(max(cascade_end, row) + 1, row + 8, len(index.starts) - 1)
    for r in range(row, last + 1):
        end = index.code_end(r)
        if r > row and not index.line(r).strip():
            continue
        if r == row and end <= offset:
            continue
        code = index.text[index.starts[r] : end]
        if code.endswith(":"):
            positions.append(end - 1)
        positions.append(end)
    return positions[:_MAX_FIX_TRIES]


def _string_end_positions(index: LineIndex, row: int) -> list[int]:
    line = index.line(row)
    end = index.starts[row] + len(line.rstrip())
    positions = [end]
    stripped = line.rstrip()
    trimmed = stripped.rstrip(")]},:")
    if len(trimmed) < len(stripped):
        positions.append(index.starts[row] + len(trimmed))
    return positions


def _open_quote(line: str, col: int) -> str:
    rest = line[col:]
    match = re.match(r"[rRbBuUfF]{0,2}(['\"])", rest)
    return match.group(1) if match else ""


def _token_at(line: str, col: int) -> str:
    match = re.match(r"\w+|\S", line[col:])
    return match.group(0) if match else ""


def _gaps(text: str, start: int, end: int) -> list[int]:
    """Offsets just after each token that is followed by spaces within [start, end)."""
    pattern = re.compile(r"(?<=[\w)\]}'\"])\s+(?=\S)")
    return [start + m.start() for m in pattern.finditer(text[start:end])][:_MAX_FIX_TRIES]


def _indentation_problem(
    text: str, error: SyntaxError, msg: str, row: int, index: LineIndex, cascade_end: int
) -> SyntaxProblem:
    line = index.line(row)
    indent = len(line) - len(line.lstrip())
    start = index.starts[row]
    if msg.startswith("unexpected indent"):
        wanted = _previous_indent(index, row)
        fix = _first_certain(
            text,
            [TextFix(start, start + indent, wanted, "Remove the extra indentation")],
            row,
            cascade_end,
            msg,
        )
        return SyntaxProblem(start, start + indent, "unexpected indent", "unexpected-indent", fix)
    if msg.startswith("unindent does not match"):
        levels = _outer_levels(index, row)
        below = [lv for lv in levels if len(lv) < indent]
        above = [lv for lv in levels if len(lv) > indent]
        options = ([max(below, key=len)] if below else []) + (
            [min(above, key=len)] if above else []
        )
        fixes = [
            TextFix(start, start + indent, lv, "Align with the enclosing block") for lv in options
        ]
        fix = _unique_certain(text, fixes, row, cascade_end, msg)
        if fix is None:
            # Several levels work: offer the previous line's block, but not as certain.
            previous = _previous_indent(index, row)
            guess = TextFix(start, start + indent, previous, "Align with the previous line", False)
            if len(previous) != indent and _gets_past(text, guess, row, cascade_end, msg):
                fix = guess
        return SyntaxProblem(
            start,
            start + max(indent, 1),
            "this line's indentation matches no enclosing block",
            "bad-dedent",
            fix,
        )
    if msg.startswith("expected an indented block"):
        words = msg.replace("after function definition", "after the function definition")
        # Likely (not certain: the body may be missing instead): this line is the body.
        opener = _previous_indent(index, row)
        guess = TextFix(start, start + indent, opener + "    ", "Indent this line", False)
        fix = guess if _gets_past(text, guess, row, cascade_end, msg) else None
        end = index.offset(row, len(line))
        return SyntaxProblem(start + indent, end, words, "expected-indent", fix)
    if "tabs and spaces" in msg:
        return SyntaxProblem(
            start, start + max(indent, 1), "tabs and spaces mixed in indentation", "tab-error"
        )
    return SyntaxProblem(start, start + max(indent, 1), msg, "indentation")


def _previous_indent(index: LineIndex, row: int) -> str:
    for r in range(row - 1, -1, -1):
        line = index.line(r)
        if line.strip() and not line.lstrip().startswith("#"):
            return line[: len(line) - len(line.lstrip())]
    return ""


def _outer_levels(index: LineIndex, row: int) -> list[str]:
    """Indentation strings of the blocks enclosing ``row`` (from the lines above it)."""
    levels: list[str] = []
    smallest = None
    for r in range(row - 1, -1, -1):
        line = index.line(r)
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = line[: len(line) - len(line.lstrip())]
        if smallest is None or len(indent) < smallest:
            levels.append(indent)
            smallest = len(indent)
            if smallest == 0:
                break
    return levels


# -- certainty --------------------------------------------------------------------------------


def apply_fix(text: str, fix: TextFix) -> str:
    return text[: fix.start] + fix.text + text[fix.end :]


def _gets_past(
    text: str, fix: TextFix, row: int, cascade_end: int, msg: str, exact: bool = False
) -> bool:
    """True if CPython's parser gets past the mistake once ``fix`` is applied.

    It parses, or its next error lies beyond the mistake's tree-sitter region. With ``exact``
    (CPython named this very token at this very place, e.g. "expected ':'"), it is enough that
    the next error is a different one at or after the mistake.
    """
    error = _error_of(apply_fix(text, fix))
    if error is None:
        return True
    new_row = (error.lineno or 1) - 1
    if new_row > cascade_end and new_row > row:
        return True
    return exact and new_row >= row and (error.msg or "") != msg


def _own_line_close(
    text: str, index: LineIndex, options: list[TextFix], row: int, msg: str
) -> TextFix | None:
    """Closing at the end of the opener's line is certain when the next line is no
    continuation (not indented deeper) and the parser then gets past that line."""
    if not options or index.row_of(options[0].start) != row:
        return None
    line = index.line(row)
    nxt = next(
        (index.line(r) for r in range(row + 1, len(index.starts)) if index.line(r).strip()), ""
    )
    if nxt and len(nxt) - len(nxt.lstrip()) > len(line) - len(line.lstrip()):
        return None
    end = index.code_end(row)
    fix = next((f for f in options if f.start == end), None)
    if fix is None:
        return None
    error = _error_of(apply_fix(text, fix))
    if error is None or ((error.lineno or 1) - 1 > row and (error.msg or "") != msg):
        return fix
    return None


def _reach(text: str, fix: TextFix) -> int:
    """How far CPython gets with ``fix`` applied (the row of its next error)."""
    error = _error_of(apply_fix(text, fix))
    return 1 << 30 if error is None else (error.lineno or 1) - 1


def _first_certain(
    text: str,
    fixes: Iterable[TextFix],
    row: int,
    cascade_end: int,
    msg: str,
    exact: bool = False,
) -> TextFix | None:
    for n, fix in enumerate(fixes):
        if n >= _MAX_FIX_TRIES:
            break
        if _gets_past(text, fix, row, cascade_end, msg, exact):
            return fix
    return None


def _furthest(text: str, fixes: Iterable[TextFix], row: int) -> TextFix | None:
    """Of fixes none of which is certain, the one CPython gets furthest with, if past ``row``."""
    best, best_reach = None, row
    for fix in list(fixes)[:_MAX_FIX_TRIES]:
        reach = _reach(text, fix)
        if reach > best_reach:
            best, best_reach = fix, reach
    if best is None:
        return None
    return TextFix(best.start, best.end, best.text, best.title, certain=False)


def _unique_certain(
    text: str, fixes: Iterable[TextFix], row: int, cascade_end: int, msg: str
) -> TextFix | None:
    """The one fix among ``fixes`` that works; None if none or several do (not certain)."""
    good = [f for f in list(fixes)[:_MAX_FIX_TRIES] if _gets_past(text, f, row, cascade_end, msg)]
    return good[0] if len(good) == 1 else None


# -- entry point ------------------------------------------------------------------------------


MAX_CHAINED = 4  # later mistakes found by re-parsing with the earlier certain fixes applied
MAX_CHAIN_CHARS = 300_000


def _map_back(offset: int, applied: list[TextFix]) -> int:
    """An offset in the text with ``applied`` fixes -> the same place in the original text."""
    for fix in reversed(applied):
        inserted_end = fix.start + len(fix.text)
        if offset >= inserted_end:
            offset -= len(fix.text) - (fix.end - fix.start)
        elif offset > fix.start:
            offset = fix.start
    return offset


def _mapped(problem: SyntaxProblem, applied: list[TextFix]) -> SyntaxProblem:
    if not applied:
        return problem
    fix = problem.fix
    if fix is not None:
        fix = TextFix(
            _map_back(fix.start, applied),
            _map_back(fix.end, applied),
            fix.text,
            fix.title,
            fix.certain,
        )
    start = _map_back(problem.start, applied)
    return SyntaxProblem(
        start, max(start, _map_back(problem.end, applied)), problem.message, problem.kind, fix
    )


def _visible(problem: SyntaxProblem, text: str) -> SyntaxProblem:
    """Give a zero-width problem (a missing ':') the character before it: editors drop or
    misplace empty ranges. The fix still inserts at the exact spot."""
    if problem.start != problem.end:
        return problem
    at = problem.start
    if at > 0 and text[at - 1] not in "\r\n":
        return SyntaxProblem(at - 1, at, problem.message, problem.kind, problem.fix)
    if at < len(text) and text[at] not in "\r\n":
        return SyntaxProblem(at, at + 1, problem.message, problem.kind, problem.fix)
    return problem


def find_syntax_errors(
    text: str,
    tree: tree_sitter.Tree | None = None,
    python_error: SyntaxError | bool | None = True,
    limit: int = 20,
) -> list[SyntaxProblem]:
    """Every syntax mistake in ``text``, one problem each, in document order (see _find)."""
    return [_visible(p, text) for p in _find(text, tree, python_error, limit)]


def _find(
    text: str,
    tree: tree_sitter.Tree | None,
    python_error: SyntaxError | bool | None,
    limit: int,
) -> list[SyntaxProblem]:
    """Every syntax mistake in ``text``, one problem each, in document order.

    ``tree`` is the buffer's tree-sitter tree (parsed here when omitted). ``python_error`` is
    CPython's verdict when the caller already parsed (None: it parsed); True means "parse here".

    While the first mistake has a certain fix, the next one is CPython's error in the buffer
    with that fix applied (CPython's wording, no cascade). After a mistake without a certain
    fix, tree-sitter's error regions beyond its cascade name the rest.
    """
    if python_error is True:
        _, python_error = python_parse(text)
    if python_error is None or python_error is False:
        return []  # CPython accepts it: tree-sitter ERRORs would be grammar gaps, not mistakes
    assert isinstance(python_error, SyntaxError)
    if tree is None:
        tree = new_parser().parse(text.encode("utf-8", "surrogatepass"))
    problems: list[SyntaxProblem] = []
    applied: list[TextFix] = []
    current, error = text, python_error
    chain = MAX_CHAINED if len(text) <= MAX_CHAIN_CHARS else 0
    while True:
        index = LineIndex(current)
        regions = error_regions(tree, index)
        problem, cascade_end = _first_error_problem(current, error, index, regions)
        if problems and _map_back(problem.start, applied) <= problems[-1].start:
            break  # no progress: stop rather than report the same place twice
        problems.append(_mapped(problem, applied))
        fix = problem.fix
        if len(problems) > chain or len(problems) >= limit or fix is None or not fix.certain:
            break
        patched = apply_fix(current, fix)
        next_error = _error_of(patched)  # usually parsed already by the certainty check
        if next_error is None:
            return problems
        applied.append(fix)
        current, error = patched, next_error
        tree = new_parser().parse(current.encode("utf-8", "surrogatepass"))
    # The rest from tree-sitter: regions past the last cascade (in the current text).
    covered_until = max(cascade_end, index.row_of(problem.end))
    for region in regions:
        if len(problems) >= limit:
            break
        if region.start_row <= covered_until or (region.start == region.end and not region.missing):
            continue  # before it CPython accepted the code; within it, the cascade
        problems.append(_mapped(_describe_region(region, index), applied))
        covered_until = region.end_row
    return problems
