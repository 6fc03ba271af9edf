"""The context builder: windows at line boundaries, budgets, extra chunks, KV-cache stability."""

from __future__ import annotations

import itertools
import logging
import sysconfig
from pathlib import Path

import pytest

from ghostls.context import ContextBudget, build_context, estimate_tokens
from ghostls.documents import DocumentStore, Snapshot, TextEdit
from ghostls.engine.types import PromptParts
from ghostls.syntax.cursor import CompletionKind

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def stdlib_text(name: str) -> str:
    path = STDLIB / name
    if not path.exists():
        pytest.skip(f"{path} not on this machine")
    return path.read_text(encoding="utf-8")


def flat(prompt: PromptParts) -> str:
    """The prompt as a prefix-only engine lays it out: extra chunks first, then the prefix."""
    head = "".join(f"# {chunk.path}\n{chunk.text}\n\n" for chunk in prompt.extra)
    return head + prompt.prefix


def common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def test_windows_cut_at_line_boundaries_under_budget() -> None:
    text = stdlib_text("_pydecimal.py")
    snap = DocumentStore().open("file:///lib/_pydecimal.py", text, 1)
    budget = ContextBudget()
    offset = snap.offset_at(3000, 14)  # mid-line, inside Decimal.compare_total
    built = build_context(snap, offset, budget=budget)
    prompt, debug = built.prompt, built.debug
    start_row, row = debug["prefix_rows"]
    assert row == 3000 and start_row % budget.window_step_lines == 0
    prefix_start = snap.line_offsets[start_row]
    assert prompt.prefix == text[prefix_start:offset]
    assert prompt.suffix.endswith("\n")
    suffix_end = offset + len(prompt.suffix)
    assert suffix_end in snap.line_offsets  # the suffix ends where a line starts
    assert estimate_tokens(prompt.prefix) <= budget.prefix_tokens
    assert estimate_tokens(prompt.suffix) <= budget.suffix_budget
    # One more step of lines would not have fit: the window is as large as allowed.
    wider = text[snap.line_offsets[start_row - budget.window_step_lines] : prefix_start]
    room = budget.prefix_tokens - budget.current_line_reserve
    assert debug["prefix_tokens_above_line"] + estimate_tokens(wider) > room
    assert sum(estimate_tokens(c.text) for c in prompt.extra) <= budget.extra_budget + len(
        prompt.extra
    )
    assert prompt.path == "_pydecimal.py"
    assert built.cursor.row == 3000


def test_small_file_fits_whole_and_kind_is_reported() -> None:
    text = "import os\n\ndef f(path):\n    return os.path.join(path, 'x')\n\nf(\n"
    snap = DocumentStore().open("file:///small.py", text, 1)
    offset = text.index("f(\n") + 2
    built = build_context(snap, offset)
    assert built.prompt.prefix == text[:offset]
    assert built.prompt.suffix == text[offset:]
    assert built.prompt.extra == ()  # everything is already in the window
    assert built.cursor.in_arguments
    assert built.debug["cursor"]["kind"] == CompletionKind.SINGLE_LINE.value


def test_extras_bring_definitions_from_far_away_and_other_files() -> None:
    decimal = stdlib_text("_pydecimal.py")
    store = DocumentStore()
    snap = store.open("file:///lib/_pydecimal.py", decimal, 1)
    textwrap = store.open("file:///lib/textwrap.py", stdlib_text("textwrap.py"), 1)
    offset = snap.offset_at(3000, 0)
    built = build_context(snap, offset, [textwrap])
    (chunk,) = built.prompt.extra  # nothing used here lives in textwrap.py
    assert chunk.path == "_pydecimal.py"
    # Module constants defined ~3000 lines below, used just above the cursor.
    assert "_NegativeOne = Decimal(-1)" in chunk.text
    # The enclosing class header scrolled out of the window: it heads the methods shown.
    assert chunk.text.startswith("class Decimal(object):\n    def ")
    assert chunk.text.count("class Decimal(object):") == 1
    labels = [c["label"] for c in built.debug["chunks"]]
    assert "variable _NegativeOne" in labels and "scope" in labels

    user_text = (
        "from textwrap import dedent, TextWrapper\n\n"
        "def show(doc):\n    wrapper = TextWrapper(width=60)\n    return dedent(doc)\n"
    )
    user = store.open("file:///work/show.py", user_text, 1)
    built = build_context(user, len(user_text), [snap, textwrap])
    (chunk,) = built.prompt.extra
    assert chunk.path == "textwrap.py"
    assert chunk.text.startswith("class TextWrapper:")  # file order: the class comes first
    assert 'def dedent(text):\n    """Remove any common leading whitespace' in chunk.text


def test_extra_order_is_stable_and_texts_are_unique() -> None:
    store = DocumentStore()
    textwrap = store.open("file:///lib/textwrap.py", stdlib_text("textwrap.py"), 1)
    shlex = store.open("file:///lib/shlex.py", stdlib_text("shlex.py"), 1)
    text = "def go(s):\n    parts = split(s)\n    return dedent(quote(s)) + fill(s)\n"
    user = store.open("file:///u.py", text, 1)
    one = build_context(user, len(text), [textwrap, shlex]).prompt.extra
    two = build_context(user, len(text), [shlex, textwrap]).prompt.extra
    assert one == two  # the order of open files does not matter
    assert [c.path for c in one] == ["shlex.py", "textwrap.py"]
    lines = [line for c in one for line in c.text.splitlines() if line.startswith("def ")]
    assert len(lines) == len(set(lines))


