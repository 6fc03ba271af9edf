"""The in-process engine: one worker thread owns a llama.cpp model; requests are awaited.

Requests with the same ``key`` supersede each other: a new one cancels the running (or
queued) one at once, which stops within one decode step; a superseded request that has not
started returns immediately when the worker reaches it, so nothing waits behind it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from ghostls.engine.decoder import DecodeJob, Decoder
from ghostls.engine.llama_model import LlamaModel
from ghostls.engine.model_files import describe_model_file_problem, ensure_embedded_model
from ghostls.engine.prompt import build_prompt, layout_name
from ghostls.engine.types import (
    CancelToken,
    EngineState,
    GenerationRequest,
    GenerationResult,
    GenerationStats,
    ModelInfo,
    PromptParts,
)

log = logging.getLogger(__name__)

# Room kept free at the end of the context for a prompt-lookup draft batch.
_CONTEXT_MARGIN = 16
# Longest wait for the token-healing index on the first request (it takes about a second).
PIECE_INDEX_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class LocalEngineConfig:
    path: str  # a GGUF file; empty = the embedded default model
    name: str = ""
    context_size: int = 4096
    threads: int = 0  # 0 = from the CPU count
    gpu_layers: int = 0
    n_batch: int = 512
    prompt_lookup: bool = True
    max_draft: int = 8
    token_healing: bool = True


class LocalEngine:
    """Implements the ``Engine`` protocol over llama.cpp in this process."""

    backend = "local"

    def __init__(self, config: LocalEngineConfig) -> None:
        self.config = config
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ghostls-model")
        self._state = EngineState.LOADING
        self._error: str | None = None
        self._info: ModelInfo | None = None
        self._model: LlamaModel | None = None
        self._decoder: Decoder | None = None
        self._running: dict[str, CancelToken] = {}  # by supersede key
        self._inflight: set[CancelToken] = set()  # every request not yet answered
        self._closed = False
        self.layout = "prefix"
        self.counters: dict[str, float] = {
            "requests": 0,
            "cancelled": 0,
            "superseded": 0,
            "errors": 0,
            "prompt_tokens": 0,
            "reused_tokens": 0,
            "evaluated_tokens": 0,
            "generated_tokens": 0,
            "draft_tokens": 0,
            "accepted_draft_tokens": 0,
            "scores": 0,
            # Worker time per kind of result: what superseded work costs the requests after it.
            "busy_ms": 0.0,
            "superseded_busy_ms": 0.0,
        }
        self.last_stats: GenerationStats | None = None
        # The worker's last jobs (seconds since load, result): what a queued request waited for.
        self.timeline: collections.deque[dict[str, Any]] = collections.deque(maxlen=64)
        self._epoch = time.perf_counter()

    # -- Engine protocol: state -------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    @property
    def info(self) -> ModelInfo | None:
        return self._info

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def model(self) -> LlamaModel | None:
        """The loaded model (for benchmarks and tests; use only from the worker)."""
        return self._model

    def count_tokens(self, text: str) -> int:
        """Exact token count (for the context builder's budget). Safe on any thread: the
        vocabulary is read-only, and llama.cpp's own server tokenizes beside decoding."""
        model = self._model
        if model is None:
            return (len(text) + 2) // 3
        return model.count_tokens(text)

    @property
    def prompt_lookup(self) -> bool:
        return self._decoder.prompt_lookup if self._decoder else self.config.prompt_lookup

    @prompt_lookup.setter
    def prompt_lookup(self, enabled: bool) -> None:
        """Toggle prompt-lookup decoding (takes effect with the next request)."""
        self.config = replace(self.config, prompt_lookup=enabled)
        if self._decoder is not None:
            self._decoder.prompt_lookup = enabled

    async def start(self) -> None:
        """Load the model on the worker thread; never raises (sets state ERROR instead)."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._load)
        except Exception as exc:
            self._state = EngineState.ERROR
            self._error = str(exc) or type(exc).__name__
            log.warning("model load failed: %s", self._error)

    def start_sync(self) -> None:
        """Blocking load, for command-line tools and benchmarks (no event loop needed)."""
        try:
            self._executor.submit(self._load).result()
        except Exception as exc:
            self._state = EngineState.ERROR
            self._error = str(exc) or type(exc).__name__

    def _load(self) -> None:
        cfg = self.config
        if not cfg.path:
            # The embedded default: assembled into the cache once (seconds), then reused.
            cfg = replace(cfg, path=str(ensure_embedded_model()))
            self.config = cfg
        problem = describe_model_file_problem(cfg.path)
        if problem:
            raise RuntimeError(problem)
        try:
            model = LlamaModel(
                cfg.path,
                n_ctx=cfg.context_size,
                n_threads=cfg.threads,
                n_gpu_layers=cfg.gpu_layers,
                n_batch=cfg.n_batch,
            )
        except Exception as exc:
            raise RuntimeError(
                f"model file '{cfg.path}' could not be loaded by llama.cpp "
                f"(truncated, corrupt or an unsupported architecture?): {exc}"
            ) from exc
        model.start_piece_index()  # token healing and ``avoid_first`` read it
        self._model = model
        self._decoder = Decoder(model, prompt_lookup=cfg.prompt_lookup, max_draft=cfg.max_draft)
        self.layout = layout_name(model)
        self._info = ModelInfo(
            name=cfg.name or model.description(),
            path=cfg.path,
            supports_fim=self.layout != "prefix",
            context_size=model.n_ctx,
            backend=self.backend,
        )
        self._state = EngineState.READY

    # -- Engine protocol: work --------------------------------------------------------------

    async def generate(
        self, request: GenerationRequest, cancel: CancelToken | None = None
    ) -> GenerationResult:
        if self._state != EngineState.READY or self._closed:
            return GenerationResult("", stop_reason="error")
        own = CancelToken()
        self._inflight.add(own)
        if request.key:
            previous = self._running.get(request.key)
            if previous is not None:
                previous.cancel("superseded")
            self._running[request.key] = own

        def abort() -> str | None:
            if own.cancelled:
                return own.reason or "cancelled"
            if cancel is not None and cancel.cancelled:
                return cancel.reason or "cancelled"
            return None

        submitted = time.perf_counter()
        loop = asyncio.get_running_loop()
        self.counters["requests"] += 1
        try:
            result = await loop.run_in_executor(
                self._executor, self._generate_on_worker, request, abort, submitted
            )
        except asyncio.CancelledError:
            own.cancel("cancelled")
            raise
        except Exception as exc:
            log.warning("generation failed: %s", exc)
            result = GenerationResult("", stop_reason="error")
        finally:
            self._inflight.discard(own)
            if request.key and self._running.get(request.key) is own:
                del self._running[request.key]
        self._count(result)
        return result

    def _generate_on_worker(
        self, request: GenerationRequest, abort: Any, submitted: float
    ) -> GenerationResult:
        started = time.perf_counter()
        stats = GenerationStats(queue_ms=(started - submitted) * 1000)
        reason = abort()
        if reason is not None:
            return GenerationResult("", stats, reason)
        result = self._generate_job(request, abort, started, stats)
        self.timeline.append(
            {
                "key": request.key,
                "start_s": round(started - self._epoch, 3),
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "stop": result.stop_reason,
                "evaluated": result.stats.evaluated_tokens,
                "generated": result.stats.generated_tokens,
            }
        )
        return result

    def _generate_job(
        self, request: GenerationRequest, abort: Any, started: float, stats: GenerationStats
    ) -> GenerationResult:
        model, decoder = self._model, self._decoder
        if model is None or decoder is None:
            return GenerationResult("", stats, "error")
        max_tokens = max(1, min(request.max_tokens, model.n_ctx // 2))
        tokens, heal = self.layout_prompt(
            model, request.prompt, max_tokens, heal=request.token_healing
        )
        job = DecodeJob(
            prompt=tokens,
            max_tokens=max_tokens,
            stop=request.stop,
            should_stop=request.should_stop,
            deadline=started + request.time_budget_ms / 1000,
            abort=abort,
            stats=stats,
            heal=heal,
            avoid_first=model.tokens_opening_with(request.avoid_first)
            if request.avoid_first
            else None,
        )
        try:
            return decoder.generate(
                job, n_candidates=request.n_candidates, first_rank=request.first_rank
            )
        except Exception:
            decoder.reset()
            raise

    def layout_prompt(
        self, model: LlamaModel, parts: PromptParts, max_tokens: int, *, heal: bool = True
    ) -> tuple[list[int], bytes]:
        """Prompt token ids for a generation, and the bytes taken off for token healing.

        Token healing (prefix prompts): a prompt that ends mid-word or after a space ends on a
        token the model rarely saw there ("return " ends on a lone space token), which skews
        the first prediction. We drop that last token and let the first generated token be any
        token spelling those bytes and more (" a", " None", ...); the healed bytes are not
        returned. FIM prompts end on <fim_middle> and are left as they are.
        """
        budget = model.n_ctx - max_tokens - _CONTEXT_MARGIN
        built = build_prompt(model, parts, budget)
        tokens = built.tokens
        if not (self.config.token_healing and heal) or built.layout != "prefix" or len(tokens) < 3:
            return tokens, b""
        last = tokens[-1]
        piece = model.piece(last)
        if not piece or model.is_control(last) or not parts.prefix.encode("utf-8").endswith(piece):
            return tokens, b""
        allowed = model.tokens_with_prefix(piece)
        if allowed is None:
            # The index is still being built (the first request after loading): wait for it
            # rather than skip healing, or the first suggestion would differ from the same
            # request a second later (a loaded CI machine saw exactly that).
            model.wait_for_piece_index(PIECE_INDEX_WAIT_SECONDS)
            allowed = model.tokens_with_prefix(piece)
        if allowed is None or not allowed.size:  # still no index: no healing this time
            return tokens, b""
        return tokens[:-1], piece

    async def score(self, prompt: PromptParts, continuation: str) -> float:
        if self._state != EngineState.READY or not continuation:
            return float("-inf") if self._state != EngineState.READY else 0.0
        loop = asyncio.get_running_loop()
        self.counters["scores"] += 1
        try:
            return await loop.run_in_executor(
                self._executor, self._score_on_worker, prompt, continuation
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("scoring failed: %s", exc)
            return float("-inf")

    def _score_on_worker(self, prompt: PromptParts, continuation: str) -> float:
        model, decoder = self._model, self._decoder
        if model is None or decoder is None:
            return float("-inf")
        cont = model.tokenize(continuation)
        budget = model.n_ctx - len(cont) - _CONTEXT_MARGIN
        if budget < 16:
            return float("-inf")
        built = build_prompt(model, prompt, budget)
        try:
            return decoder.score(built.tokens, cont, DecodeJob(prompt=built.tokens, max_tokens=0))
        except Exception:
            decoder.reset()
            raise

    def _count(self, result: GenerationResult) -> None:
        s = result.stats
        c = self.counters
        if result.stop_reason in ("cancelled", "superseded", "error"):
            key = "errors" if result.stop_reason == "error" else result.stop_reason
            c[key] += 1
        c["prompt_tokens"] += s.prompt_tokens
        c["reused_tokens"] += s.reused_tokens
        c["evaluated_tokens"] += s.evaluated_tokens
        c["generated_tokens"] += s.generated_tokens
        c["draft_tokens"] += s.draft_tokens
        c["accepted_draft_tokens"] += s.accepted_draft_tokens
        busy = s.prompt_ms + s.generation_ms
        c["busy_ms"] += busy
        if result.stop_reason in ("cancelled", "superseded"):
            c["superseded_busy_ms"] += busy
        self.last_stats = s

    def run_on_worker(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(model, decoder, *args)`` on the worker and wait (benchmarks, tests)."""
        return self._executor.submit(lambda: fn(self._model, self._decoder, *args)).result()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for token in list(self._inflight):
            token.cancel("cancelled")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._free)
        self._executor.shutdown(wait=False)

    def close_sync(self) -> None:
        if self._closed:
            return
        self._closed = True
        for token in list(self._inflight):
            token.cancel("cancelled")
        self._executor.submit(self._free).result()
        self._executor.shutdown(wait=False)

    def _free(self) -> None:
        if self._model is not None:
            self._model.close()
        self._model = None
        self._decoder = None
        if self._state == EngineState.READY:
            self._state = EngineState.DISABLED
