"""pyflakes findings: stable codes, ranges on the name, deterministic fixes."""

from __future__ import annotations

import ast

import pytest

from ghostls.diagnostics.checks import check_text
from ghostls.diagnostics.problems import Problem, apply_edits
from ghostls.diagnostics.quickfixes import closest, edit_distance


def problems(text: str, code: str) -> list[Problem]:
    return [p for p in check_text(text).problems if p.code == code]


def fixed(text: str, problem: Problem) -> str:
    assert problem.fix is not None, problem
    return apply_edits(text, problem.fix.edits)


@pytest.mark.parametrize(
    ("text", "code", "under"),
    [
        ("import os.path as p\n", "unused-import", "os.path as p"),
        ("from a import (b,\n    c)\nprint(b)\n", "unused-import", "c"),
        ("def f():\n    pass\ndef f():\n    pass\n", "redefined", "f"),
        (
            "def g():\n    try:\n        pass\n    except E as err:\n        pass\n",
            "unused-variable",
            "err",
        ),
        ("x = 1\nprint(f'{x}' f'plain', f'none')\n", "fstring-missing-placeholders", "f'none'"),
        ("def h():\n    return 1\nh(undefined_thing)\n", "undefined-name", "undefined_thing"),
        ("s = 'é'; print(nämé)\n", "undefined-name", "nämé"),
        ("__all__ = [\n    'here',\n    'gone',\n]\nhere = 1\n", "undefined-export", "'gone'"),
    ],
)
def test_range_points_at_the_name(text: str, code: str, under: str) -> None:
    (problem,) = problems(text, code)
    assert text[problem.start : problem.end] == under


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("import os; import sys\nprint(sys)\n", "import sys\nprint(sys)\n"),
        ("import sys; import os\nprint(sys)\n", "import sys\nprint(sys)\n"),
        ("import sys, os  # tools\nprint(sys)\n", "import sys  # tools\nprint(sys)\n"),
        (
            "try:\n    import os\nexcept ImportError:\n    pass\n",
            "try:\n    pass\nexcept ImportError:\n    pass\n",
        ),
        ("def f():\n    import os\n    return 1\n", "def f():\n    return 1\n"),
    ],
)
def test_unused_import_removal(text: str, expected: str) -> None:
    (problem,) = problems(text, "unused-import")
    assert fixed(text, problem) == expected
    ast.parse(expected)


def test_closest_name_respects_scope() -> None:
    text = "def a():\n    counter = 1\n    return counter\n\ndef b():\n    return countr\n"
    (problem,) = problems(text, "undefined-name")
    assert problem.fix is None  # 'counter' lives in another function


def test_class_names_are_not_suggested_inside_methods() -> None:
    text = "class C:\n    limit = 3\n    def m(self):\n        return limt\n"
    (problem,) = problems(text, "undefined-name")
    assert problem.fix is None


def test_builtins_are_suggested() -> None:
    text = "print(lenn([1]))\n"
    (problem,) = problems(text, "undefined-name")
    assert fixed(text, problem) == "print(len([1]))\n"


def test_edit_distance() -> None:
    assert edit_distance("value", "valeu", 2) == 1  # a swap counts once
    assert edit_distance("value", "values", 2) == 1
    assert edit_distance("abc", "xyz", 1) == 2  # stops past the limit
    assert closest("valeu", ["value", "valid"]) == "value"
    assert closest("aa3", ["aa1", "aa2"]) is None  # a tie is not a suggestion
    assert closest("ab", ["ac"]) is None  # too short to guess


def test_placeholder_fix_on_implicit_concatenation_is_not_guessed() -> None:
    text = "x = (f'a' f'b')\n"
    (problem,) = problems(text, "fstring-missing-placeholders")
    assert problem.fix is None


def test_names_are_not_checked_while_the_file_does_not_parse() -> None:
    result = check_text("import os\ndef f(:\n")
    assert not result.names_checked
    assert [p.code for p in result.problems] == ["syntax-error"]


def test_huge_files_give_up_politely() -> None:
    text = "x = 1\n" * 40_000
    result = check_text(text)
    assert not result.names_checked and "lines" in result.note


def test_crlf_files_keep_their_line_endings_in_fixes() -> None:
    text = "import os\r\nimport sys\r\nprint(sys)\r\ndef f(x)\r\n    return x\r\n"
    (syntax,) = check_text(text).problems
    repaired = fixed(text, syntax)
    assert repaired == "import os\r\nimport sys\r\nprint(sys)\r\ndef f(x):\r\n    return x\r\n"
    (unused,) = problems(repaired, "unused-import")
    assert fixed(repaired, unused) == "import sys\r\nprint(sys)\r\ndef f(x):\r\n    return x\r\n"
