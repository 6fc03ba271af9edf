"""What is at the cursor, and which kind of completion a good assistant would offer there.

Policy (the reason string in :class:`CursorInfo` names the rule that decided):

- NONE inside a comment: comments are the user's prose; a small model's guesses there are noise.
- Strings that are not docstrings: SINGLE_LINE when the cursor is at the end of the literal's
  text (only closing quotes/brackets to the right) - paths, messages and format strings are
  worth completing - and NONE in the middle of a literal's text. Inside an f-string's ``{...}``
  the cursor is in code, not in the string.
- Docstrings: SINGLE_LINE at the end of a docstring line (one line of prose at a time), NONE
  with docstring text to the right.
- NONE in the middle of an identifier (identifier characters on both sides), and when the rest
  of the line holds text that an insertion would break. Text to the right that is only closing
  brackets, quotes, ':', ',' or ';' (and a trailing comment) is fine: the suggestion goes
  before it.
- MULTI_LINE right after a block opener (``def f(x):|``) and at an empty body (a blank line
  after an opener, or after a signature and a docstring) - but a blank line between brackets
  (a multi-line call or literal) is SINGLE_LINE: one more item.
- SINGLE_LINE at a blank line inside a block that has statements, between two of them or
  after the last: one statement at a time. Cody and Continue ask for several lines only at a
  block's start or an empty body (GitHub Copilot only at an empty block's start); a body
  guessed there runs ahead of code the user is about to write or already has below.
- SINGLE_LINE everywhere else (partial lines, blank lines at module level).
- NONE, unanalyzed, on lines over MAX_LINE_CHARS or where the tree is over MAX_DEPTH deep:
  that is generated or hostile code, and walking such a tree would stall the server.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import tree_sitter

from ghostls.documents import Snapshot
from ghostls.syntax.nodes import (
    COMPOUND_TYPES,
    MAX_LINE_CHARS,
    OPENER_KEYWORDS,
    TooDeep,
    ancestors,
    children_until,
    docstring_node,
    previous_leaf,
    too_deep,
)

# What may follow the cursor on its line without blocking a suggestion.
_CLOSERS = frozenset(")]}\"':,; \t")
_DOCSTRING_OWNERS = frozenset({"function_definition", "class_definition", "module"})


class CompletionKind(enum.Enum):
    NONE = "none"
    SINGLE_LINE = "single_line"
    MULTI_LINE = "multi_line"


@dataclass(frozen=True)
class CursorInfo:
    offset: int  # code-point offset into the snapshot's text
    row: int
    column: int  # code points into the line
    kind: CompletionKind
    reason: str  # which rule chose ``kind`` (for debugging and logs)
    in_string: bool = False  # in a string literal's text (not a docstring, not in {...})
    in_comment: bool = False
    in_docstring: bool = False
    in_fstring_expression: bool = False  # inside an f-string's {...}
    at_line_end: bool = False  # only whitespace after the cursor on this line
    mid_token: bool = False  # identifier characters on both sides
    in_arguments: bool = False  # inside a call's argument list
    in_parameters: bool = False  # inside a def's parameter list
    in_brackets: bool = False  # between any bracket pair (calls, literals, subscripts...)
    after_block_opener: bool = False  # the line ends with a block's ':' before the cursor
    empty_body: bool = False  # on a blank line where a block's body should start
    blank_line_in_block: bool = False  # on a blank line inside an indented block
    statement_below: bool = False  # ... and the next code line continues that block
    blank_line: bool = False  # only whitespace on the cursor's line
    indent: str = ""  # indentation the next line of code should have
    indent_unit: str = "    "  # one level of indentation in this file
    text_after_cursor: str = ""  # the rest of the line
    text_before_cursor: str = ""  # the line up to the cursor
    node_type: str = ""  # type of the smallest node at the cursor (debugging)
    analyzable: bool = True  # False for generated/hostile code (huge line, extreme nesting)


def _is_ident_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _leading_ws(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _row_of(snapshot: Snapshot, offset: int) -> int:
    return snapshot.row_of(offset)


def _string_state(
    node: tree_sitter.Node | None, byte: int
) -> tuple[tree_sitter.Node | None, bool, bool]:
    """(string node the cursor is inside, in its text?, inside an f-string {...}?)."""
    for anc in ancestors(node):
        # Between an f-string's braces the cursor is in code.
        if anc.type == "interpolation" and (
            anc.start_byte < byte < anc.end_byte
            or (anc.start_byte < byte and anc.child_count and anc.children[-1].type != "}")
        ):
            return None, False, True
        if anc.type == "string":
            first = anc.child(0)
            last = anc.child(anc.child_count - 1) if anc.child_count else None
            opened_by = first.end_byte if first is not None else anc.start_byte
            closed = last is not None and last.type == "string_end" and not last.is_missing
            close_at = last.start_byte if (closed and last is not None) else anc.end_byte
            if opened_by <= byte and (byte <= close_at or not closed):
                return anc, True, False
            return None, False, False
    return None, False, False


def _unterminated_string_on_line(snapshot: Snapshot, byte: int, line_start_byte: int) -> bool:
    """Broken code: a string_start on this line before the cursor with no string_end after."""
    leaf = previous_leaf(snapshot.tree.root_node, byte, skip_comments=False)
    while leaf is not None and leaf.start_byte >= line_start_byte:
        if leaf.type == "string_end":
            return False
        if leaf.type == "string_start":
            parent = leaf.parent
            if parent is None or parent.type != "string":
                return True
            last = parent.child(parent.child_count - 1)
            return last is None or last.type != "string_end" or last.is_missing
        leaf = previous_leaf(snapshot.tree.root_node, leaf.start_byte, skip_comments=False)
    return False


def _is_docstring(string: tree_sitter.Node) -> bool:
    statement = string.parent
    if statement is None or statement.type != "expression_statement":
        return False
    body = statement.parent
    if body is None:
        return False
    owner = body if body.type == "module" else body.parent
    if owner is None or owner.type not in _DOCSTRING_OWNERS:
        return False
    return docstring_node(body) == string


def _comment_at(node: tree_sitter.Node | None, byte: int) -> bool:
    return node is not None and node.type == "comment" and node.start_byte < byte


def _argument_state(node: tree_sitter.Node | None, byte: int) -> tuple[bool, bool]:
    """(in a call's argument list, in a def's parameter list)."""
    for anc in ancestors(node):
        if anc.type in ("argument_list", "parameters") and anc.start_byte < byte:
            last = anc.child(anc.child_count - 1) if anc.child_count else None
            closed = last is not None and last.type == ")" and not last.is_missing
            if not closed or byte < anc.end_byte:
                return anc.type == "argument_list", anc.type == "parameters"
        if anc.type in ("block", "module") or anc.type in COMPOUND_TYPES:
            break
        if anc.type == "ERROR":
            return _unclosed_paren_in_error(anc, byte)
    return False, False


def _unclosed_paren_in_error(error: tree_sitter.Node, byte: int) -> tuple[bool, bool]:
    """In an ERROR node (unfinished code) find an unclosed '(' before the cursor."""
    stack: list[tree_sitter.Node] = []
    for child in children_until(error, byte):
        if child.type in ("(", "[", "{"):
            stack.append(child)
        elif child.type in (")", "]", "}") and stack:
            stack.pop()
    if not stack or stack[-1].type != "(":
        return False, False
    before = stack[-1].prev_sibling
    if before is not None and before.type in ("identifier", "attribute", "call", "subscript"):
        ahead = before.prev_sibling
        if ahead is not None and ahead.type == "def":
            return False, True
        return True, False
    return False, False


_BRACKET_TYPES = frozenset(
    {
        "argument_list",
        "parameters",
        "list",
        "tuple",
        "dictionary",
        "set",
        "parenthesized_expression",
        "subscript",
        "list_comprehension",
        "dictionary_comprehension",
        "set_comprehension",
        "generator_expression",
        "type_parameter",
    }
)
_CLOSING = frozenset({")", "]", "}"})


def _inside_brackets(node: tree_sitter.Node | None, byte: int) -> bool:
    """True if the cursor sits between a bracket pair (or after an unclosed bracket)."""
    for anc in ancestors(node):
        if anc.type in _BRACKET_TYPES and anc.start_byte < byte:
            last = anc.child(anc.child_count - 1) if anc.child_count else None
            closed = last is not None and last.type in _CLOSING and not last.is_missing
            if not closed or byte < anc.end_byte:
                return True
        if anc.type in ("block", "module") or anc.type in COMPOUND_TYPES:
            return False
        if anc.type == "ERROR":
            depth = 0
            for child in children_until(anc, byte):
                if child.type in ("(", "[", "{"):
                    depth += 1
                elif child.type in _CLOSING and depth:
                    depth -= 1
            return depth > 0
    return False


def _opener_colon(leaf: tree_sitter.Node | None) -> tree_sitter.Node | None:
    """``leaf`` if it is the ':' that ends a compound statement's header."""
    if leaf is None or leaf.type != ":":
        return None
    parent = leaf.parent
    if parent is None:
        return None
    if parent.type in COMPOUND_TYPES:
        return leaf
    if parent.type in ("ERROR", "module", "block"):
        # Unfinished code: accept if the line's first token is a block keyword.
        sibling = leaf.prev_sibling
        while sibling is not None and sibling.start_point.row == leaf.start_point.row:
            if sibling.type in OPENER_KEYWORDS or sibling.type in COMPOUND_TYPES:
                return leaf
            sibling = sibling.prev_sibling
    return None


