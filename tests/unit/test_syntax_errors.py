"""Syntax error messages, ranges and certain fixes on real code (textwrap.py) with mistakes."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from ghostls.syntax.errors import (
    SyntaxProblem,
    apply_fix,
    find_syntax_errors,
    python_parse,
)

REAL = Path(textwrap.__file__).read_text(encoding="utf-8")


def inject(old: str, new: str) -> str:
    assert REAL.count(old) == 1, f"not unique in textwrap.py: {old!r}"
    return REAL.replace(old, new)


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def only(problems: list[SyntaxProblem]) -> SyntaxProblem:
    assert len(problems) == 1, [p.message for p in problems]
    return problems[0]


def test_clean_code_has_no_syntax_errors() -> None:
    assert find_syntax_errors(REAL) == []


@pytest.mark.parametrize(
    ("old", "new", "message", "under"),
    [
        (
            "    for indent in indents:\n",
            "    for indent in indents\n",
            "expected ':' after the 'for' loop header",
            "s",  # an empty range gets the character before the missing ':'
        ),
        (
            "    def _split(self, text):\n",
            "    def _split(self, text)\n",
            "expected ':' after the function signature",
            ")",
        ),
        (
            "    text = _whitespace_only_re.sub('', text)\n",
            "    text = _whitespace_only_re.sub('', text\n",
            "unclosed '(' opened on line",
            "(",
        ),
        (
            "    indents = _leading_whitespace_re.findall(text)\n",
            "        indents = _leading_whitespace_re.findall(text)\n",
            "unexpected indent",
            "        ",
        ),
        (
            "            text = text.expandtabs(self.tabsize)\n",
            "            text = text.expandtabs(self.tabsize))\n",
            "unmatched ')'",
            ")",
        ),
        (
            "        chunks = [c for c in chunks if c]\n",
            "        chunks = [c for c in chunks if c)\n",
            "')' does not close the '['",
            ")",
        ),
    ],
)
def test_one_human_message_per_mistake_and_the_fix_restores_the_code(
    old: str, new: str, message: str, under: str
) -> None:
    broken = inject(old, new)
    problem = only(find_syntax_errors(broken))
    assert message in problem.message
    assert broken[problem.start : problem.end] == under
    # The range is on the line that was changed.
    changed_line = REAL[: REAL.index(old)].count("\n") + 1
    assert line_of(broken, problem.start) == changed_line
    assert problem.fix is not None and problem.fix.certain
    assert apply_fix(broken, problem.fix) == REAL


def test_unclosed_bracket_names_the_line_it_was_opened_on() -> None:
    broken = inject(
        "    text = _whitespace_only_re.sub('', text)\n",
        "    text = _whitespace_only_re.sub('', text\n",
    )
    problem = only(find_syntax_errors(broken))
    opened = line_of(broken, problem.start)
    assert problem.message.startswith(f"unclosed '(' opened on line {opened}")


def test_two_mistakes_give_two_problems_not_a_cascade() -> None:
    broken = inject("    for indent in indents:\n", "    for indent in indents\n")
    broken = broken.replace(
        "            chunks = self.wordsep_re.split(text)\n",
        "            chunks = self.wordsep_re.split(text\n",
    )
    problems = find_syntax_errors(broken)
    assert len(problems) == 2, [p.message for p in problems]
    first, second = problems
    assert first.message.startswith("unclosed '(' opened on line 173")
    assert second.message == "expected ':' after the 'for' loop header"
    assert line_of(broken, second.start) == 437
    # Both fixes are certain and together restore the file.
    assert first.fix is not None and second.fix is not None
    assert apply_fix(apply_fix(broken, second.fix), first.fix) == REAL


def test_missing_colon_fix_stays_certain_with_a_later_mistake() -> None:
    broken = inject("    for indent in indents:\n", "    for indent in indents\n")
    broken = broken.replace(
        "    return ''.join(prefixed_lines())\n", "    return ''.join(prefixed_lines()\n"
    )
    first, second = find_syntax_errors(broken)
    assert first.fix is not None and first.fix.certain
    assert "for indent in indents:" in apply_fix(broken, first.fix)
    assert second.message.startswith("unclosed '(' opened on line 485")


def test_colon_goes_before_a_comment() -> None:
    problem = only(find_syntax_errors("if ready  # wait\n    go()\n"))
    assert problem.fix is not None
    assert apply_fix("if ready  # wait\n    go()\n", problem.fix) == "if ready:  # wait\n    go()\n"


def test_dedent_to_no_block_offers_the_previous_level_as_uncertain() -> None:
    text = "def f(x):\n    a = 1\n  b = 2\n    return a\n"
    problem = only(find_syntax_errors(text))
    assert problem.kind == "bad-dedent"
    assert problem.fix is not None
    assert apply_fix(text, problem.fix) == "def f(x):\n    a = 1\n    b = 2\n    return a\n"


def test_expected_indented_block() -> None:
    problem = only(find_syntax_errors("def f(x):\nreturn x\n"))
    assert problem.message.startswith("expected an indented block after the function definition")
    assert problem.fix is not None and not problem.fix.certain  # the body may be missing instead
    assert apply_fix("def f(x):\nreturn x\n", problem.fix) == "def f(x):\n    return x\n"


def test_unterminated_string_fix() -> None:
    problem = only(find_syntax_errors("name = 'ghost\nprint(name)\n"))
    assert problem.kind == "unterminated-string"
    assert problem.fix is not None
    assert apply_fix("name = 'ghost\nprint(name)\n", problem.fix) == "name = 'ghost'\nprint(name)\n"


def test_offsets_are_code_points_with_non_ascii_text() -> None:
    text = "s = 'héllo wörld 🐍'; t = max(1, 2\n"
    problem = only(find_syntax_errors(text))
    assert text[problem.start] == "("
    assert problem.fix is not None
    ast.parse(apply_fix(text, problem.fix))


def test_bad_input_gives_a_problem_not_a_crash() -> None:
    assert find_syntax_errors("x = 1\0\n")[0].message == "the file contains a null byte"
    deep = "x = " + "(" * 300 + ")" * 300 + "\n"
    assert isinstance(find_syntax_errors(deep), list)
    assert find_syntax_errors("") == []


def test_parsing_never_executes_the_code(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    code = f"open({str(marker)!r}, 'w').write('x')\n"
    tree, error = python_parse(code)
    assert tree is not None and error is None
    assert find_syntax_errors(code + "def f(:\n") != []
    assert not marker.exists()