def type_line(store: DocumentStore, snap: Snapshot, row: int, line: str) -> list[Snapshot]:
    """Type ``line`` into the empty line ``row`` one character per keystroke."""
    snaps = []
    for column, ch in enumerate(line):
        new = store.change(snap.uri, [TextEdit(row, column, row, column, ch)], snap.version + 1)
        assert new is not None
        snap = new
        snaps.append(snap)
    return snaps


def test_successive_keystrokes_share_the_prompt_but_the_current_line() -> None:
    text = stdlib_text("_pydecimal.py")
    store = DocumentStore()
    snap = store.open("file:///lib/_pydecimal.py", text, 1)
    row = 3000
    # Empty line row 3000 and retype real code there, keystroke by keystroke.
    snap = store.change(snap.uri, [TextEdit(row, 0, row, 10_000, "")], 2)
    assert snap is not None
    typed = "            result = self.compare(other, context=context)"
    snaps = type_line(store, snap, row, typed)
    prompts = [build_context(s, s.offset_at(row, len(s.line(row)))).prompt for s in snaps]
    full_reuse = 0
    starts = set()
    for before, after in itertools.pairwise(prompts):
        shared = common_prefix(flat(before), flat(after))
        line_start = len(flat(before)) - len(before.prefix.rsplit("\n", 1)[-1])
        if shared >= line_start:
            full_reuse += 1
        starts.add(after.prefix.split("\n", 1)[0])
    # At most the keystrokes that complete a new resolvable name may change the extras.
    assert full_reuse >= 0.9 * (len(prompts) - 1), full_reuse
    assert len(starts) == 1


def test_pressing_enter_moves_the_window_start_only_in_steps() -> None:
    text = stdlib_text("textwrap.py")
    store = DocumentStore()
    snap = store.open("file:///lib/textwrap.py", text, 1)
    budget = ContextBudget()
    room = budget.prefix_tokens - budget.current_line_reserve
    row = 300
    start_rows = []
    for i in range(70):
        typed = f"        padding_{i} = compute({i}, width)  # one more line of code\n"
        new = store.change(snap.uri, [TextEdit(row, 0, row, 0, typed)], snap.version + 1)
        assert new is not None
        snap = new
        row += 1
        built = build_context(snap, snap.offset_at(row, 0), budget=budget)
        start_rows.append(built.debug["prefix_rows"][0])
        assert room / 3 <= built.debug["prefix_tokens_above_line"] <= room
    assert all(r % budget.window_step_lines == 0 for r in start_rows)
    changes = sum(1 for a, b in itertools.pairwise(start_rows) if a != b)
    assert 1 <= changes <= 70 // budget.window_step_lines + 1


def test_custom_token_counter_and_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    text = stdlib_text("textwrap.py")
    snap = DocumentStore().open("file:///lib/textwrap.py", text, 1)
    calls: list[str] = []

    def words(chunk: str) -> int:
        calls.append(chunk)
        return len(chunk.split())

    offset = snap.offset_at(440, 8)
    with caplog.at_level(logging.DEBUG, logger="ghostls.context"):
        built = build_context(snap, offset, count_tokens=words)
    assert calls
    assert built.debug["prefix_tokens"] == len(built.prompt.prefix.split())
    assert built.debug["prefix_tokens"] <= ContextBudget().prefix_tokens
    assert any("context" in record.getMessage() for record in caplog.records)
    assert set(built.debug) >= {"prefix_rows", "suffix_rows", "chunks", "names", "ms", "reason"}


def test_tiny_budget_still_returns_the_current_line() -> None:
    text = stdlib_text("textwrap.py")
    snap = DocumentStore().open("file:///lib/textwrap.py", text, 1)
    offset = snap.offset_at(440, 12)
    built = build_context(snap, offset, budget=ContextBudget(max_tokens=20))
    assert built.prompt.prefix.endswith(snap.line(440)[:12])
    assert built.prompt.extra == ()


def test_self_attribute_brings_the_method_of_the_enclosing_class() -> None:
    text = stdlib_text("textwrap.py")
    snap = DocumentStore().open("file:///lib/textwrap.py", text, 1)
    anchor = 'return "\\n".join(self.wrap(text))'
    offset = text.index(anchor) + len(anchor)
    built = build_context(snap, offset, budget=ContextBudget(max_tokens=300, suffix_tokens=20))
    assert built.debug["prefix_rows"][0] > 347  # `def wrap(self, text):` is out of view
    (chunk,) = built.prompt.extra
    assert chunk.text.startswith("class TextWrapper:\n")
    assert "\n    def wrap(self, text):\n" in chunk.text
    assert "def wrap(text, width=70" not in chunk.text  # self.wrap is not the module function
    assert "method TextWrapper.wrap" in [c["label"] for c in built.debug["chunks"]]