def _opener_indent(snapshot: Snapshot, colon: tree_sitter.Node) -> str:
    header = colon.parent
    row = header.start_point.row if header is not None and header.type != "ERROR" else None
    if row is None:
        row = colon.start_point.row
    # A decorated or multi-line header: the indentation of the header's first line.
    return _leading_ws(snapshot.line(row))


def _body_after(colon: tree_sitter.Node) -> tree_sitter.Node | None:
    header = colon.parent
    if header is None:
        return None
    body = header.child_by_field_name("body") or header.child_by_field_name("consequence")
    if body is None:
        sibling = colon.next_sibling
        while sibling is not None and sibling.type == "comment":
            sibling = sibling.next_sibling
        if sibling is not None and sibling.type == "block":
            body = sibling
    return body


def detect_indent_unit(snapshot: Snapshot, near: tree_sitter.Node | None) -> str:
    """One level of indentation: from the blocks around ``near``, else the file's first
    indented block, else four spaces."""
    for anc in ancestors(near):
        unit = _block_unit(snapshot, anc)
        if unit:
            return unit
    root = snapshot.tree.root_node
    for index in range(min(200, root.named_child_count)):
        statement = root.named_child(index)
        unit = _block_unit(snapshot, statement.child_by_field_name("body") if statement else None)
        if unit:
            return unit
    return "    "


