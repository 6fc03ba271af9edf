"""Prompt-lookup drafting: guess the next tokens by finding the last n-gram earlier in the text.

Code repeats itself (names, argument lists, parallel branches), so the tokens that followed
the previous occurrence of the last few tokens are a cheap, often right, guess. The decoder
verifies a draft in one batched decode and keeps only what greedy decoding would have produced,
so a wrong draft costs one slightly larger batch and never changes the output.
"""

from __future__ import annotations

from collections.abc import Iterable


class PromptLookup:
    """An index from n-grams to the end of their latest occurrence that has a continuation."""

    def __init__(
        self,
        tokens: Iterable[int] = (),
        *,
        min_ngram: int = 2,
        max_ngram: int = 4,
        max_draft: int = 8,
    ) -> None:
        self.min_ngram = min_ngram
        self.max_ngram = max_ngram
        self.max_draft = max_draft
        self.history: list[int] = []
        self._index: dict[tuple[int, ...], int] = {}
        for token in tokens:
            self.append(token)

    def append(self, token: int) -> None:
        h = self.history
        p = len(h)
        # The n-grams ending just before `token` now have a continuation: remember where.
        for n in range(self.min_ngram, self.max_ngram + 1):
            if p >= n:
                self._index[tuple(h[p - n : p])] = p
        h.append(token)

    def extend(self, tokens: Iterable[int]) -> None:
        for token in tokens:
            self.append(token)

    def draft(self, limit: int | None = None) -> list[int]:
        """Tokens that followed the longest matching recent n-gram (empty when none)."""
        limit = self.max_draft if limit is None else min(limit, self.max_draft)
        if limit <= 0:
            return []
        h = self.history
        for n in range(self.max_ngram, self.min_ngram - 1, -1):
            if len(h) < n:
                continue
            start = self._index.get(tuple(h[-n:]))
            if start is not None:
                return h[start : start + limit]
        return []
