"""SegmentTokenizer with stand-in tokenizers: caching per line never changes the tokens."""

from __future__ import annotations

import re

from ghostls.engine.token_cache import SegmentTokenizer


def words_and_newlines(text: str) -> list[int]:
    """A tokenizer that never merges across a newline run (like Gemma's)."""
    return [hash(piece) % 1000 for piece in re.findall(r"\n+|[^\n\s]+|[ \t]+", text)]


def merges_newline_and_indent(text: str) -> list[int]:
    """A tokenizer with "\\n    " tokens (newline + indentation in one)."""
    return [hash(piece) % 1000 for piece in re.findall(r"\n[ \t]*|[^\n\s]+|[ \t]+", text)]


CODE = "def f(x):\n    y = 1\n\n\n    return y\n" * 20


def test_tokens_equal_whole_text_tokens_and_lines_are_reused() -> None:
    calls: list[str] = []

    def counting(text: str) -> list[int]:
        calls.append(text)
        return words_and_newlines(text)

    cache = SegmentTokenizer(counting)
    assert cache.enabled
    assert cache.tokenize(CODE) == words_and_newlines(CODE)
    assert cache.count(CODE) == len(words_and_newlines(CODE))
    first_misses = cache.misses
    calls.clear()
    edited = CODE + "    z = y + 1"
    assert cache.tokenize(edited) == words_and_newlines(edited)
    assert calls == ["    z = y + 1"]  # only the new line was tokenized
    assert cache.misses == first_misses + 1 and cache.hits > 0


def test_a_tokenizer_that_merges_across_lines_is_used_whole() -> None:
    calls: list[str] = []

    def counting(text: str) -> list[int]:
        calls.append(text)
        return merges_newline_and_indent(text)

    cache = SegmentTokenizer(counting)
    assert not cache.enabled
    calls.clear()
    assert cache.tokenize(CODE) == merges_newline_and_indent(CODE)
    assert calls == [CODE]
