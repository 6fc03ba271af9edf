"""Typed-through cache, prompt LRU and the syntax guard."""

from __future__ import annotations

from ghostls.completion.cache import LRU, Shown, TypedThroughCache
from ghostls.completion.syntax_check import SyntaxGuard, count_errors
from ghostls.documents import DocumentStore, Snapshot

URI = "file:///t.py"


def _shown(before: str, tail: str, text: str, replaced: int = 0) -> Shown:
    return Shown(before, tail, replaced, text, "g1", multiline=False)


def test_typing_through_a_suggestion_answers_the_rest() -> None:
    cache = TypedThroughCache()
    before, tail = "def f(x):\n    ", "\n"
    cache.remember(URI, _shown(before, tail, "return x + 1"))
    text = before + "ret" + tail
    hit = cache.lookup(URI, text, len(before) + 3)
    assert hit is not None
    assert hit.remaining == "urn x + 1"
    assert hit.typed == "ret"


def test_typing_something_else_misses() -> None:
    cache = TypedThroughCache()
    before, tail = "def f(x):\n    ", "\n"
    cache.remember(URI, _shown(before, tail, "return x + 1"))
    assert cache.lookup(URI, before + "pri" + tail, len(before) + 3) is None
    # Typed all of it: nothing left to show.
    full = before + "return x + 1" + tail
    assert cache.lookup(URI, full, len(before) + 12) is None
    # Text elsewhere changed: the cached suggestion may not fit any more.
    assert cache.lookup(URI, "# new\n" + before + "ret" + tail, len(before) + 9) is None
    assert cache.lookup("file:///other.py", before + "ret" + tail, len(before) + 3) is None


def test_same_position_again_is_a_hit_and_keeps_replaced_range() -> None:
    cache = TypedThroughCache()
    before, tail = "    foo(", ")\n"
    cache.remember(URI, _shown(before, tail, "a, b)", replaced=1))
    hit = cache.lookup(URI, before + tail, len(before))
    assert hit is not None and hit.remaining == "a, b)" and hit.replaced == 1
    forgotten = TypedThroughCache()
    forgotten.remember(URI, _shown(before, tail, "a, b)"))
    forgotten.forget(URI)
    assert forgotten.lookup(URI, before + tail, len(before)) is None


def test_lru_evicts_least_recently_used() -> None:
    lru: LRU[str, int] = LRU(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1
    lru.put("c", 3)
    assert lru.get("b") is None and lru.get("a") == 1 and lru.get("c") == 3
    assert len(lru) == 2


def test_syntax_guard_rejects_what_breaks_a_parsing_file() -> None:
    store = DocumentStore()
    text = "def f(x):\n    \n    return x\n"
    snap = store.open(URI, text, 1)
    guard = SyntaxGuard()
    assert guard.errors_before(snap) == 0
    cursor = text.index("    \n") + 4
    assert not guard.breaks(snap, cursor, cursor, "y = x + 1")
    assert guard.breaks(snap, cursor, cursor, "y = (x + ")
    kept, note = guard.longest_valid(snap, cursor, cursor, "y = 1\n    z = (", True)
    assert (kept, note) == ("y = 1", "syntax-shortened")
    assert guard.longest_valid(snap, cursor, cursor, "y = [", False) == (None, "syntax-rejected")


def test_syntax_guard_accepts_a_fix_in_a_broken_buffer() -> None:
    store = DocumentStore()
    text = "def f(x):\n    y = foo(\n"
    snap = store.open(URI, text, 1)
    guard = SyntaxGuard()
    before = count_errors(snap.tree.root_node)
    assert before > 0
    cursor = text.index("foo(") + 4
    assert not guard.breaks(snap, cursor, cursor, "x)")


def _guard_at(text: str, marker: str, past: int) -> tuple[Snapshot, SyntaxGuard, int]:
    """A snapshot of ``text``, a guard, and the offset ``past`` characters into ``marker``."""
    return DocumentStore().open(URI, text, 1), SyntaxGuard(), text.index(marker) + past


def test_syntax_guard_refuses_a_new_block_opener_without_a_body() -> None:
    # tree-sitter parses `if error:` + a same-level line as an empty block; CPython does not.
    snap, guard, cursor = _guard_at("def f(error):\n    x = 1\n    \n    return x\n", "    \n", 4)
    assert guard.breaks(snap, cursor, cursor, "if error:")
    assert guard.breaks(snap, cursor, cursor, "for item in x:")
    assert not guard.breaks(snap, cursor, cursor, "if error: return 2")
    assert not guard.breaks(snap, cursor, cursor, "if error:\n        return 2")
    assert not guard.breaks(snap, cursor, cursor, "# a comment")


def test_syntax_guard_lets_the_user_finish_a_block_opener_they_are_typing() -> None:
    text = "def f(error):\n    x = 1\n    if err\n    return x\n"
    snap, guard, cursor = _guard_at(text, "if err", len("if err"))
    assert not guard.breaks(snap, cursor, cursor, "or:")


def test_syntax_guard_asks_cpython_about_what_tree_sitter_recovers_from() -> None:
    # tree-sitter parses `x = TK.` before a line at the same indentation without an ERROR.
    snap, guard, cursor = _guard_at("def f(TK):\n    a = TK.A()\n    \n    a.pack()\n", "    \n", 4)
    assert guard.breaks(snap, cursor, cursor, "b = TK.B()\n    c = TK.")
    kept, note = guard.longest_valid(snap, cursor, cursor, "b = TK.B()\n    c = TK.", True)
    assert (kept, note) == ("b = TK.B()", "syntax-shortened")
    # A definition that did not parse before is judged by tree-sitter's count alone.
    broken = "def f(TK):\n    a = TK.A(\n    \n"
    snap, _, cursor = _guard_at(broken, "    \n", 4)
    assert not guard.cpython_breaks(snap, cursor, cursor, "b = 1")