def _block_unit(snapshot: Snapshot, block: tree_sitter.Node | None) -> str:
    """What a non-empty block's first line adds to its header line's indentation."""
    if block is None or block.type != "block" or not block.named_child_count:
        return ""
    header = block.parent
    if header is None or header.start_point.row == block.start_point.row:
        return ""  # `if x: pass` on one line
    outer = _leading_ws(snapshot.line(header.start_point.row))
    inner = _leading_ws(snapshot.line(block.start_point.row))
    if len(inner) > len(outer) and inner.startswith(outer):
        return inner[len(outer) :]
    return ""


def _block_for_blank_line(
    snapshot: Snapshot, byte: int, ws_width: int, prev: tree_sitter.Node | None
) -> tree_sitter.Node | None:
    """The innermost block the blank line at ``byte`` belongs to, or None at module level.

    Between two statements of a block, the block's byte range contains the cursor. After a
    block's last statement it does not: then the cursor's indentation decides which of the
    blocks ending there it continues (column 0 continues none).
    """
    root = snapshot.tree.root_node
    inside = root.descendant_for_byte_range(byte, byte)
    for anc in ancestors(inside):
        if anc.type == "block" and anc.start_byte < byte < anc.end_byte:
            return anc
    best: tree_sitter.Node | None = None
    for anc in ancestors(prev):
        if anc.type == "block" and anc.start_point.column <= ws_width and ws_width > 0:
            best = anc
            break
    return best


