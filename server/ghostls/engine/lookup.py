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
        self.last_match = 0  # n-gram length behind the latest draft (0: none)
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
        self.last_match = 0
        if limit <= 0:
            return []
        h = self.history
        for n in range(self.max_ngram, self.min_ngram - 1, -1):
            if len(h) < n:
                continue
            start = self._index.get(tuple(h[-n:]))
            if start is not None:
                self.last_match = n
                return h[start : start + limit]
        return []


class DraftPolicy:
    """Decides how many drafted tokens are worth verifying, from costs measured online.

    Verifying k drafted tokens adds k rows to a decode; each row needs the output layer's
    logits (on a 262k-vocabulary model that matmul is most of a decode step), so a rejected
    token is not free. With measured ``single_ms`` (a one-token step), ``row_ms`` (each extra
    row) and per-token acceptance ``alpha`` (by the length of the matched n-gram and whether
    the previous draft was taken whole, i.e. we are inside a repeated stretch; acceptance
    modelled as geometric), verifying k tokens saves ``single_ms * sum(alpha**i, i=1..k)`` and
    costs ``row_ms * k``; we pick the k with the largest positive gain, or none. An occasional
    one-token probe keeps ``alpha`` current when drafting has been switched off.
    """

    PROBE_EVERY = 24
    RATE = 0.1  # EMA weight of a new observation

    def __init__(self, max_draft: int = 8, *, always: bool = False) -> None:
        self.max_draft = max_draft
        self.always = always  # verify every draft in full (tests, benchmarks)
        self.single_ms = 0.0  # 0 until measured
        self.row_ms = 0.0
        self.alpha: dict[tuple[int, bool], float] = {}
        self._since_probe = 0

    def length(self, match: int, limit: int, streak: bool = False) -> int:
        limit = min(limit, self.max_draft)
        if match <= 0 or limit <= 0:
            return 0
        if self.always:
            return limit
        if self.single_ms <= 0:
            return 0
        alpha = self.alpha.get((match, streak), 0.6)
        row = self.row_ms if self.row_ms > 0 else 0.3 * self.single_ms
        best_k, best_gain, saved = 0, 0.0, 0.0
        for k in range(1, limit + 1):
            saved += alpha**k
            gain = self.single_ms * saved - row * k
            if gain > best_gain:
                best_k, best_gain = k, gain
        if best_k == 0:
            self._since_probe += 1
            if self._since_probe >= self.PROBE_EVERY:
                self._since_probe = 0
                return 1
        return best_k

    def _ema(self, old: float, new: float) -> float:
        return new if old <= 0 else old + self.RATE * (new - old)

    def record_step(self, batch: int, ms: float) -> None:
        if batch <= 1:
            self.single_ms = self._ema(self.single_ms, ms)
        elif self.single_ms > 0:
            extra = max(0.0, ms - self.single_ms) / (batch - 1)
            self.row_ms = self._ema(self.row_ms, extra)

    def record_draft(self, match: int, drafted: int, accepted: int, streak: bool = False) -> None:
        if drafted <= 0:
            return
        key = (match, streak)
        alpha = self.alpha.get(key, 0.6)
        outcomes = [1.0] * accepted + ([0.0] if accepted < drafted else [])
        for outcome in outcomes:
            alpha += self.RATE * (outcome - alpha)
        self.alpha[key] = alpha
