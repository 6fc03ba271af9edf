"""The per-request completion pipeline, shared by inline completion and the completion fallback.

snapshot -> typed-through cache -> debounce -> cursor kind -> context -> prompt LRU / engine
(with an early stop) -> post-processing -> syntax guard -> caches -> :class:`Suggestion`.

A newer request for the same document supersedes the running one: its cancel token is set (the
engine's decode loop stops) and its answer is empty. After every wait the document must still
be open at the same version, or the answer is empty too - never stale text.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ghostls.completion.cache import LRU, Shown, TypedThroughCache
from ghostls.completion.policy import (
    SINGLE_LINE_MAX_TOKENS,
    choose_multiline,
    fit_context,
    openers_to_avoid,
    stop_strings,
)
from ghostls.completion.postprocess import FitContext, Fitted, Steps, fit, should_stop
from ghostls.completion.syntax_check import SyntaxGuard
from ghostls.documents import Snapshot
from ghostls.engine.types import (
    CancelToken,
    EngineState,
    GenerationRequest,
    GenerationResult,
    PromptParts,
)

if TYPE_CHECKING:
    from ghostls.app import GhostServer

log = logging.getLogger(__name__)
T = TypeVar("T")

SERVICE_KEY = "completion"
# Benchmarks switch steps off with e.g. GHOSTLS_COMPLETION_DISABLE=suffix_resume,syntax_check.
DISABLE_ENV = "GHOSTLS_COMPLETION_DISABLE"
BUDGET_ENV = "GHOSTLS_CONTEXT_BUDGET"
EXTRA_ENV = "GHOSTLS_CONTEXT_EXTRA"  # "0": no extra chunks (benchmark ablation)
DEFAULT_CONTEXT_BUDGET = 1500  # prompt tokens; the first request in a file pays for all of them
PREFIX_ONLY_CONTEXT_BUDGET = 2000  # no suffix in the prompt: the prefix gets it
PREFIX_ONLY_SHARE = 0.85
# A refused greedy suggestion: how many next-likeliest first tokens to try, and the time that
# must be left of the request's budget to try one more (each costs about a line of decoding).
ALTERNATIVES = 3
MIN_ALTERNATIVE_MS = 200
# Hostile buffers (a 1 MB line, brackets nested 10,000 deep) make the cursor analysis crawl
# on the event loop; past these limits no completion is offered (issue 10).
MAX_CURSOR_LINE_CHARS = 20_000
MAX_CURSOR_DEPTH = 1_000


@dataclass
class Suggestion:
    item_id: str
    text: str
    start: int  # code-point offsets of the replaced range in ``snapshot``
    end: int
    snapshot: Snapshot
    source: str  # model | lru | typed-through
    multiline: bool


@dataclass
class _Request:
    """Bookkeeping for one request: what it did and how long it took."""

    id: str
    uri: str
    version: int
    started: float = field(default_factory=time.perf_counter)
    outcome: str = "pending"  # shown | empty | superseded | stale | not-ready | ...
    source: str = ""
    kind: str = ""
    notes: list[str] = field(default_factory=list)
    engine: dict[str, Any] = field(default_factory=dict)
    latency_ms: float = 0.0
    raw: str = ""  # the model's text before post-processing (benchmarks, bug reports)
    overtaken: asyncio.Event | None = None  # set when a newer request for the document arrives
    text: str = ""  # what was shown

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uri": self.uri,
            "version": self.version,
            "outcome": self.outcome,
            "source": self.source,
            "kind": self.kind,
            "notes": list(self.notes),
            "engine": dict(self.engine),
            "latency_ms": round(self.latency_ms, 2),
            "raw": self.raw,
            "text": self.text,
        }


@dataclass(frozen=True)
class _Answer:
    """A model answer kept in the prompt LRU."""

    text: str
    stop_reason: str


@dataclass
class _InFlight:
    """A running generation, anchored where its request's cursor was.

    A newer request whose document is the same text plus characters typed at the anchor that
    agree with what the model has produced so far adopts it instead of starting over.
    """

    owner: str  # id of the request that started it
    before: str  # document text before the anchor
    tail: str  # document text after the anchor
    token: CancelToken
    task: asyncio.Future[GenerationResult]
    partial: str = ""  # text generated so far (updated from the engine's should_stop calls)
    adopted: bool = False
    must_start_with: str = ""  # what the newest adopter typed: a generation that disagrees stops
    head: str = ""  # text an earlier, interrupted generation already produced (resumed)


class Superseded(Exception):
    """A newer request for the document (or a newer version of it) took over."""


class CompletionService:
    def __init__(self, server: GhostServer) -> None:
        self.server = server
        self.typed = TypedThroughCache()
        self.answers: LRU[tuple[Any, ...], _Answer] = LRU(128)
        # Text generated for a prompt before the time budget or a newer request cut it short;
        # the next request with that prompt continues from it instead of starting over.
        self.partials: LRU[tuple[Any, ...], str] = LRU(32)
        # Alternative lines for a prompt whose greedy suggestion was refused, by first-token rank.
        self.alternatives: LRU[tuple[Any, ...], str] = LRU(64)
        self.guard = SyntaxGuard()
        self._ids = itertools.count(1)
        self._latest: dict[str, str] = {}  # uri -> id of the newest request
        # uri -> set when a newer request arrives: the older one stops waiting and answers empty.
        self._overtaken: dict[str, asyncio.Event] = {}
        self._inflight: dict[str, _InFlight] = {}
        self.recent: deque[dict[str, Any]] = deque(maxlen=512)
        self.latencies: deque[float] = deque(maxlen=2000)
        self.shown_items: dict[str, int] = {}  # item id -> suggestion length (for feedback)
        self.totals: dict[str, float] = {
            "generations": 0,
            "typed_through_hits": 0,
            "in_flight_adopted": 0,
            "resumed": 0,
            "lru_hits": 0,
            "alternative_generations": 0,
            "alternatives_shown": 0,
            "definitions_shown": 0,
            "superseded": 0,
            "syntax_rejected": 0,
            "syntax_shortened": 0,
            "prompt_tokens": 0,
            "evaluated_tokens": 0,
            "reused_tokens": 0,
            "generated_tokens": 0,
            "accepted_chars": 0,
        }
        server.close_listeners.append(self._on_close)
        server.settings_listeners.append(self._on_settings)

    # -- listeners ------------------------------------------------------------------------

    def _on_close(self, uri: str) -> None:
        self.typed.forget(uri)
        self._stop_inflight(uri, "closed")
        self._latest.pop(uri, None)

    def _on_settings(self, old: Any, new: Any) -> None:
        if old.model != new.model or old.backend != new.backend:
            self.answers.clear()
            self.typed.clear()

    # -- the pipeline ---------------------------------------------------------------------

    @staticmethod
    def steps() -> Steps:
        return Steps.from_disabled(os.environ.get(DISABLE_ENV, ""))

    async def suggest(self, uri: str, line: int, character: int) -> Suggestion | None:
        """The suggestion at a position, or None (disabled, not ready, superseded, nothing)."""
        snapshot = self.server.documents.get(uri)
        request = _Request(f"g{next(self._ids)}", uri, snapshot.version if snapshot else -1)
        counters = self.server.counters
        counters.completions_requested += 1
        try:
            suggestion = await self._run(request, snapshot, line, character)
        except Superseded as why:
            request.outcome = str(why) or "superseded"
            self.totals["superseded"] += request.outcome == "superseded"
            suggestion = None
        except asyncio.CancelledError:
            request.outcome = "cancelled"
            self._close(request)
            raise
        except Exception:
            # One failing feature must not take the editor's typing down: log, answer nothing.
            log.exception("completion failed for %s", uri)
            request.outcome = "error"
            suggestion = None
        if suggestion is None:
            if request.outcome == "pending":
                request.outcome = "empty"
            self._close(request)
            return None
        request.outcome = "shown"
        request.text = suggestion.text
        self._close(request)
        self.latencies.append(request.latency_ms)
        counters.last_latency_ms = round(request.latency_ms, 2)
        counters.completions_shown += 1
        if suggestion.source != "model":
            counters.completions_from_cache += 1
        self.shown_items[suggestion.item_id] = len(suggestion.text)
        if len(self.shown_items) > 512:
            self.shown_items.pop(next(iter(self.shown_items)))
        return suggestion

    def _close(self, request: _Request) -> None:
        request.latency_ms = (time.perf_counter() - request.started) * 1000
        self.recent.append(request.as_dict())

    def _check_current(self, request: _Request, snapshot: Snapshot) -> None:
        if self._latest.get(request.uri) != request.id:
            raise Superseded("superseded")
        now = self.server.documents.get(request.uri)
        if now is None or now.version != snapshot.version:
            raise Superseded("stale")

    async def _run(
        self, request: _Request, snapshot: Snapshot | None, line: int, character: int
    ) -> Suggestion | None:
        settings = self.server.settings.completion
        if not settings.enable:
            request.outcome = "disabled"
            return None
        if snapshot is None:
            request.outcome = "no-document"
            return None
        uri = snapshot.uri
        self._latest[uri] = request.id  # any older request for the document is superseded
        previous = self._overtaken.get(uri)
        if previous is not None:
            previous.set()
        request.overtaken = self._overtaken[uri] = asyncio.Event()
        offset = snapshot.offset_at(line, character)
        hostile = _hostile_cursor(snapshot, line, offset)
        if hostile:
            log.info("no completion in %s: %s", uri, hostile)
            request.outcome = "hostile-buffer"
            return None

        through = self.typed.lookup(uri, snapshot.text, offset)
        if through is not None:
            self._stop_inflight(uri, "superseded")
            self.totals["typed_through_hits"] += 1
            request.source = "typed-through"
            return Suggestion(
                through.shown.item_id,
                through.remaining,
                offset,
                offset + through.replaced,
                snapshot,
                "typed-through",
                through.shown.multiline,
            )
        flight = self._inflight.get(uri)
        typed = self._adoptable(flight, snapshot.text, offset) if flight else None
        if typed is None:
            # Cancel-previous: the running generation for this document stops now.
            self._stop_inflight(uri, "superseded")
        if typed is None and settings.debounceMs > 0:  # adopting costs no model work: no wait
            await self._wait(
                request, asyncio.ensure_future(asyncio.sleep(settings.debounceMs / 1000))
            )
            self._check_current(request, snapshot)

        engine = self.server.services.get("engine")
        if engine is None or engine.state != EngineState.READY:
            request.outcome = "not-ready"
            return None

        from ghostls.syntax.cursor import analyze_cursor

        cursor = analyze_cursor(snapshot, offset)
        request.kind = f"{cursor.kind.name.lower()}:{cursor.reason}"
        steps = self.steps()
        multiline = choose_multiline(cursor, settings.multiline, steps)
        if multiline is None:
            request.outcome = "kind-none"
            return None
        ctx = fit_context(snapshot, offset, cursor, multiline, steps)
        if flight is not None and typed is not None:
            adopted = await self._adopt(request, flight, typed)
            self._check_current(request, snapshot)
            if adopted is not None:
                return self._finish(request, snapshot, offset, ctx, adopted)
            # The model went elsewhere than the user typed: start afresh.
            self._stop_inflight(uri, "superseded")
        prompt = self._prompt(snapshot, offset, engine, settings.maxTokens)
        max_tokens = (
            settings.maxTokens if multiline else min(settings.maxTokens, SINGLE_LINE_MAX_TOKENS)
        )
        head = self._definition_head(snapshot, offset, ctx)
        if head:
            defined = await self._answer(
                request, snapshot, offset, engine, prompt, ctx, max_tokens, forced=head
            )
            if defined is not None:
                self._check_current(request, snapshot)
                suggestion = self._finish(request, snapshot, offset, ctx, defined)
                if suggestion is not None:
                    request.notes.append(f"defines:{head}")
                    self.totals["definitions_shown"] += 1
                    return suggestion
        answer = await self._answer(request, snapshot, offset, engine, prompt, ctx, max_tokens)
        if answer is None:
            return None
        self._check_current(request, snapshot)
        suggestion = self._finish(request, snapshot, offset, ctx, answer)
        # An empty answer is the model's verdict that nothing belongs here: no second guess.
        if suggestion is None and answer.stop_reason in ("stop", "length") and answer.text.strip():
            suggestion = await self._alternative(
                request, snapshot, offset, engine, prompt, ctx, max_tokens
            )
        return suggestion

    @staticmethod
    def _definition_head(snapshot: Snapshot, offset: int, ctx: FitContext) -> str:
        """``name =`` when the cursor's line is blank and code below reads an unbound name;
        ``self.x =`` in an ``__init__`` whose class reads ``self.x`` but never assigns it."""
        if ctx.line_before.strip() or ctx.line_after.strip():
            return ""
        from ghostls.completion.needed_attributes import attributes_needed_by_class
        from ghostls.completion.needed_names import names_needed_below

        names = names_needed_below(snapshot, offset) if ctx.steps.needed_names else ()
        if not names and ctx.steps.needed_attributes:
            names = attributes_needed_by_class(snapshot, offset)
        return f"{names[0]} =" if names else ""

    async def _alternative(
        self,
        request: _Request,
        snapshot: Snapshot,
        offset: int,
        engine: Any,
        prompt: PromptParts,
        ctx: FitContext,
        max_tokens: int,
    ) -> Suggestion | None:
        """The line of the next likeliest first token, when the greedy one was refused.

        A refused suggestion (it would break the syntax, repeat the line above, or re-type the
        next line) leaves the user with nothing; the model's second or third choice of first
        token is often the right line. Ranks are tried one at a time (most requests need only
        the first), each through the same post-processing and syntax guard; the first that
        survives is shown. Backends that cannot branch at a given rank end the search.
        """
        if not ctx.steps.alternatives:
            return None
        base_key = _answer_key(prompt, ctx, max_tokens, engine)
        for rank in range(1, ALTERNATIVES + 1):
            key = (*base_key, "rank", rank)
            cached = self.alternatives.get(key)
            if cached is None:
                budget_ms = self._budget_left_ms(request)
                if budget_ms < MIN_ALTERNATIVE_MS:
                    return None
                cached = await self._generate_rank(
                    request, snapshot, engine, prompt, ctx, max_tokens, rank, budget_ms
                )
                if cached is None:
                    return None
                self.alternatives.put(key, cached)
            self._check_current(request, snapshot)
            suggestion = self._finish(request, snapshot, offset, ctx, _Answer(cached, "stop"))
            if suggestion is not None:
                request.notes.append(f"alternative:{rank}")
                self.totals["alternatives_shown"] += 1
                return suggestion
        return None

    def _budget_left_ms(self, request: _Request) -> float:
        elapsed_ms = (time.perf_counter() - request.started) * 1000
        return self.server.settings.completion.timeBudgetMs - elapsed_ms

    async def _generate_rank(
        self,
        request: _Request,
        snapshot: Snapshot,
        engine: Any,
        prompt: PromptParts,
        ctx: FitContext,
        max_tokens: int,
        rank: int,
        budget_ms: float,
    ) -> str | None:
        """The greedy continuation of the ``rank``-th likeliest first token, or None."""
        generation = GenerationRequest(
            prompt=prompt,
            max_tokens=max_tokens,
            stop=stop_strings(ctx),
            time_budget_ms=int(budget_ms),
            key=snapshot.uri,
            should_stop=lambda text: should_stop(text, ctx),
            first_rank=rank,
            token_healing=False,
            avoid_first=openers_to_avoid(ctx),
        )
        token = CancelToken()
        work = asyncio.ensure_future(engine.generate(generation, token))
        try:
            result: GenerationResult = await self._wait(request, work)
        except (Superseded, asyncio.CancelledError):
            token.cancel("superseded")
            raise
        self.totals["alternative_generations"] += 1
        self._account(request, result)
        found = [c for c in result.candidates if c.rank == rank]
        if result.cancelled or result.stop_reason not in ("stop", "length") or not found:
            return None
        return found[0].text

    # -- generations in flight --------------------------------------------------------------

    async def _wait(self, request: _Request, work: asyncio.Future[T]) -> T:
        """Await ``work`` (never cancelling it) unless a newer request overtakes this one."""
        overtaken = request.overtaken
        if overtaken is None:
            return await asyncio.shield(work)
        signal = asyncio.ensure_future(overtaken.wait())
        either: set[asyncio.Future[Any]] = {work, signal}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            signal.cancel()
        if work.done():
            return work.result()
        raise Superseded("superseded")

    def _stop_inflight(self, uri: str, reason: str) -> None:
        flight = self._inflight.pop(uri, None)
        if flight is not None:
            flight.token.cancel(reason)

    @staticmethod
    def _adoptable(flight: _InFlight | None, text: str, offset: int) -> str | None:
        """What was typed at the flight's anchor, if the running generation agrees with it."""
        if flight is None or flight.token.cancelled:
            return None
        typed_len = offset - len(flight.before)
        if typed_len < 0 or len(text) != len(flight.before) + typed_len + len(flight.tail):
            return None
        if not text.startswith(flight.before) or not text.endswith(flight.tail):
            return None
        typed = text[len(flight.before) : offset]
        # Only a generation that has already written what was typed: one that is behind may
        # disagree on its next token, and waiting for it cost more than starting afresh (the
        # KV cache keeps what it evaluated) - up to 1.5 s in the latency replay.
        if not flight.partial.startswith(typed) or "\n" in typed:
            return None
        return typed

    async def _adopt(self, request: _Request, flight: _InFlight, typed: str) -> _Answer | None:
        """Wait for a generation an older request started; its text past ``typed``."""
        flight.adopted = True
        flight.must_start_with = typed
        self.totals["in_flight_adopted"] += 1
        request.notes.append(f"adopted:{flight.owner}")
        result = await self._wait(request, flight.task)
        text = flight.head + result.text
        request.raw = text
        if result.cancelled or result.stop_reason == "error" or not text.startswith(typed):
            # Its engine time began before this request and is not this request's cost: the
            # generation that follows is (adding the two made engine time exceed wall time).
            why = result.stop_reason if result.cancelled else f"{len(text)}/{len(typed)} chars"
            request.notes.append(f"adoption-failed:{why}")
            return None
        request.engine = {**result.stats.as_dict(), "stop_reason": result.stop_reason}
        request.source = "in-flight"
        return _Answer(text[len(typed) :], result.stop_reason)

    def _prompt(self, snapshot: Snapshot, offset: int, engine: Any, max_tokens: int) -> PromptParts:
        from ghostls.context import ContextBudget, build_context

        # The engine has no public tokenizer: the context builder's estimate counts tokens.
        count_tokens: Callable[[str], int] | None = getattr(engine, "count_tokens", None)
        info = getattr(engine, "info", None)
        fim = bool(info is not None and info.supports_fim)
        default = DEFAULT_CONTEXT_BUDGET if fim else PREFIX_ONLY_CONTEXT_BUDGET
        budget = int(os.environ.get(BUDGET_ENV, default))
        if info is not None:
            budget = min(budget, max(256, info.context_size - max_tokens - 32))
        others = [s for s in self.server.documents if s.uri != snapshot.uri]
        if fim:
            context_budget = ContextBudget(max_tokens=budget)
        else:
            # Without FIM tokens the engine's prompt has no suffix (post-processing reads the
            # suffix from the document), so its share goes to the prefix: more code above the
            # cursor is what a prefix-only model can use.
            context_budget = ContextBudget(
                max_tokens=budget, prefix_share=PREFIX_ONLY_SHARE, suffix_tokens=0
            )
        if os.environ.get(EXTRA_ENV) == "0":
            context_budget = dataclasses.replace(context_budget, extra_tokens=0)
        built = build_context(snapshot, offset, others, context_budget, count_tokens)
        return built.prompt

    async def _answer(
        self,
        request: _Request,
        snapshot: Snapshot,
        offset: int,
        engine: Any,
        prompt: PromptParts,
        ctx: FitContext,
        max_tokens: int,
        forced: str = "",
    ) -> _Answer | None:
        """The model's text at the cursor (from the LRU, or generated); ``forced`` is put in
        the model's mouth: the text starts with it and the model continues from there."""
        key = (*_answer_key(prompt, ctx, max_tokens, engine), forced)
        cached = self.answers.get(key)
        if cached is not None:
            self.totals["lru_hits"] += 1
            request.source = "lru"
            request.raw = cached.text
            return cached
        settings = self.server.settings.completion
        head = self.partials.get(key) or ""  # a partial answer starts with ``forced`` too
        if head:
            self.totals["resumed"] += 1
            request.notes.append(f"resumed:{len(head)}")
        head = head or forced
        generation = GenerationRequest(
            prompt=dataclasses.replace(prompt, prefix=prompt.prefix + head) if head else prompt,
            # A token is at least a character: never ask for less than a few.
            max_tokens=max(4, max_tokens - len(head) // 4),
            stop=stop_strings(ctx),
            time_budget_ms=settings.timeBudgetMs,
            key=snapshot.uri,
            avoid_first=() if head else openers_to_avoid(ctx),
        )
        token = CancelToken()
        flight = _InFlight(
            request.id, snapshot.text[:offset], snapshot.text[offset:], token, asyncio.Future()
        )
        flight.head = head
        flight.partial = head

        def stop(text: str) -> bool:
            full = head + text
            flight.partial = full  # read on the event loop by requests that may adopt it
            need = flight.must_start_with
            if need and not (full.startswith(need) or need.startswith(full)):
                return True  # the user typed something else: no one wants the rest
            return should_stop(full, ctx)

        generation = dataclasses.replace(generation, should_stop=stop)
        flight.task = asyncio.ensure_future(engine.generate(generation, token))
        uri = snapshot.uri
        self._inflight[uri] = flight

        def _done(_: object) -> None:
            if self._inflight.get(uri) is flight:
                del self._inflight[uri]

        flight.task.add_done_callback(_done)
        self.totals["generations"] += 1
        try:
            result: GenerationResult = await self._wait(request, flight.task)
        except asyncio.CancelledError:
            # $/cancelRequest: stop the decode loop too, unless a newer request adopted it.
            if not flight.adopted:
                token.cancel("cancelled")
            raise
        self._account(request, result)
        text = head + result.text
        if result.stop_reason in ("stop", "length"):
            self.answers.put(key, _Answer(text, result.stop_reason))
        elif result.stop_reason != "error" and result.text:
            self.partials.put(key, text)
        if result.cancelled or (token.cancelled and not flight.adopted):
            raise Superseded("superseded")
        if result.stop_reason == "error":
            request.outcome = "engine-error"
            return None
        request.source = "model"
        request.raw = text
        return _Answer(text, result.stop_reason)

    def _account(self, request: _Request, result: GenerationResult) -> None:
        stats = result.stats
        now = stats.as_dict()
        if request.engine:  # a second generation for the request (an alternative): add it up
            now = {k: v + float(request.engine.get(k, 0.0)) for k, v in now.items()}
            now["generations"] = float(request.engine.get("generations", 1.0)) + 1
            # The prompt is the same one: its length is not counted twice.
            now["prompt_tokens"] = float(stats.prompt_tokens)
        request.engine = {**now, "stop_reason": result.stop_reason}
        self.totals["prompt_tokens"] += stats.prompt_tokens
        self.totals["evaluated_tokens"] += stats.evaluated_tokens
        self.totals["reused_tokens"] += stats.reused_tokens
        self.totals["generated_tokens"] += stats.generated_tokens
        extra = self.server.counters.extra
        extra["engine_prompt_ms"] = round(stats.prompt_ms, 2)
        extra["engine_generation_ms"] = round(stats.generation_ms, 2)
        extra["engine_evaluated_tokens"] = stats.evaluated_tokens

    def _finish(
        self,
        request: _Request,
        snapshot: Snapshot,
        offset: int,
        ctx: FitContext,
        answer: _Answer,
    ) -> Suggestion | None:
        fitted = fit(answer.text, ctx)
        if fitted is None:
            request.notes.append("nothing-left")
            return None
        request.notes.extend(fitted.notes)
        start = offset
        end = offset + len(ctx.line_after) if fitted.replaces_line_end else offset
        text: str | None = fitted.text
        if _ends_mid_line(answer, fitted, ctx):
            text = fitted.text.rsplit("\n", 1)[0].rstrip()
            request.notes.append("cut-partial-line")
        if ctx.steps.syntax_check and text is not None:
            text, note = self.guard.longest_valid(snapshot, start, end, text, ctx.multiline)
            if note:
                request.notes.append(note)
                key = "syntax_rejected" if text is None else "syntax_shortened"
                self.totals[key] += 1
        if text is None:
            return None
        self.typed.remember(
            snapshot.uri,
            Shown(
                before=snapshot.text[:start],
                tail=snapshot.text[start:],
                replaced=end - start,
                text=text,
                item_id=request.id,
                multiline=ctx.multiline,
            ),
        )
        return Suggestion(request.id, text, start, end, snapshot, request.source, ctx.multiline)

    # -- feedback and stats ---------------------------------------------------------------

    def record_feedback(self, item_id: str, accepted: bool, accepted_length: int | None) -> None:
        length = self.shown_items.get(item_id, 0)
        if accepted:
            self.totals["accepted_chars"] += accepted_length if accepted_length else length

    def describe(self, recent: int = 16) -> dict[str, Any]:
        from ghostls.bench.report import percentile

        latencies = list(self.latencies)
        shown = self.server.counters.completions_shown
        accepted = self.server.counters.accepted
        return {
            "latency_ms": {
                "n": len(latencies),
                "p50": round(percentile(latencies, 50), 2),
                "p95": round(percentile(latencies, 95), 2),
            },
            "accept_rate": round(accepted / shown, 4) if shown else 0.0,
            "cache_hit_share": round(self.server.counters.completions_from_cache / shown, 4)
            if shown
            else 0.0,
            "totals": dict(self.totals),
            "in_flight": len(self._inflight),
            "recent": list(self.recent)[-recent:] if recent > 0 else [],
        }


def _answer_key(
    prompt: PromptParts, ctx: FitContext, max_tokens: int, engine: Any
) -> tuple[Any, ...]:
    """What a model answer depends on: the prompt, the cursor's fit, the cap and the model."""
    info = getattr(engine, "info", None)
    avoid = openers_to_avoid(ctx)
    return (prompt, ctx.multiline, max_tokens, ctx.steps, avoid, info.path if info else "")


_CUT_NOTES = frozenset({"blank-line", "blank-lines", "block-end", "suffix-resume", "repeat"})


def _ends_mid_line(answer: _Answer, fitted: Fitted, ctx: FitContext) -> bool:
    """A multi-line suggestion that ran into the token or time budget ends mid-line (``x =
    TK.``), unless post-processing already cut it at a line boundary."""
    return (
        ctx.multiline
        and answer.stop_reason in ("length", "budget")
        and "\n" in fitted.text
        and not _CUT_NOTES.intersection(fitted.notes)
    )


def _hostile_cursor(snapshot: Snapshot, row: int, offset: int) -> str:
    """Why the cursor's surroundings are too pathological to analyse ('' when they are not)."""
    if len(snapshot.line(row)) > MAX_CURSOR_LINE_CHARS:
        return f"the line is longer than {MAX_CURSOR_LINE_CHARS} characters"
    byte = snapshot.byte_at(offset)
    node = snapshot.tree.root_node.descendant_for_byte_range(byte, byte)
    for _ in range(MAX_CURSOR_DEPTH):
        if node is None:
            return ""
        node = node.parent
    return f"the code is nested more than {MAX_CURSOR_DEPTH} levels deep"


def completion_service(server: GhostServer) -> CompletionService:
    """The server's completion service, created on first use."""
    service = server.services.get(SERVICE_KEY)
    if not isinstance(service, CompletionService):
        service = CompletionService(server)
        server.services[SERVICE_KEY] = service
    return service
