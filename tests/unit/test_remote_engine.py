"""RemoteEngine against a stdlib HTTP test double on loopback (real sockets, real httpx).

The double only checks the engine's own logic (streaming, cancellation closing the connection,
back-off, recovery, headers); the end-to-end proof against a real inference server is in
tests/e2e/test_remote_openai.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ghostls.engine.remote import SSE_DONE, RemoteEngine, sse_events
from ghostls.engine.remote_health import Backoff
from ghostls.engine.remote_llama_server import LlamaServerInfillApi
from ghostls.engine.remote_openai import OpenAICompletionsApi
from ghostls.engine.types import (
    CancelToken,
    ContextChunk,
    EngineState,
    GenerationRequest,
    PromptParts,
)

Script = Callable[["_Handler", str, dict[str, Any]], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.double.lock:
            self.server.double.connections += 1

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        double = self.server.double
        with double.lock:
            double.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers), **body}
            )
        double.script(self, self.path, body)

    do_GET = _handle
    do_POST = _handle

    def send_json(self, status: int, value: object) -> None:
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_sse(self, events: list[dict[str, Any]], delay: float = 0.0) -> None:
        """Chunked text/event-stream; stops (and counts a disconnect) when the client goes."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        double = self.server.double
        payloads = [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]
        try:
            for payload in payloads:
                data = payload.encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                with double.lock:
                    double.events_written += 1
                if delay:
                    time.sleep(delay)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            with double.lock:
                double.disconnects += 1
                double.disconnected_at = time.perf_counter()
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    double: Double


class Double:
    """A scriptable inference server: ``script(handler, path, body)`` writes the reply."""

    def __init__(self, script: Script, port: int = 0) -> None:
        self.script = script
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.connections = 0
        self.disconnects = 0
        self.disconnected_at = 0.0
        self.events_written = 0
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.double = self
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _text_events(pieces: list[str], finish: str = "stop") -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"choices": [{"text": p, "index": 0, "finish_reason": None}]} for p in pieces
    ]
    events.append({"choices": [{"text": "", "index": 0, "finish_reason": finish}]})
    return events


def openai_script(pieces: list[str], delay: float = 0.0) -> Script:
    def script(handler: _Handler, path: str, body: dict[str, Any]) -> None:
        if path == "/v1/models":
            handler.send_json(200, {"object": "list", "data": [{"id": "double-model"}]})
        elif path == "/v1/completions":
            handler.send_sse(_text_events(pieces), delay)
        else:
            handler.send_json(404, {"error": {"message": "no such route"}})

    return script


@pytest.fixture
def double_factory() -> Iterator[Callable[..., Double]]:
    made: list[Double] = []

    def make(script: Script, port: int = 0) -> Double:
        made.append(Double(script, port))
        return made[-1]

    yield make
    for double in made:
        double.stop()


def _engine(url: str, **kwargs: Any) -> RemoteEngine:
    kwargs.setdefault("backoff", Backoff(base_s=0.05, cap_s=0.2))
    return RemoteEngine(OpenAICompletionsApi(2048), url=url, timeout_ms=2000, **kwargs)


PARTS = PromptParts(
    prefix="def add(a, b):\n    return",
    suffix="\n",
    extra=(ContextChunk("util.py", "def helper(): ..."),),
    path="m.py",
)


