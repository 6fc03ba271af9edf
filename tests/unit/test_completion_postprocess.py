"""Post-processing of raw model text on crafted inputs."""

from __future__ import annotations

from ghostls.completion.lines import bracket_depth, indent_width
from ghostls.completion.postprocess import (
    FitContext,
    Steps,
    block_indent_for,
    fit,
    should_stop,
)


def single(before: str, after: str = "", **kw: object) -> FitContext:
    return FitContext(line_before=before, line_after=after, multiline=False, **kw)  # type: ignore[arg-type]


def multi(before: str, block_indent: int, **kw: object) -> FitContext:
    return FitContext(
        line_before=before,
        multiline=True,
        block_indent=block_indent,
        **kw,  # type: ignore[arg-type]
    )


def test_single_line_stops_at_newline_and_cuts_trailing_space() -> None:
    fitted = fit("return x + 1   \n    y = 2\n", single("    "))
    assert fitted is not None
    assert fitted.text == "return x + 1"
    assert not fitted.replaces_line_end


def test_single_line_at_end_of_finished_line_suggests_the_next_line() -> None:
    fitted = fit("\n    return total\n    more\n", single("    total = a + b"))
    assert fitted is not None
    assert fitted.text == "\n    return total"


def test_whitespace_only_is_no_suggestion() -> None:
    assert fit("   \n\n", single("    ")) is None
    assert fit("", single("x = ")) is None


def test_rest_of_line_is_absorbed_when_the_suggestion_covers_it() -> None:
    # The user has ")" after the cursor; the model wrote the arguments and the ")".
    fitted = fit("a, b)", single("    foo(", ")"))
    assert fitted is not None
    assert fitted.text == "a, b)"
    assert fitted.replaces_line_end


def test_partial_overlap_with_rest_of_line_keeps_the_users_text() -> None:
    # Line end is "):" and the model wrote only the ")": the ":" must not be lost.
    fitted = fit("x > 0)", single("    if check(", "):"))
    assert fitted is not None
    assert fitted.text == "x > 0):"
    assert fitted.replaces_line_end


def test_no_overlap_inserts_before_the_rest() -> None:
    fitted = fit("a, b", single("    foo(", ")"))
    assert fitted is not None
    assert (fitted.text, fitted.replaces_line_end) == ("a, b", False)


def test_suffix_overlap_step_can_be_switched_off() -> None:
    ctx = single("    foo(", ")", steps=Steps(suffix_overlap=False))
    fitted = fit("a, b)", ctx)
    assert fitted is not None
    assert (fitted.text, fitted.replaces_line_end) == ("a, b)", False)


def test_first_line_stops_where_the_suffix_resumes_with_balanced_brackets() -> None:
    ctx = single("    x = foo(", ")")
    assert should_stop("a, b)", ctx)
    assert not should_stop("bar(a)", ctx)  # this ")" closes bar(, not foo(
    assert should_stop("bar(a))", ctx)


def test_multiline_stops_at_dedent_below_the_block() -> None:
    raw = "\n        y = x * 2\n        return y\n    def other(self):\n        pass\n"
    fitted = fit(raw, multi("    def f(self, x):", 5))
    assert fitted is not None
    assert fitted.text == "\n        y = x * 2\n        return y"
    assert "block-end" in fitted.notes


def test_multiline_stops_at_blank_line_and_blank_runs() -> None:
    raw = "total = 0\n    for v in values:\n        total += v\n\n    print(total)\n"
    fitted = fit(raw, multi("    ", 4))
    assert fitted is not None
    assert fitted.text == "total = 0\n    for v in values:\n        total += v"
    no_blank = Steps(blank_line_stop=False)
    raw2 = "a = 1\n    b = 2\n\n    c = 3\n\n\n    d = 4\n"
    fitted2 = fit(raw2, multi("    ", 4, steps=no_blank))
    assert fitted2 is not None
    assert fitted2.text == "a = 1\n    b = 2\n\n    c = 3"


def test_multiline_stops_where_the_following_code_resumes() -> None:
    ctx = multi("    ", 4, next_lines=("    return result",))
    raw = "result = compute()\n    result.sort()\n    return result\n"
    fitted = fit(raw, ctx)
    assert fitted is not None
    assert fitted.text == "result = compute()\n    result.sort()"
    assert should_stop("result = compute()\n    return result\n", ctx)
    assert not should_stop("result = compute()\n    return res", ctx)


def test_repeated_lines_are_dropped() -> None:
    raw = "x += 1\n    x += 1\n    x += 1\n"
    fitted = fit(raw, multi("    ", 4))
    assert fitted is not None
    assert fitted.text == "x += 1"
    # A whole-line suggestion equal to the line above is the model looping.
    assert fit("self.count += 1\n", single("    ", previous_line="    self.count += 1")) is None
    kept = fit("self.count += 1\n", single("    ", previous_line="    self.count = 0"))
    assert kept is not None


def test_a_whole_line_that_retypes_the_next_line_is_dropped() -> None:
    ctx = single("    ", next_lines=("    return total",))
    assert fit("return total\n", ctx) is None
    assert fit("total += 1\n", ctx) is not None
    off = single("    ", next_lines=("    return total",), steps=Steps(suffix_resume=False))
    assert fit("return total\n", off) is not None


def test_partial_last_line_does_not_trigger_block_end() -> None:
    ctx = multi("    ", 4)
    assert not should_stop("x = 1\n  ", ctx)  # indentation not finished yet
    assert should_stop("x = 1\ny = 2\n", ctx)  # a complete dedented line


def test_block_indent_for_cursor_shapes() -> None:
    assert block_indent_for("        ", "") == 8
    assert block_indent_for("    if x:", "") == 5
    assert block_indent_for("    x = ", "") == 4


def test_steps_from_disabled_names() -> None:
    steps = Steps.from_disabled("repeats, syntax_check")
    assert not steps.repeats and not steps.syntax_check and steps.block_end


def test_line_helpers() -> None:
    assert indent_width("\t  x") == 10
    assert bracket_depth("foo(a, '(', [1") == 2
    assert bracket_depth('x = ")" # (') == 0
