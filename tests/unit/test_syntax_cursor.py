"""Cursor situations and completion kinds, on real code from the CPython standard library."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from ghostls.documents import DocumentStore, Snapshot
from ghostls.syntax.cursor import CompletionKind, CursorInfo, analyze_cursor

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def stdlib(name: str) -> str:
    path = STDLIB / name
    if not path.exists():
        pytest.skip(f"{path} not on this machine")
    return path.read_text(encoding="utf-8")


def open_text(text: str, name: str = "mod.py") -> Snapshot:
    return DocumentStore().open(f"file:///{name}", text, 1)


def cursor_after(text: str, anchor: str, delta: int = 0, name: str = "mod.py") -> CursorInfo:
    """The cursor just after the unique ``anchor`` (moved by ``delta`` code points)."""
    assert text.count(anchor) == 1, f"anchor not unique: {anchor!r}"
    offset = text.index(anchor) + len(anchor) + delta
    return analyze_cursor(open_text(text, name), offset)


def body_cut(text: str, header: str, keep_docstring: bool) -> tuple[str, int]:
    """``text`` with the body of the def starting ``header`` emptied; cursor where it goes."""
    start = text.index(header)
    snap = open_text(text)
    node = snap.tree.root_node.descendant_for_byte_range(
        snap.byte_at(start), snap.byte_at(start) + 1
    )
    while node is not None and node.type != "function_definition":
        node = node.parent
    assert node is not None
    body = node.child_by_field_name("body")
    assert body is not None
    statements = body.named_children
    keep_until = statements[0].end_byte if keep_docstring else body.start_byte
    cut_from = snap.offset_of_byte(keep_until)
    cut_to = snap.offset_of_byte(body.end_byte)
    head = text[:cut_from].rstrip(" ")
    return head + "\n    " + text[cut_to:], len(head) + 5


def test_inside_a_comment_is_none() -> None:
    text = stdlib("textwrap.py")
    info = cursor_after(text, "# Look for the longest leading")
    assert info.in_comment and info.kind is CompletionKind.NONE
    # A '#' inside a (verbose regex) string is not a comment.
    in_regex = cursor_after(text, "# hyphenated word")
    assert in_regex.in_string and not in_regex.in_comment
    end = cursor_after(text, "just split on recognized spaces. E.g.")  # end of a comment line
    assert end.in_comment and end.kind is CompletionKind.NONE
    assert "comment" in end.reason


def test_docstring_line_end_is_single_line_and_mid_text_is_none() -> None:
    text = stdlib("textwrap.py")
    info = cursor_after(text, "Split the text to wrap into indivisible chunks.")
    assert info.in_docstring and not info.in_string
    assert info.kind is CompletionKind.NONE  # "  Chunks are" follows on that line
    end = cursor_after(text, "details.  As an example, the text")
    assert end.in_docstring and end.at_line_end
    assert end.kind is CompletionKind.SINGLE_LINE


def test_plain_string_mid_text_is_none_and_at_its_end_single_line() -> None:
    text = stdlib("_bootsubprocess.py")
    mid = cursor_after(text, 'raise ValueError(f"unsup')
    assert mid.in_string and mid.kind is CompletionKind.NONE
    end = cursor_after(text, 'raise ValueError(f"unsupported command: {cmd!r}')
    assert end.in_string and end.in_arguments
    assert end.text_after_cursor == '")'
    assert end.kind is CompletionKind.SINGLE_LINE


def test_fstring_expression_is_code() -> None:
    text = stdlib("_bootsubprocess.py")
    info = cursor_after(text, 'cmd = f"{cm')
    assert info.in_fstring_expression and not info.in_string
    assert info.mid_token  # "cm|d": identifier characters on both sides
    assert info.kind is CompletionKind.NONE
    after = cursor_after(text, 'cmd = f"{cmd')
    assert after.in_fstring_expression and not after.in_string


def test_mid_identifier_is_none() -> None:
    text = stdlib("textwrap.py")
    info = cursor_after(text, "    indents = _leading_white")
    assert info.mid_token and info.kind is CompletionKind.NONE
    assert info.reason == "in the middle of an identifier"


def test_text_to_the_right_is_none_but_closers_are_fine() -> None:
    text = stdlib("textwrap.py")
    blocked = cursor_after(text, "    text = _whitespace_only_re.sub(")
    assert blocked.in_arguments
    assert blocked.kind is CompletionKind.NONE  # "'', text)" would be broken
    closers = cursor_after(text, "chunks = self.wordsep_re.split(text")
    assert closers.in_arguments and closers.text_after_cursor == ")"
    assert closers.kind is CompletionKind.SINGLE_LINE


def test_after_block_opener_is_multi_line_with_deeper_indent() -> None:
    text = stdlib("textwrap.py")
    info = cursor_after(text, "    def _split(self, text):")
    assert info.after_block_opener
    assert info.kind is CompletionKind.MULTI_LINE
    assert info.indent == "        "
    loop = cursor_after(text, "    for indent in indents:")
    assert loop.after_block_opener and loop.indent == "        "
    assert loop.kind is CompletionKind.MULTI_LINE


def test_empty_body_after_signature_and_docstring_is_multi_line() -> None:
    text, offset = body_cut(stdlib("textwrap.py"), "def dedent(text):", keep_docstring=True)
    info = analyze_cursor(open_text(text), offset)
    assert info.empty_body and info.blank_line
    assert info.kind is CompletionKind.MULTI_LINE
    assert info.indent == "    "
    # The same with the editor's indentation removed: a column-0 empty line after the doc.
    flat = text[: offset - 4] + text[offset:]
    info = analyze_cursor(open_text(flat), offset - 4)
    assert info.empty_body and info.kind is CompletionKind.MULTI_LINE
    assert info.indent == "    "


def test_empty_body_right_after_signature_is_multi_line() -> None:
    text, offset = body_cut(stdlib("shlex.py"), "def quote(s):", keep_docstring=False)
    info = analyze_cursor(open_text(text), offset)
    assert info.empty_body and info.kind is CompletionKind.MULTI_LINE
    assert info.reason == "empty block body"


def test_blank_line_inside_a_block_is_single_line() -> None:
    text = stdlib("textwrap.py")
    # The blank line inside dedent's for loop, before "# Current line more deeply indented".
    anchor = "            margin = indent\n"
    offset = text.index(anchor) + len(anchor)
    assert text[offset] == "\n"
    info = analyze_cursor(open_text(text), offset)
    assert info.blank_line_in_block and not info.statement_below  # an elif is no new statement
    assert info.kind is CompletionKind.SINGLE_LINE
    assert info.indent == "        "  # the for loop's body (the elif continues it)


def test_blank_line_between_statements_is_single_line() -> None:
    text = stdlib("textwrap.py")
    anchor = "    margin = None\n"  # in dedent(), above "text = _whitespace_only_re.sub(...)"
    at = text.index(anchor) + len(anchor)
    opened = text[:at] + "    \n" + text[at:]
    info = analyze_cursor(open_text(opened), at + 4)
    assert info.blank_line_in_block and info.statement_below
    assert info.kind is CompletionKind.SINGLE_LINE
    assert info.reason == "blank line between statements"
    # After the function's last statement: one statement at a time, too.
    last = "    return text\n\n\ndef indent("
    end = opened.index(last) + len("    return text\n")
    extended = opened[:end] + "    \n" + opened[end:]
    after = analyze_cursor(open_text(extended), end + 4)
    assert after.blank_line_in_block and not after.statement_below
    assert after.kind is CompletionKind.SINGLE_LINE
    assert after.reason == "blank line after a block's last statement"


def test_blank_line_at_module_level_is_single_line() -> None:
    text = stdlib("textwrap.py")
    anchor = "__all__ = ['TextWrapper', 'wrap', 'fill', 'dedent', 'indent', 'shorten']\n"
    offset = text.index(anchor) + len(anchor)
    info = analyze_cursor(open_text(text), offset)
    assert info.blank_line and not info.blank_line_in_block
    assert info.kind is CompletionKind.SINGLE_LINE
    assert info.indent == ""


def test_partial_line_is_single_line() -> None:
    text = stdlib("textwrap.py")
    info = cursor_after(text, "        chunks = [c for c in chunks if c]")
    assert info.kind is CompletionKind.SINGLE_LINE and info.at_line_end
    assert info.reason == "partial line"
    assert info.indent == "        "


def test_parameters_are_detected() -> None:
    text = stdlib("textwrap.py")
    info = cursor_after(text, "def shorten(text, width")
    assert info.in_parameters and not info.in_arguments


def test_typing_an_unfinished_call_and_string() -> None:
    base = stdlib("textwrap.py")
    anchor = "    margin = None\n"
    at = base.index(anchor) + len(anchor)
    text = base[:at] + "    lines = text.split(\n" + base[at:]
    info = analyze_cursor(open_text(text), at + len("    lines = text.split("))
    assert info.in_arguments
    assert info.kind is CompletionKind.SINGLE_LINE
    text = base[:at] + '    sep = "ab\n' + base[at:]
    info = analyze_cursor(open_text(text), at + len('    sep = "ab'))
    assert info.in_string and info.kind is CompletionKind.SINGLE_LINE


def test_comment_after_closers_does_not_block() -> None:
    text = stdlib("textwrap.py")
    info = cursor_after(text, "sentence_end_re = re.compile(r'[a-z]'")
    assert info.text_after_cursor.lstrip().startswith("# lowercase letter")
    assert info.kind is CompletionKind.SINGLE_LINE


def test_tab_indented_file_uses_tabs() -> None:
    text = "def f(x):\n\tif x:\n\t\treturn 1\n\treturn 2\n"
    snap = open_text(text)
    info = analyze_cursor(snap, text.index("if x:") + len("if x:"))
    assert info.after_block_opener and info.indent == "\t\t" and info.indent_unit == "\t"


def test_non_ascii_line_before_cursor() -> None:
    text = 'def grüße(namé):  # 🐍\n    return f"héllo {namé}"\n'
    snap = open_text(text)
    info = analyze_cursor(snap, text.index("):") + 2)
    assert info.after_block_opener and info.kind is CompletionKind.MULTI_LINE
    inside = analyze_cursor(snap, text.index("{namé") + 3)
    assert inside.in_fstring_expression and inside.mid_token


@pytest.mark.parametrize("name", ["textwrap.py", "shlex.py", "_pydecimal.py"])
def test_every_offset_of_a_file_is_analyzed_without_error(name: str) -> None:
    text = stdlib(name)[:6000]
    snap = open_text(text)
    kinds = set()
    for offset in range(0, len(text), 7):
        info = analyze_cursor(snap, offset)
        kinds.add(info.kind)
        assert 0 <= info.column <= len(snap.line(info.row))
        assert info.text_before_cursor + info.text_after_cursor == snap.line(info.row)
    assert CompletionKind.NONE in kinds and CompletionKind.SINGLE_LINE in kinds


def test_blank_line_inside_brackets_is_single_line() -> None:
    base = stdlib("textwrap.py")
    anchor = "    margin = None\n"
    at = base.index(anchor) + len(anchor)
    text = base[:at] + "    parts = [\n        margin,\n\n    ]\n" + base[at:]
    offset = at + len("    parts = [\n        margin,\n")
    info = analyze_cursor(open_text(text), offset)
    assert info.blank_line and info.in_brackets and not info.blank_line_in_block
    assert info.kind is CompletionKind.SINGLE_LINE
    assert info.indent == "        "
    unclosed = base[:at] + "    total = sum(\n        margin,\n\n" + base[at:]
    gap = at + len("    total = sum(\n        margin,\n")
    info = analyze_cursor(open_text(unclosed), gap)
    assert info.in_brackets and info.kind is CompletionKind.SINGLE_LINE


def test_indent_unit_comes_from_code_not_from_strings() -> None:
    text = stdlib("textwrap.py")
    in_regex = cursor_after(text, "# hyphenated word")
    assert in_regex.indent_unit == "    "  # the verbose regex's 2-space lines do not count
    two = "class A:\n  def f(self):\n    if self:\n      return 1\n"
    info = analyze_cursor(open_text(two), two.index("if self:") + len("if self:"))
    assert info.indent_unit == "  " and info.indent == "      "


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x = " + "([{" * 3000 + "\n", "nesting too deep"),  # flat ERROR, deep brackets
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nesting too deep"),
        ("x = " + "a + " * 3000 + "1\n", "line too long"),
        ("x = " + "[\n" * 3000 + "]\n" * 3000, "nesting too deep"),  # short lines, deep
    ],
)
def test_hostile_code_is_refused_quickly(text: str, reason: str) -> None:
    import time

    from ghostls.context import build_context
    from ghostls.syntax.scopes import enclosing_scopes

    snap = open_text(text)
    started = time.perf_counter()
    for offset in (len(text) // 2, len(text) - 1, len(text)):
        info = analyze_cursor(snap, offset)
        built = build_context(snap, offset)
        assert len(built.prompt.prefix) <= 1500 * 3.5
        if offset == len(text) // 2:
            assert info.kind is CompletionKind.NONE and not info.analyzable
            assert info.reason in (reason, "line too long")
            assert built.prompt.extra == ()
        assert [s.kind for s in enclosing_scopes(snap, offset)] == ["module"]
    # Generous: the quadratic walks this guards against took minutes on these inputs.
    assert time.perf_counter() - started < 20