def _docstring_only_body(prev: tree_sitter.Node | None) -> tree_sitter.Node | None:
    """The body of a def/class that holds only a docstring ending at ``prev`` (else None)."""
    for anc in ancestors(prev):
        if anc.type == "block":
            owner = anc.parent
            doc = docstring_node(anc)
            if (
                owner is not None
                and owner.type in ("function_definition", "class_definition")
                and doc is not None
                and anc.named_child_count == 1
                and prev is not None
                and doc.end_byte == prev.end_byte
            ):
                return anc
            return None
    return None


def analyze_cursor(snapshot: Snapshot, offset: int) -> CursorInfo:
    """Describe the cursor at code-point ``offset`` of ``snapshot`` and choose a kind."""
    try:
        return _analyze(snapshot, offset)
    except TooDeep:
        return _unanalyzable(snapshot, offset, "nesting too deep")


def _unanalyzable(snapshot: Snapshot, offset: int, reason: str) -> CursorInfo:
    offset = max(0, min(offset, len(snapshot.text)))
    row = _row_of(snapshot, offset)
    line = snapshot.line(row)
    column = min(offset - snapshot.line_offsets[row], len(line))
    before, after = line[:column], line[column:]
    return CursorInfo(
        offset=offset,
        row=row,
        column=column,
        kind=CompletionKind.NONE,
        reason=reason,
        analyzable=False,
        at_line_end=not after.strip(),
        blank_line=not line.strip(),
        indent=_leading_ws(line),
        text_after_cursor=after,
        text_before_cursor=before,
    )


