"""names_needed_below on crafted buffers: which unbound reads below the cursor count."""

from __future__ import annotations

from ghostls.completion.needed_names import LOOK_AHEAD_ROWS, names_needed_below
from tests.unit.cursor_marker import CURSOR, snapshot_at_cursor


def needed(text: str) -> tuple[str, ...]:
    return names_needed_below(*snapshot_at_cursor(text))


def test_an_unbound_read_below_is_needed_nearest_first() -> None:
    text = f"def run(name):\n    {CURSOR}\n    print(saved, name)\n    return backup\n"
    assert needed(text) == ("saved", "backup")


def test_parameters_locals_builtins_and_module_names_are_not_needed() -> None:
    text = (
        "import os\n"
        "from json import loads\n"
        "LIMIT = 3\n"
        "for ITEM in range(2):\n"
        "    pass\n"
        "\n"
        "def helper():\n"
        "    return 1\n"
        "\n"
        "class Box:\n"
        "    pass\n"
        "\n"
        "def run(name):\n"
        "    total = 0\n"
        f"    {CURSOR}\n"
        "    return os, loads, LIMIT, ITEM, helper, Box, len, name, total, later\n"
        "\n"
        "later = 1\n"
    )
    assert needed(text) == ()


def test_reads_above_the_cursor_far_below_or_outside_the_function_do_not_count() -> None:
    far = "\n".join(["    x = 1"] * (LOOK_AHEAD_ROWS + 1))
    text = (
        "def run():\n"
        "    print(above)\n"
        f"    {CURSOR}\n"
        f"{far}\n"
        "    print(far_away)\n"
        "\n"
        "def other():\n"
        "    return elsewhere\n"
    )
    assert needed(text) == ()


def test_a_nested_function_sees_its_enclosing_locals() -> None:
    text = (
        "def outer():\n"
        "    value = 1\n"
        "    def inner():\n"
        f"        {CURSOR}\n"
        "        return value + missing\n"
        "    return inner\n"
    )
    assert needed(text) == ("missing",)


def test_a_method_in_an_indented_class_is_analysed() -> None:
    text = (
        "class Box:\n"
        "    size = 2\n"
        "    def grow(self):\n"
        f"        {CURSOR}\n"
        "        return self.size * factor\n"
    )
    assert needed(text) == ("factor",)


def test_no_answer_at_module_level_with_a_star_import_or_a_broken_function() -> None:
    assert needed(f"{CURSOR}\nprint(undefined_thing)\n") == ()
    star = f"from os import *\ndef run():\n    {CURSOR}\n    return getcwd()\n"
    assert needed(star) == ()
    broken = f"def run():\n    {CURSOR}\n    return (missing\n"
    assert needed(broken) == ()
