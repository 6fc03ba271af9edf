"""RemoteEngine: the Engine protocol over HTTP, for a model served by another process.

One ``httpx.AsyncClient`` per engine keeps connections alive between keystrokes. Each
generation is a streamed request run as a task; the caller's loop watches the CancelToken, a
superseding request with the same key and the time budget, and cancels the task at once,
which closes the response and its connection, so the server sees the disconnect and stops.

Failures (connection refused, timeouts, HTTP errors, replies we cannot read) move the engine
to the "error" state once per outage, with one sentence fit for the user, and start an
exponential back-off: while it runs, requests return an empty result immediately. The engine
recovers by itself: a light health probe (for unreachable servers) or the next request after
the back-off (for servers that answered with an error) brings it back to "ready".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ghostls.config import Settings
from ghostls.engine.remote_api import Piece, RemoteApi
from ghostls.engine.remote_health import (
    Backoff,
    MalformedReply,
    RemoteError,
    describe_failure,
    describe_http_error,
)
from ghostls.engine.types import (
    CancelToken,
    Candidate,
    Engine,
    EngineState,
    GenerationRequest,
    GenerationResult,
    GenerationStats,
    ModelInfo,
    PromptParts,
)

log = logging.getLogger(__name__)

POLL_S = 0.005  # how often a running request checks its cancel token
PROBE_TIMEOUT_S = 2.0
NO_ANSWER_STRIKES = 3  # budgets spent with no response headers before we call it a failure


@dataclass
class _Collector:
    """Accumulates streamed pieces and decides when generation is done."""

    request: GenerationRequest
    text: str = ""
    logprob: float = 0.0
    has_logprob: bool = False
    top: tuple[tuple[str, float], ...] = ()
    stop_reason: str | None = None
    server_finished: bool = False
    pieces: int = 0
    headers_at: float | None = None
    first_piece_at: float | None = None
    stats: dict[str, float] = field(default_factory=dict)

    def add(self, piece: Piece) -> bool:
        """Take one piece; True when generation should end here."""
        if not self.pieces and piece.top and not self.top:
            self.top = piece.top
        if piece.text:
            self.pieces += 1
            if self.first_piece_at is None:
                self.first_piece_at = time.perf_counter()
        if piece.logprob is not None:
            self.logprob += piece.logprob
            self.has_logprob = True
        self.stats.update(piece.stats)
        before = len(self.text)
        self.text += piece.text
        if self._cut_at_stop_string(before):
            return True
        should_stop = self.request.should_stop
        if piece.text and should_stop is not None and should_stop(self.text):
            self.stop_reason = "stop"
            return True
        if piece.finish:
            self.stop_reason = piece.finish
            self.server_finished = True
            return True
        return False

    def _cut_at_stop_string(self, before: int) -> bool:
        cuts = []
        for stop in self.request.stop:
            if not stop:
                continue
            # A stop string may straddle two pieces: search from just before the new text.
            index = self.text.find(stop, max(0, before - len(stop) + 1))
            if index >= 0:
                cuts.append(index)
        if not cuts:
            return False
        self.text = self.text[: min(cuts)]
        self.stop_reason = "stop"
        return True


SSE_DONE: dict[str, Any] = {"[DONE]": True}  # yielded (once) for the end-of-stream marker


async def sse_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """JSON objects from a server-sent-event stream; ``SSE_DONE`` for ``[DONE]``."""
    data_lines: list[str] = []
    done = False
    async for line in response.aiter_lines():
        if done:
            continue  # read the body to its end, so the connection can be reused
        if line.startswith(":"):  # comment / keep-alive ping
            continue
        if line.startswith("data:"):
            data_lines.append(line[5:].lstrip(" "))
            continue
        if line.strip() or not data_lines:
            continue  # event:/id:/retry: fields, or blank lines between events
        data, data_lines = "\n".join(data_lines), []
        if data.strip() == "[DONE]":
            done = True
            yield SSE_DONE
            continue
        yield _parse_json(data)
    if data_lines and not done:
        data = "\n".join(data_lines)
        if data.strip() != "[DONE]":
            yield _parse_json(data)


def _parse_json(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except json.JSONDecodeError as exc:
        raise MalformedReply(
            f"the inference server sent an event that is not JSON ({exc.msg})"
        ) from exc
    if not isinstance(value, dict):
        raise MalformedReply("the inference server sent an event that is not a JSON object")
    return value


StateListener = Callable[["RemoteEngine"], None]


class RemoteEngine:
    """An Engine backed by an inference server; ``api`` says which HTTP API it speaks."""

    def __init__(
        self,
        api: RemoteApi,
        *,
        url: str,
        model: str = "",
        api_key_env: str = "",
        timeout_ms: int = 5000,
        context_size: int = 4096,
        fallback: Engine | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.api = api
        self.url = url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_ms = timeout_ms
        self.context_size = context_size
        self.fallback = fallback
        self.backoff = backoff or Backoff()
        self.listeners: list[StateListener] = []
        self.scoring_supported = api.score_body(PromptParts(""), "", model="") is not None
        self.logprobs_supported = True
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._state = EngineState.LOADING
        self._error: str | None = None
        self._error_reachable = False
        self._active: dict[str, CancelToken] = {}
        self._probe_task: asyncio.Task[None] | None = None
        self._fallback_task: asyncio.Task[None] | None = None
        self._no_answer = 0
        self._warned_missing_key = False
        self._closed = False
        self.requests_sent = 0  # for benchmarks and tests

    # -- Engine protocol: state ---------------------------------------------------------

    @property
    def state(self) -> str:
        # With a local fallback, completions go on while the remote is down.
        if self._state == EngineState.ERROR and self.fallback is not None:
            return EngineState.READY
        return self._state

    @property
    def error(self) -> str | None:
        if self._error is not None and self.fallback is not None:
            return f"{self._error}; using the local model until it is back"
        return self._error

    @property
    def remote_state(self) -> str:
        """The remote server's own state, whatever the fallback does."""
        return self._state

    @property
    def info(self) -> ModelInfo | None:
        return ModelInfo(
            name=self.model or "remote model",
            path=self.url,
            supports_fim=self.api.supports_fim,
            context_size=self.context_size,
            backend=self.api.kind,
        )

    def _set_state(self, state: str, error: str | None = None) -> None:
        if state == self._state and error == self._error:
            return
        self._state, self._error = state, error
        if state == EngineState.ERROR:
            log.warning("remote backend unavailable: %s", error)
        elif state == EngineState.READY:
            log.info("remote backend ready: %s at %s", self.model or "model", self.url)
        for listener in list(self.listeners):
            try:
                listener(self)
            except Exception:
                log.exception("engine state listener failed")

    # -- HTTP plumbing ------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            seconds = self.timeout_ms / 1000
            self._client = httpx.AsyncClient(
                base_url=self.url,
                timeout=httpx.Timeout(seconds),
                limits=httpx.Limits(max_keepalive_connections=8, keepalive_expiry=60),
                transport=self._transport,
            )
        return self._client

    def _headers(self) -> dict[str, str]:
        if not self.api_key_env:
            return {}
        key = os.environ.get(self.api_key_env, "")
        if not key:
            if not self._warned_missing_key:
                self._warned_missing_key = True
                # The variable's name only; there is no value to leak.
                log.warning(
                    "backend.apiKeyEnv names %s, which is not set: sending no API key",
                    self.api_key_env,
                )
            return {}
        return {"Authorization": f"Bearer {key}"}

    def _failed(self, exc: BaseException) -> RemoteError:
        error = describe_failure(exc, self.url, self.timeout_ms)
        delay = self.backoff.record_failure()
        log.debug("remote request failed (%s); retry in %.1f s", type(exc).__name__, delay)
        self._error_reachable = error.reachable
        self._set_state(EngineState.ERROR, error.message)
        self._start_probe()
        self._start_fallback()
        return error

    def _succeeded(self) -> None:
        self.backoff.record_success()
        self._no_answer = 0
        self._set_state(EngineState.READY)

    # -- start-up and health ------------------------------------------------------------

    async def start(self) -> None:
        """Check the server once (and learn the model name); failures start the back-off."""
        try:
            await self._check_health()
        except Exception as exc:
            self._failed(exc)
        else:
            await self._learn_context_size()
            self._succeeded()

    async def _learn_context_size(self) -> None:
        """llama.cpp's server tells its context size (GET /props); others keep the setting."""
        with contextlib.suppress(Exception):
            response = await self._http().get(
                "/props", headers=self._headers(), timeout=PROBE_TIMEOUT_S
            )
            if response.status_code == 200:
                props = response.json()
                settings = props.get("default_generation_settings") or {}
                n_ctx = settings.get("n_ctx", props.get("n_ctx"))
                if isinstance(n_ctx, int) and n_ctx > 0:
                    self.context_size = n_ctx
                    if hasattr(self.api, "context_tokens"):
                        self.api.context_tokens = n_ctx

    async def _check_health(self) -> None:
        # The full timeout: some servers (llama-cpp-python) answer their model list only
        # between generations, so a busy server is slow here without being down.
        response = await self._http().get(self.api.health_path, headers=self._headers())
        if response.status_code >= 400:
            raise describe_http_error(response, self.url, self.api.health_path)
        if self.api.health_path == "/v1/models" and not self.model:
            self.model = _first_model_id(response)

    def _start_fallback(self) -> None:
        fallback = self.fallback
        if fallback is None or self._fallback_task is not None or self._closed:
            return
        start = getattr(fallback, "start", None)
        if not callable(start):
            return
        log.info("loading the local model while the remote server is unavailable")
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to start on
            self._fallback_task = asyncio.get_running_loop().create_task(start())

    async def _check_generation(self) -> None:
        """A one-token generation: for a server that answered with errors, only a request
        that works shows it has recovered (its model list may have been fine all along)."""
        request = GenerationRequest(PromptParts(prefix="#"), max_tokens=1, time_budget_ms=2000)
        body = self.api.generation_body(
            request, model=self.model, forced="", top_k=0, budget_ms=2000
        )
        limit = max(2 * PROBE_TIMEOUT_S, self.timeout_ms / 1000)
        await asyncio.wait_for(self._stream(body, _Collector(request)), limit)

    def _start_probe(self) -> None:
        if self._closed or (self._probe_task is not None and not self._probe_task.done()):
            return
        try:
            self._probe_task = asyncio.get_running_loop().create_task(self._probe_loop())
        except RuntimeError:  # no loop (closing): the next request retries instead
            self._probe_task = None

    async def _probe_loop(self) -> None:
        while not self._closed and self._state == EngineState.ERROR:
            await asyncio.sleep(max(self.backoff.seconds_left, 0.05))
            if self._closed or self._state != EngineState.ERROR:
                return
            try:
                if self._error_reachable:
                    await self._check_generation()
                else:
                    await self._check_health()
            except Exception as exc:
                self.backoff.record_failure()
                # The server may now fail differently (e.g. up again but answering errors).
                self._error_reachable = describe_failure(exc, self.url, self.timeout_ms).reachable
            else:
                self._succeeded()

    # -- generation ---------------------------------------------------------------------

    async def generate(
        self, request: GenerationRequest, cancel: CancelToken | None = None
    ) -> GenerationResult:
        if self._closed:
            return GenerationResult("", stop_reason="error")
        if self._state == EngineState.ERROR and self.fallback is not None:
            # The health probe watches the remote; until it is back, serve locally.
            if self.fallback.state == EngineState.READY:
                return await self.fallback.generate(request, cancel)
            return GenerationResult("", stop_reason="error")
        if self.backoff.waiting:
            return GenerationResult("", stop_reason="error")
        mine = CancelToken()
        previous = self._active.get(request.key) if request.key else None
        if previous is not None:
            previous.cancel("superseded")
        if request.key:
            self._active[request.key] = mine
        deadline = time.perf_counter() + request.time_budget_ms / 1000
        try:
            if request.n_candidates > 1:
                return await self._generate_candidates(request, cancel, mine, deadline)
            result, _collector = await self._run(request, cancel, mine, deadline)
            return result
        finally:
            if request.key and self._active.get(request.key) is mine:
                del self._active[request.key]

    async def _run(
        self,
        request: GenerationRequest,
        cancel: CancelToken | None,
        mine: CancelToken,
        deadline: float,
        *,
        forced: str = "",
        top_k: int = 0,
    ) -> tuple[GenerationResult, _Collector]:
        started = time.perf_counter()
        collector = _Collector(request, text=forced)
        budget_ms = int(max(0.0, deadline - started) * 1000)
        body = self.api.generation_body(
            request, model=self.model, forced=forced, top_k=top_k, budget_ms=budget_ms
        )
        # Waiting for tokens is bounded by the budget (we cut there), so a read timeout
        # shorter than the budget would only turn a slow first token into an "error".
        read_s = max(self.timeout_ms, budget_ms) / 1000 + 0.5
        task = asyncio.ensure_future(self._stream(body, collector, read_s))
        reason: str | None = None
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=POLL_S)
                if done:
                    break
                if cancel is not None and cancel.cancelled:
                    reason = "cancelled"
                elif mine.cancelled:
                    reason = "superseded"
                elif time.perf_counter() >= deadline:
                    reason = "budget"
                if reason:
                    break
        finally:
            if not task.done():
                # Cancelling closes the response mid-stream: the server sees the disconnect.
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        stats = self._stats(collector, started)
        if reason is None:
            exc = task.exception()
            if exc is not None:
                if isinstance(exc, RemoteError) and exc.reachable and top_k > 0:
                    raise exc  # the caller retries without log-probabilities
                self._failed(exc)
                if self.fallback is not None and self.fallback.state == EngineState.READY:
                    return await self.fallback.generate(request, cancel), collector
                return GenerationResult("", stats, "error"), collector
            self._succeeded()
            stop = collector.stop_reason or "stop"
            return GenerationResult(collector.text, stats, stop), collector
        if reason == "budget":
            self._note_budget_spent(collector)
        elif collector.headers_at is not None:
            self._succeeded()
        return GenerationResult(collector.text, stats, reason), collector

    def _note_budget_spent(self, collector: _Collector) -> None:
        if collector.headers_at is not None:
            self._succeeded()
            return
        # A server that accepts connections but never answers: a failure after a few tries.
        self._no_answer += 1
        if self._no_answer >= NO_ANSWER_STRIKES:
            self._no_answer = 0
            self._failed(
                RemoteError(
                    f"the inference server at {self.url} did not start answering within the "
                    f"time budget {NO_ANSWER_STRIKES} times in a row"
                )
            )

    async def _stream(
        self, body: dict[str, Any], collector: _Collector, read_s: float | None = None
    ) -> None:
        try:
            await self._stream_once(body, collector, read_s)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            if collector.headers_at is not None:
                raise
            # Nothing came back: most likely a kept-alive connection the server had closed
            # meanwhile. One more try, on a new connection.
            await self._stream_once(body, collector, read_s)

    async def _stream_once(
        self, body: dict[str, Any], collector: _Collector, read_s: float | None
    ) -> None:
        client = self._http()
        path = self.api.generate_path
        self.requests_sent += 1
        log.debug("POST %s%s (%d-character prompt)", self.url, path, _prompt_size(body))
        seconds = self.timeout_ms / 1000
        timeout = httpx.Timeout(seconds, read=max(seconds, read_s or 0.0))
        async with client.stream(
            "POST", path, json=body, headers=self._headers(), timeout=timeout
        ) as response:
            collector.headers_at = time.perf_counter()
            if response.status_code >= 400:
                await response.aread()
                raise describe_http_error(response, self.url, path)
            done = False
            async for event in sse_events(response):
                if event is SSE_DONE:
                    done = True
                elif collector.server_finished:
                    continue  # read to the end, so the connection stays open for reuse
                elif collector.add(self.api.parse_event(event)) and not collector.server_finished:
                    return  # we stop early: closing the stream makes the server stop too
            if not done and not collector.server_finished:
                # llama-cpp-python, failing mid-request, just ends the stream.
                raise MalformedReply(
                    "the inference server ended its reply before finishing "
                    "(it may have failed on this request: see its log)"
                )

    @staticmethod
    def _stats(collector: _Collector, started: float) -> GenerationStats:
        now = time.perf_counter()
        first = collector.first_piece_at
        stats = GenerationStats(
            generated_tokens=collector.pieces,
            prompt_ms=((first or now) - started) * 1000,
            generation_ms=(now - first) * 1000 if first else 0.0,
        )
        for name, value in collector.stats.items():
            if name in ("prompt_tokens", "reused_tokens", "evaluated_tokens", "generated_tokens"):
                setattr(stats, name, int(value))
            elif name in ("prompt_ms", "generation_ms"):
                setattr(stats, name, float(value))
        return stats

    async def _generate_candidates(
        self,
        request: GenerationRequest,
        cancel: CancelToken | None,
        mine: CancelToken,
        deadline: float,
    ) -> GenerationResult:
        """Greedy text plus alternatives branching at the first token, from the server's
        top log-probabilities; each branch continues greedily in its own request."""
        top_k = max(2, request.n_candidates) if self.logprobs_supported else 0
        try:
            first, collector = await self._run(request, cancel, mine, deadline, top_k=top_k)
        except RemoteError as exc:
            # Refused with log-probabilities: try once without; if that works, the server
            # cannot give them (llama-cpp-python without logits_all, for one).
            first, collector = await self._run(request, cancel, mine, deadline)
            if first.stop_reason != "error":
                log.info("no log-probabilities from the server (%s): one candidate", exc.message)
                self.logprobs_supported = False
        if first.stop_reason in ("error", "cancelled", "superseded"):
            return first
        candidates = [Candidate(first.text, collector.logprob)]
        for token, logprob in collector.top:
            if len(candidates) >= request.n_candidates:
                break
            if not token or first.text.startswith(token) or time.perf_counter() >= deadline:
                continue
            if (cancel is not None and cancel.cancelled) or mine.cancelled:
                break
            try:
                branch, branch_collector = await self._run(
                    request, cancel, mine, deadline, forced=token, top_k=1
                )
            except RemoteError:
                break
            if branch.stop_reason == "error":
                break
            # The branch's collector started with the forced token, so its text includes it.
            candidates.append(
                Candidate(branch.text, logprob + branch_collector.logprob, len(candidates))
            )
        first.candidates = tuple(candidates)
        return first

    # -- scoring ------------------------------------------------------------------------

    async def score(self, prompt: PromptParts, continuation: str) -> float:
        """Log-probability of ``continuation`` (via the API's echoed prompt log-probs).

        Servers that cannot score give 0.0 for every continuation, so callers that rank by
        score keep their original order.
        """
        spec = self.api.score_body(prompt, continuation, model=self.model)
        if spec is None or not self.scoring_supported or self.backoff.waiting:
            return 0.0
        path, body, boundary = spec
        end = boundary + len(continuation)
        try:
            self.requests_sent += 1
            response = await self._http().post(path, json=body, headers=self._headers())
            if response.status_code >= 400:
                raise describe_http_error(response, self.url, path)
            reply = response.json()
            if not isinstance(reply, dict):
                raise MalformedReply("the inference server sent a non-object reply")
            value = self.api.parse_score(reply, boundary, end)
        except httpx.TimeoutException:
            # Reachable but slow: llama-cpp-python computes log-softmax over its whole
            # context for echo, seconds with a large vocabulary. Too slow to rank with.
            log.info("remote scoring took over %d ms; ranking by order", self.timeout_ms)
            self.scoring_supported = False
            return 0.0
        except RemoteError as exc:
            if not exc.reachable:
                self._failed(exc)
                return 0.0
            # The server works but cannot score (e.g. no prompt log-probabilities).
            log.info("remote scoring unsupported (%s); ranking by order", exc.message)
            self.scoring_supported = False
            return 0.0
        except Exception as exc:
            self._failed(exc)
            return 0.0
        self._succeeded()
        return value

    async def close(self) -> None:
        self._closed = True
        for token in list(self._active.values()):
            token.cancel("closed")
        for task in (self._probe_task, self._fallback_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self.fallback is not None:
            await self.fallback.close()
        self._state = EngineState.DISABLED


def _first_model_id(response: httpx.Response) -> str:
    try:
        data = response.json().get("data")
        if isinstance(data, list) and data and isinstance(data[0], dict):
            return str(data[0].get("id", ""))
    except Exception:
        return ""
    return ""


def _prompt_size(body: dict[str, Any]) -> int:
    return sum(len(v) for k, v in body.items() if isinstance(v, str) and k.startswith(("p", "i")))


def create_remote_engine(settings: Settings, fallback: Engine | None = None) -> RemoteEngine:
    """The engine for backend.kind "openai" or "llama-server"; a clear error for a bad URL."""
    from ghostls.engine.remote_llama_server import LlamaServerInfillApi
    from ghostls.engine.remote_openai import OpenAICompletionsApi

    backend = settings.backend
    url = backend.url.strip()
    parsed = httpx.URL(url) if url else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(
            f"backend.kind is {backend.kind!r} but backend.url is {url!r}: set it to the "
            "server's base URL, e.g. http://gpu-box:8080"
        )
    context = settings.model.contextSize
    api: RemoteApi
    if backend.kind == "openai":
        api = OpenAICompletionsApi(context)
    elif backend.kind == "llama-server":
        api = LlamaServerInfillApi()
    else:
        raise ValueError(f"backend.kind {backend.kind!r} is not a remote backend")
    return RemoteEngine(
        api,
        url=url,
        model=backend.model,
        api_key_env=backend.apiKeyEnv,
        timeout_ms=backend.timeoutMs,
        context_size=context,
        fallback=fallback,
    )