def _analyze(snapshot: Snapshot, offset: int) -> CursorInfo:
    offset = max(0, min(offset, len(snapshot.text)))
    row = _row_of(snapshot, offset)
    line = snapshot.line(row)
    column = min(offset - snapshot.line_offsets[row], len(line))
    before, after = line[:column], line[column:]
    byte = snapshot.byte_at(offset)
    line_start_byte = byte - len(before.encode("utf-8", "surrogatepass"))
    root = snapshot.tree.root_node
    if len(line) > MAX_LINE_CHARS:
        return _unanalyzable(snapshot, offset, "line too long")
    if too_deep(root, byte):
        return _unanalyzable(snapshot, offset, "nesting too deep")

    node = root.descendant_for_byte_range(max(0, byte - 1), byte) if byte else root
    at_cursor = root.descendant_for_byte_range(byte, byte)
    string, in_text, in_fexpr = _string_state(node, byte)
    if string is None and not in_fexpr and node is not None and node.type == "string_end":
        string, in_text, in_fexpr = None, False, False
    in_docstring = string is not None and _is_docstring(string)
    in_string = in_text and not in_docstring
    if (
        string is None
        and not in_fexpr
        and _unterminated_string_on_line(snapshot, byte, line_start_byte)
    ):
        in_string = True
    in_comment = _comment_at(node, byte) and not (in_string or in_docstring)
    prev_any = previous_leaf(root, byte, skip_comments=False)
    anchor = prev_any if node is None or node.type in ("module", "block") else node
    in_arguments, in_parameters = _argument_state(anchor, byte)
    in_brackets = in_arguments or in_parameters or _inside_brackets(anchor, byte)

    at_line_end = not after.strip()
    blank_line = not line.strip()
    mid_token = bool(before and after) and _is_ident_char(before[-1]) and _is_ident_char(after[0])

    prev = previous_leaf(root, byte)
    colon = _opener_colon(prev)
    after_block_opener = (
        colon is not None
        and colon.end_point.row == row
        and not snapshot.source[colon.end_byte : byte].strip()
    )
    unit = detect_indent_unit(snapshot, prev or node)
    ws = _leading_ws(before)

    empty_body = False
    blank_line_in_block = False
    indent = _leading_ws(line)
    if after_block_opener and colon is not None:
        indent = _opener_indent(snapshot, colon) + unit
    elif blank_line and in_brackets:
        # A continuation line: line up with the previous line inside the brackets.
        above = prev_any.start_point.row if prev_any is not None else row
        indent = _leading_ws(snapshot.line(above)) if above < row else ws
    elif blank_line:
        if colon is not None and colon.end_point.row < row:
            body = _body_after(colon)
            if body is None or body.named_child_count == 0 or body.start_byte >= byte:
                empty_body = True
                indent = _opener_indent(snapshot, colon) + unit
        if not empty_body:
            block = _block_for_blank_line(snapshot, byte, len(ws), prev)
            if block is None and not ws:
                block = _docstring_only_body(prev)
            if block is not None:
                blank_line_in_block = True
                indent = _leading_ws(snapshot.line(block.start_point.row))
                owner = block.parent
                if (
                    owner is not None
                    and owner.type in ("function_definition", "class_definition")
                    and docstring_node(block) is not None
                    and block.named_child_count == 1
                ):
                    empty_body = True  # signature + docstring, no code yet
            else:
                indent = ws

    statement_below = blank_line_in_block and _code_below_at(snapshot, row, indent)
    closers_only = _only_closers(after, root, byte)
    if in_comment:
        kind, reason = CompletionKind.NONE, "inside a comment"
    elif in_string:
        if closers_only:
            kind, reason = CompletionKind.SINGLE_LINE, "at the end of a string literal's text"
        else:
            kind, reason = CompletionKind.NONE, "inside a string with text to the right"
    elif in_docstring:
        if closers_only:
            kind, reason = CompletionKind.SINGLE_LINE, "docstring prose at the end of a line"
        else:
            kind, reason = CompletionKind.NONE, "inside a docstring with text to the right"
    elif mid_token:
        kind, reason = CompletionKind.NONE, "in the middle of an identifier"
    elif not closers_only:
        kind, reason = CompletionKind.NONE, "text to the right a suggestion would break"
    elif after_block_opener:
        kind, reason = CompletionKind.MULTI_LINE, "after a block opener"
    elif blank_line and in_brackets:
        kind, reason = CompletionKind.SINGLE_LINE, "blank line inside brackets"
    elif empty_body:
        kind, reason = CompletionKind.MULTI_LINE, "empty block body"
    elif blank_line_in_block and statement_below:
        kind, reason = CompletionKind.SINGLE_LINE, "blank line between statements"
    elif blank_line_in_block:
        kind, reason = CompletionKind.SINGLE_LINE, "blank line after a block's last statement"
    elif blank_line:
        kind, reason = CompletionKind.SINGLE_LINE, "blank line at module level"
    else:
        kind, reason = CompletionKind.SINGLE_LINE, "partial line"

    return CursorInfo(
        offset=offset,
        row=row,
        column=column,
        kind=kind,
        reason=reason,
        in_string=in_string,
        in_comment=in_comment,
        in_docstring=in_docstring,
        in_fstring_expression=in_fexpr,
        at_line_end=at_line_end,
        mid_token=mid_token,
        in_arguments=in_arguments,
        in_parameters=in_parameters,
        in_brackets=in_brackets,
        after_block_opener=after_block_opener,
        empty_body=empty_body,
        blank_line_in_block=blank_line_in_block,
        statement_below=statement_below,
        blank_line=blank_line,
        indent=indent,
        indent_unit=unit,
        text_after_cursor=after,
        text_before_cursor=before,
        node_type=(at_cursor.type if at_cursor is not None else ""),
    )


_CONTINUATIONS = re.compile(r"(elif|else|except|finally)\b")


def _code_below_at(snapshot: Snapshot, row: int, indent: str) -> bool:
    """True if the next line of code below ``row`` (comments skipped) is a statement indented
    by ``indent``; an ``elif``/``else``/``except``/``finally`` there continues the statement
    above, whose body the blank line may be extending."""
    for r in range(row + 1, min(snapshot.line_count, row + 200)):
        line = snapshot.line(r)
        code = line.lstrip()
        if not code or code.startswith("#"):
            continue
        return len(line) - len(code) == len(indent) and not _CONTINUATIONS.match(code)
    return False


def _only_closers(after: str, root: tree_sitter.Node, byte: int) -> bool:
    """True if the rest of the line is closing punctuation, optionally then a comment."""
    rest = after
    hash_at = after.find("#")
    while hash_at != -1:
        # Only a real comment token ends the check; a '#' inside a string does not.
        at = byte + len(after[:hash_at].encode("utf-8", "surrogatepass"))
        token = root.descendant_for_byte_range(at, at + 1)
        if token is not None and token.type == "comment" and token.start_byte == at:
            rest = after[:hash_at]
            break
        hash_at = after.find("#", hash_at + 1)
    return all(ch in _CLOSERS for ch in rest)