async def _eventually(predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_streams_text_and_reuses_one_connection(double_factory: Any) -> None:
    double = double_factory(openai_script([" a", " +", " b"]))
    engine = _engine(double.url)
    await engine.start()
    assert engine.state == EngineState.READY
    assert engine.model == "double-model"  # learnt from /v1/models
    for _ in range(3):
        result = await engine.generate(GenerationRequest(PARTS, max_tokens=8, stop=("\n",)))
        assert result.text == " a + b"
        assert result.stop_reason == "stop"
        assert result.stats.generated_tokens == 3
    await engine.close()
    body = double.requests[-1]
    assert body["model"] == "double-model"
    assert body["stream"] is True and body["max_tokens"] == 8 and body["stop"] == ["\n"]
    assert body["prompt"].endswith("# file: m.py\ndef add(a, b):\n    return")
    assert body["prompt"].startswith("# file: util.py\ndef helper(): ...\n")
    assert double.connections == 1  # keep-alive: the health check and 3 streams on one socket
    assert double.disconnects == 0


async def test_stop_string_is_cut_locally_and_closes_the_stream(double_factory: Any) -> None:
    double = double_factory(openai_script([" x = 1", "\n", "y = 2", "\n"] * 20, delay=0.02))
    engine = _engine(double.url)
    request = GenerationRequest(PARTS, max_tokens=64, stop=("a", "b", "c", "d", "\n"))
    result = await engine.generate(request)
    assert result.text == " x = 1"  # the fifth stop string is enforced here, not by the server
    assert result.stop_reason == "stop"
    assert await _eventually(lambda: double.disconnects == 1)
    assert double.events_written < 10  # the server stopped writing soon after we closed
    await engine.close()


async def test_should_stop_ends_generation(double_factory: Any) -> None:
    double = double_factory(openai_script(["a"] * 50, delay=0.01))
    engine = _engine(double.url)
    request = GenerationRequest(PARTS, max_tokens=64, should_stop=lambda text: len(text) >= 3)
    result = await engine.generate(request)
    assert result.text == "aaa"
    await engine.close()


async def test_cancel_token_closes_the_connection_at_once(double_factory: Any) -> None:
    double = double_factory(openai_script(["tok"] * 200, delay=0.02))
    engine = _engine(double.url)
    await engine.start()
    cancel = CancelToken()
    request = GenerationRequest(PARTS, max_tokens=200, time_budget_ms=20000)
    task = asyncio.ensure_future(engine.generate(request, cancel))
    assert await _eventually(lambda: double.events_written >= 3)
    cancel.cancel()
    cancelled_at = time.perf_counter()
    result = await task
    assert result.stop_reason == "cancelled"
    assert time.perf_counter() - cancelled_at < 0.1
    assert await _eventually(lambda: double.disconnects == 1)
    assert double.disconnected_at - cancelled_at < 0.2
    assert double.events_written < 30
    assert engine.state == EngineState.READY  # a cancel is not a failure
    await engine.close()


async def test_newer_request_with_same_key_supersedes(double_factory: Any) -> None:
    double = double_factory(openai_script(["tok"] * 100, delay=0.02))
    engine = _engine(double.url)
    await engine.start()

    def request() -> GenerationRequest:
        return GenerationRequest(PARTS, max_tokens=100, time_budget_ms=20000, key="file:///a.py")

    first = asyncio.ensure_future(engine.generate(request()))
    assert await _eventually(lambda: double.events_written >= 3)
    second = asyncio.ensure_future(engine.generate(request()))
    older = await first
    assert older.stop_reason == "superseded"
    assert await _eventually(lambda: double.disconnects == 1, 5)
    posts = lambda: [r for r in double.requests if r["method"] == "POST"]  # noqa: E731
    assert await _eventually(lambda: len(posts()) == 2, 5)
    second.cancel()  # an asyncio cancel (pygls cancelling the handler) closes it too
    await asyncio.gather(second, return_exceptions=True)
    assert await _eventually(lambda: double.disconnects == 2, 5)
    await engine.close()


async def test_time_budget_returns_partial_text(double_factory: Any) -> None:
    double = double_factory(openai_script(["t"] * 200, delay=0.03))
    engine = _engine(double.url)
    await engine.start()
    result = await engine.generate(GenerationRequest(PARTS, max_tokens=200, time_budget_ms=1000))
    assert result.stop_reason == "budget"
    assert 1 <= len(result.text) < 100  # the whole stream would take 6 s
    assert engine.state == EngineState.READY
    await engine.close()


async def test_api_key_header_from_the_named_variable(
    double_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GHOSTLS_TEST_KEY", "k-123")
    double = double_factory(openai_script(["x"]))
    engine = _engine(double.url, api_key_env="GHOSTLS_TEST_KEY")
    await engine.start()
    await engine.generate(GenerationRequest(PARTS))
    await engine.close()
    assert all(r["headers"].get("Authorization") == "Bearer k-123" for r in double.requests)


async def test_connection_refused_backs_off_and_recovers(double_factory: Any) -> None:
    port = _free_port()
    engine = _engine(f"http://127.0.0.1:{port}")
    changes: list[tuple[str, str | None]] = []
    engine.listeners.append(lambda e: changes.append((e.state, e.error)))
    await engine.start()
    assert engine.state == EngineState.ERROR
    assert engine.error is not None and "cannot connect" in engine.error
    assert f"127.0.0.1:{port}" in engine.error
    # During back-off: empty at once, no request, no new state change.
    started = time.perf_counter()
    for _ in range(20):
        result = await engine.generate(GenerationRequest(PARTS))
        assert result.text == "" and result.stop_reason == "error"
    assert time.perf_counter() - started < 0.5
    assert [state for state, _ in changes] == [EngineState.ERROR]
    double = double_factory(openai_script([" ok"]), port=port)
    for _ in range(100):  # the health probe notices the server within the back-off cap
        if engine.state == EngineState.READY:
            break
        await asyncio.sleep(0.02)
    assert engine.state == EngineState.READY
    assert [state for state, _ in changes] == [EngineState.ERROR, EngineState.READY]
    assert (await engine.generate(GenerationRequest(PARTS))).text == " ok"
    assert any(r["path"] == "/v1/models" for r in double.requests)
    await engine.close()


async def test_http_error_then_recovery_by_a_real_generation(double_factory: Any) -> None:
    failing = {"on": True}

    def script(handler: _Handler, path: str, body: dict[str, Any]) -> None:
        if path == "/v1/models":
            handler.send_json(200, {"data": [{"id": "m"}]})  # the list works all along
        elif failing["on"]:
            handler.send_json(500, {"error": {"message": "CUDA out of memory"}})
        else:
            handler.send_sse(_text_events([" fine"]))

    double = double_factory(script)
    engine = _engine(double.url)
    await engine.start()
    result = await engine.generate(GenerationRequest(PARTS))
    assert result.stop_reason == "error"
    assert engine.state == EngineState.ERROR
    assert engine.error is not None
    assert "HTTP 500" in engine.error and "CUDA out of memory" in engine.error
    await asyncio.sleep(0.4)
    assert engine.state == EngineState.ERROR  # the model list alone does not prove recovery
    failing["on"] = False
    for _ in range(100):
        if engine.state == EngineState.READY:
            break
        await asyncio.sleep(0.02)
    assert engine.state == EngineState.READY
    assert double.requests[-1]["path"] == "/v1/completions"
    await engine.close()


async def test_malformed_reply_is_an_error(double_factory: Any) -> None:
    def script(handler: _Handler, path: str, body: dict[str, Any]) -> None:
        handler.send_sse([{"unexpected": True}])

    double = double_factory(script)
    engine = _engine(double.url)
    result = await engine.generate(GenerationRequest(PARTS))
    assert result.stop_reason == "error"
    assert engine.error is not None and "without choices" in engine.error
    await engine.close()


async def test_unauthorized_names_the_setting(double_factory: Any) -> None:
    def script(handler: _Handler, path: str, body: dict[str, Any]) -> None:
        handler.send_json(401, {"detail": "Invalid API key"})

    double = double_factory(script)
    engine = _engine(double.url)
    await engine.start()
    assert engine.error is not None and "backend.apiKeyEnv" in engine.error
    await engine.close()


async def test_candidates_branch_at_the_first_token(double_factory: Any) -> None:
    def script(handler: _Handler, path: str, body: dict[str, Any]) -> None:
        forced = body["prompt"].endswith(" str")
        text = "(x)" if forced else " a + b"
        lp = {"tokens": [text], "token_logprobs": [-0.5], "top_logprobs": [{text: -0.5}]}
        if not forced:
            lp["top_logprobs"] = [{" a": -0.1, " str": -2.0, " None": -3.0}]
        handler.send_sse(
            [
                {"choices": [{"text": text, "logprobs": lp, "finish_reason": None}]},
                {"choices": [{"text": "", "finish_reason": "stop"}]},
            ]
        )

    double = double_factory(script)
    engine = _engine(double.url)
    result = await engine.generate(GenerationRequest(PARTS, n_candidates=3, stop=("\n",)))
    texts = [c.text for c in result.candidates]
    assert texts[0] == " a + b"
    assert " str(x)" in texts
    assert len(texts) == 3
    assert double.requests[0]["logprobs"] == 3
    await engine.close()


async def test_llama_server_infill_mapping(double_factory: Any) -> None:
    """/infill request body and streamed reply mapping (the real server: tests/e2e)."""

    def script(handler: _Handler, path: str, body: dict[str, Any]) -> None:
        if path == "/health":
            handler.send_json(200, {"status": "ok"})
            return
        events: list[dict[str, Any]] = [
            {"content": " a", "stop": False},
            {"content": " + b", "stop": False},
            {
                "content": "",
                "stop": True,
                "stop_type": "eos",
                "tokens_evaluated": 40,
                "timings": {
                    "prompt_n": 4,
                    "cache_n": 36,
                    "prompt_ms": 12.5,
                    "predicted_n": 3,
                    "predicted_ms": 30.0,
                },
            },
        ]
        handler.send_sse(events)

    double = double_factory(script)
    engine = RemoteEngine(LlamaServerInfillApi(), url=double.url, timeout_ms=2000)
    await engine.start()
    assert engine.state == EngineState.READY
    assert engine.info is not None and engine.info.supports_fim
    result = await engine.generate(
        GenerationRequest(PARTS, max_tokens=16, time_budget_ms=900, stop=("\n",))
    )
    assert result.text == " a + b"
    assert result.stats.reused_tokens == 36 and result.stats.evaluated_tokens == 4
    assert result.stats.prompt_tokens == 40 and result.stats.generated_tokens == 3
    body = double.requests[-1]
    assert body["path"] == "/infill"
    assert body["input_prefix"] == PARTS.prefix and body["input_suffix"] == "\n"
    assert body["input_extra"] == [{"filename": "util.py", "text": "def helper(): ..."}]
    assert body["cache_prompt"] is True and body["stream"] is True
    assert body["n_predict"] == 16 and body["stop"] == ["\n"]
    assert 0 < body["t_max_predict_ms"] <= 900
    assert engine.scoring_supported is False
    assert await engine.score(PARTS, " a") == 0.0  # unsupported: ranking keeps order
    await engine.close()


async def test_sse_parser_handles_comments_and_multiline_data() -> None:
    import httpx

    raw = b': ping\n\ndata: {"a":\ndata: 1}\n\nevent: x\ndata: [DONE]\n\ndata: {"b": 2}\n\n'
    response = httpx.Response(200, content=raw)
    events = [e async for e in sse_events(response)]
    assert events == [{"a": 1}, SSE_DONE]


class _LocalStandIn:
    """Stands in for the local engine (unit test of the remote engine's fallback logic)."""

    def __init__(self) -> None:
        self._state = EngineState.LOADING
        self.generated = 0

    @property
    def state(self) -> str:
        return self._state

    @property
    def info(self) -> None:
        return None

    @property
    def error(self) -> None:
        return None

    async def start(self) -> None:
        self._state = EngineState.READY

    async def generate(self, request: GenerationRequest, cancel: Any = None) -> Any:
        from ghostls.engine.types import GenerationResult

        self.generated += 1
        return GenerationResult(" local", stop_reason="stop")

    async def score(self, prompt: PromptParts, continuation: str) -> float:
        return 0.0

    async def close(self) -> None:
        self._state = EngineState.DISABLED


async def test_fallback_serves_while_the_remote_is_down(double_factory: Any) -> None:
    port = _free_port()
    local = _LocalStandIn()
    engine = _engine(f"http://127.0.0.1:{port}", fallback=local)
    await engine.start()
    assert engine.remote_state == EngineState.ERROR
    assert engine.state == EngineState.READY  # completions go on, locally
    assert engine.error is not None and "using the local model" in engine.error
    assert await _eventually(lambda: local.state == EngineState.READY)  # loaded on failure
    assert (await engine.generate(GenerationRequest(PARTS))).text == " local"
    double = double_factory(openai_script([" remote"]), port=port)
    assert await _eventually(lambda: engine.remote_state == EngineState.READY)
    assert engine.error is None
    assert (await engine.generate(GenerationRequest(PARTS))).text == " remote"
    assert local.generated == 1 and double.requests
    await engine.close()
    assert local.state == EngineState.DISABLED


async def test_a_server_that_never_answers_becomes_an_error(double_factory: Any) -> None:
    """Accepts connections but sends nothing: after a few spent budgets, one error."""

    def script(handler: _Handler, path: str, body: dict[str, Any]) -> None:
        if path == "/v1/models":
            handler.send_json(200, {"data": [{"id": "m"}]})
        else:
            time.sleep(1.0)  # longer than the budgets below, no headers meanwhile

    double = double_factory(script)
    engine = _engine(double.url)
    await engine.start()
    reasons = []
    for _ in range(3):
        result = await engine.generate(GenerationRequest(PARTS, time_budget_ms=100))
        reasons.append(result.stop_reason)
    assert reasons == ["budget", "budget", "budget"]
    assert engine.state == EngineState.ERROR
    assert engine.error is not None and "did not start answering" in engine.error
    await engine.close()
