"""The decode loop: KV-prefix reuse, greedy decoding, stops, budget, prompt-lookup drafts.

Runs on the model's worker thread only. ``Decoder.evaluated`` always lists exactly the tokens
held in the KV cache (positions 0..n-1), so the next prompt re-evaluates only from the first
token that differs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ghostls.engine.llama_model import LlamaModel
from ghostls.engine.lookup import DraftPolicy, PromptLookup
from ghostls.engine.types import Candidate, GenerationResult, GenerationStats

# Prompt tokens per llama_decode call: a superseded request's prompt evaluation stops at the
# next chunk (a 512-token chunk held the worker 1.1-2.0 s while newer keystrokes queued; the
# latency replay). Measured here: 64-token chunks cost the same per token as 512 (3.6-4.0 ms).
PROMPT_CHUNK = 64

# Returns the reason to stop ("cancelled", "superseded") or None to go on.
AbortCheck = Callable[[], "str | None"]


def _log_softmax_at(row: npt.NDArray[np.float32], token: int) -> float:
    peak = float(row.max())
    return float(row[token]) - peak - math.log(float(np.exp(row - peak).sum()))


def _without(row: npt.NDArray[np.float32], ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    """``row`` with ``ids`` made impossible, unless that leaves nothing possible."""
    masked = row.copy()
    masked[ids] = -np.inf
    return masked if np.isfinite(masked).any() else row


def common_prefix_length(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    # numpy compares thousands of ids far faster than a Python loop.
    diff = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(diff[0]) if diff.size else n


@dataclass
class DecodeJob:
    prompt: list[int]
    max_tokens: int
    stop: tuple[str, ...] = ()
    should_stop: Callable[[str], bool] | None = None
    deadline: float = math.inf  # time.perf_counter() value
    abort: AbortCheck = lambda: None
    stats: GenerationStats = field(default_factory=GenerationStats)
    # Token healing: the bytes of the prompt's last token, taken off the prompt; the first
    # generated token must start with them, and they are not part of the returned text.
    heal: bytes = b""
    # Tokens the text may not open with: masked out until the text has a non-blank character
    # (the caller knows a comment or a block opener would be refused there).
    avoid_first: npt.NDArray[np.int64] | None = None
    generation_cpu_ms: float = 0.0  # this thread's CPU time while generating (benchmarks)


class _Emitter:
    """Collects generated tokens and text; decides when a stop condition is reached."""

    def __init__(self, model: LlamaModel, stop_ids: frozenset[int], job: DecodeJob) -> None:
        self._model = model
        self._stop_ids = stop_ids
        self._job = job
        self.tokens: list[int] = []
        self._skip = len(job.heal)
        self._bytes = bytearray()
        self.text = ""
        self._longest_stop = max((len(s) for s in job.stop), default=0)

    def push(self, token: int) -> str | None:
        model, job = self._model, self._job
        if token in self._stop_ids or model.is_eog(token):
            return "stop"
        self.tokens.append(token)
        before = len(self.text)
        self._bytes += model.piece(token)
        # A multi-byte character may be split across tokens: hold back an incomplete tail.
        self.text = self._bytes[self._skip :].decode("utf-8", errors="ignore")
        if job.stop:
            start = max(0, before - self._longest_stop)
            cut = min(
                (i for i in (self.text.find(s, start) for s in job.stop if s) if i >= 0),
                default=-1,
            )
            if cut >= 0:
                self.text = self.text[:cut]
                return "stop"
        if job.should_stop is not None:
            try:
                if job.should_stop(self.text):
                    return "stop"
            except Exception:  # a caller's predicate must not kill the worker
                return "stop"
        if len(self.tokens) >= job.max_tokens:
            return "length"
        return None


class Decoder:
    def __init__(self, model: LlamaModel, *, prompt_lookup: bool = True, max_draft: int = 8):
        self.model = model
        self.prompt_lookup = prompt_lookup
        self.max_draft = max_draft
        self.evaluated: list[int] = []
        # The last prompt and the logits row of its last position: a prompt the KV cache
        # already holds (token healing often gives the same one for the next keystroke) then
        # needs no evaluation at all, where re-evaluating its last token costs a decode step.
        self._last_prompt: list[int] = []
        self._last_row: npt.NDArray[np.float32] | None = None
        self.policy = DraftPolicy(max_draft)  # kept across requests: costs change slowly
        fim = model.fim
        self.stop_ids = frozenset(
            t for t in (fim.pre, fim.suf, fim.mid, fim.pad, fim.rep, fim.sep) if t >= 0
        )

    # -- KV cache ---------------------------------------------------------------------------

    def reset(self) -> None:
        self.model.clear()
        self.evaluated = []
        self._last_prompt, self._last_row = [], None

    def _truncate(self, n: int) -> None:
        if n < len(self.evaluated):
            try:
                self.model.remove_from(n)
                del self.evaluated[n:]
            except Exception:
                self.evaluated = []  # remove_from cleared everything
                raise

    def _sync(
        self,
        tokens: list[int],
        first_output: int,
        on_row: Callable[[int, npt.NDArray[np.float32]], None],
        job: DecodeJob,
    ) -> bool:
        """Make the cache hold ``tokens``, calling ``on_row`` for positions >= first_output.
        Returns False when aborted midway."""
        keep = min(common_prefix_length(self.evaluated, tokens), first_output)
        if keep < len(self.evaluated):
            try:
                self._truncate(keep)
            except Exception:
                keep = 0
        todo = tokens[keep:]
        job.stats.reused_tokens = keep
        done = self.model.decode(
            todo,
            keep,
            outputs=range(first_output - keep, len(todo)),
            on_row=lambda i, row: on_row(keep + i, row),
            should_abort=lambda: job.abort() is not None,
            chunk=PROMPT_CHUNK,
        )
        self.evaluated.extend(todo[:done])
        job.stats.evaluated_tokens = done
        return done == len(todo)

    # -- generation -------------------------------------------------------------------------

    def generate(
        self, job: DecodeJob, n_candidates: int = 1, first_rank: int = 0
    ) -> GenerationResult:
        stats = job.stats
        prompt = job.prompt
        stats.prompt_tokens = len(prompt)
        if not prompt:
            return GenerationResult("", stats, "error")
        t0 = time.perf_counter()
        row = self._held_row(prompt, job)
        if row is None:
            holder: dict[str, npt.NDArray[np.float32]] = {}

            def keep_row(_i: int, row: npt.NDArray[np.float32]) -> None:
                holder["row"] = row.copy()

            finished = self._sync(prompt, len(prompt) - 1, keep_row, job)
            stats.prompt_ms = (time.perf_counter() - t0) * 1000
            if not finished or "row" not in holder:
                return GenerationResult("", stats, job.abort() or "cancelled")
            row = holder["row"]
            self._last_prompt, self._last_row = list(prompt), row
        else:
            stats.prompt_ms = (time.perf_counter() - t0) * 1000
        t1, c1 = time.perf_counter(), time.thread_time()
        allowed = self.model.tokens_with_prefix(job.heal) if job.heal else None
        if allowed is not None and allowed.size:  # (the engine heals only when it is)
            # Only tokens that re-spell the removed last token may come first.
            masked = np.full_like(row, -np.inf)
            masked[allowed] = row[allowed]
            peak = float(row.max())
            lse = peak + math.log(float(np.exp(row - peak).sum()))
            row = masked  # candidates' log-probabilities still use the full normaliser
        else:
            lse = None
        if job.avoid_first is not None and job.avoid_first.size:
            if lse is None:  # candidates' log-probabilities use the full normaliser
                peak = float(row.max())
                lse = peak + math.log(float(np.exp(row - peak).sum()))
            row = _without(row, job.avoid_first)
        try:
            if n_candidates <= 1 and first_rank <= 0:
                first = int(row.argmax())
                text, reason, _ = self._greedy(first, 0.0, job, track_logprob=False)
                return GenerationResult(text, stats, reason)
            return self._candidates(row, n_candidates, job, lse, first_rank)
        finally:
            stats.generation_ms = (time.perf_counter() - t1) * 1000
            job.generation_cpu_ms = (time.thread_time() - c1) * 1000

    def _held_row(self, prompt: list[int], job: DecodeJob) -> npt.NDArray[np.float32] | None:
        """The kept row when ``prompt`` is the last prompt and still in the KV cache."""
        row = self._last_row
        if row is None or self._last_prompt != prompt:
            return None
        if common_prefix_length(self.evaluated, prompt) < len(prompt):
            return None
        self._truncate(len(prompt))  # drop the last generation's tokens
        job.stats.reused_tokens = len(prompt)
        job.stats.evaluated_tokens = 0
        return row

    def _candidates(
        self,
        row: npt.NDArray[np.float32],
        n: int,
        job: DecodeJob,
        lse: float | None = None,
        first_rank: int = 0,
    ) -> GenerationResult:
        if lse is None:  # without healing, the row is the whole distribution
            peak = float(row.max())
            lse = peak + math.log(float(np.exp(row - peak).sum()))
        finite = int(np.isfinite(row).sum())
        first_rank = max(0, min(first_rank, finite - 1))
        n = min(n, finite - first_rank)
        wanted = first_rank + n
        top = np.argpartition(-row, wanted - 1)[:wanted]
        top = top[np.argsort(-row[top])][first_rank:]
        prompt_len = len(job.prompt)
        found: list[Candidate] = []
        first_text, first_reason = "", "stop"
        generated = 0
        for rank, tok in enumerate(int(t) for t in top):
            if rank and (job.abort() is not None or time.perf_counter() >= job.deadline):
                break
            self._truncate(prompt_len)  # each branch starts right after the prompt
            text, reason, logprob = self._greedy(
                tok, float(row[tok]) - lse, job, track_logprob=True
            )
            generated += job.stats.generated_tokens
            if rank == 0:
                first_text, first_reason = text, reason
            if reason in ("cancelled", "superseded", "error"):
                if rank == 0:
                    return GenerationResult(text, job.stats, reason)
                break
            found.append(Candidate(text, logprob, first_rank + rank))
        job.stats.generated_tokens = generated
        found.sort(key=lambda c: c.logprob, reverse=True)
        return GenerationResult(first_text, job.stats, first_reason, tuple(found))

    def _greedy(
        self, first: int, first_logprob: float, job: DecodeJob, *, track_logprob: bool
    ) -> tuple[str, str, float]:
        """Emit ``first`` and continue greedily. Returns (text, stop_reason, sum logprob)."""
        model, stats = self.model, job.stats
        emitter = _Emitter(model, self.stop_ids, job)
        # The lookup history always ends with next_tok: drafts continue after it.
        lookup = (
            PromptLookup([*self.evaluated, first], max_draft=self.max_draft)
            if self.prompt_lookup
            else None
        )
        pos = len(self.evaluated)
        next_tok, next_lp = first, first_logprob
        total_lp = 0.0
        reason: str | None = None
        policy = self.policy
        streak = False  # the previous draft was accepted whole
        clock = time.perf_counter
        preds: list[int] = []  # greedy choice after each token of the verified batch
        lps: list[float] = []

        avoid = job.avoid_first if job.avoid_first is not None and job.avoid_first.size else None
        opening = avoid is not None  # no non-blank text yet: ``avoid`` still applies

        def on_row(_i: int, row: npt.NDArray[np.float32]) -> None:
            best = int((_without(row, avoid) if opening and avoid is not None else row).argmax())
            preds.append(best)
            if track_logprob:
                lps.append(_log_softmax_at(row, best))

        while True:
            before = len(emitter.tokens)
            reason = emitter.push(next_tok)
            if len(emitter.tokens) > before:
                total_lp += next_lp
            if reason is not None:
                break
            opening = opening and not emitter.text.strip()
            reason = job.abort()
            if reason is not None:
                break
            if time.perf_counter() >= job.deadline:
                reason = "budget"
                break
            if pos + 1 >= model.n_ctx:
                reason = "length"
                break
            remaining = job.max_tokens - len(emitter.tokens)
            room = model.n_ctx - pos - 1
            draft: list[int] = []
            match = 0
            if lookup is not None and not opening:  # (one token at a time while opening)
                candidate = lookup.draft(min(remaining - 1, room))
                match = lookup.last_match
                draft = candidate[: policy.length(match, len(candidate), streak)]
            batch = [next_tok, *draft]
            preds.clear()
            lps.clear()
            started = clock()
            model.decode(batch, pos, outputs=range(len(batch)), on_row=on_row)
            policy.record_step(len(batch), (clock() - started) * 1000)
            accepted = 0
            while accepted < len(draft) and preds[accepted] == draft[accepted]:
                accepted += 1
            kept = batch[: accepted + 1]
            self.evaluated.extend(batch)
            if accepted < len(draft):
                self._truncate(pos + accepted + 1)  # roll back the rejected draft tail
            if lookup is not None:
                lookup.extend([*draft[:accepted], preds[accepted]])
            pos += len(kept)
            stats.draft_tokens += len(draft)
            stats.accepted_draft_tokens += accepted
            policy.record_draft(match, len(draft), accepted, streak)
            if draft:
                streak = accepted == len(draft)
            for k in range(accepted):
                before = len(emitter.tokens)
                reason = emitter.push(draft[k])
                if track_logprob and len(emitter.tokens) > before:
                    total_lp += lps[k]
                if reason is not None:
                    break
            if reason is not None:
                break
            next_tok = preds[accepted]
            next_lp = lps[accepted] if track_logprob else 0.0
        stats.generated_tokens = len(emitter.tokens)
        return emitter.text, reason, total_lp

    # -- scoring ----------------------------------------------------------------------------

    def score(self, prompt: list[int], continuation: list[int], job: DecodeJob) -> float:
        """Sum of log-probabilities of ``continuation`` after ``prompt``."""
        if not prompt or not continuation:
            return 0.0
        tokens = prompt + continuation
        total = [0.0]

        def add(i: int, row: npt.NDArray[np.float32]) -> None:
            # Row for tokens[i] predicts tokens[i + 1].
            total[0] += _log_softmax_at(row, tokens[i + 1])

        self._sync(tokens[:-1], len(prompt) - 1, add, job)
        return total[0]
