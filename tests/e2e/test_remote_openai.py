"""The openai backend end to end: the real ghostls server over stdio, talking to
llama-cpp-python's own OpenAI-compatible server on loopback, with the embedded model.

The inference server is a subprocess started and stopped here; its stdout log is how we see
what it did (requests, client disconnects).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient
from pytest_lsp.client import make_test_lsp_client

from ghostls.bench.remote import InferenceServer
from ghostls.engine.model_files import ensure_embedded_model
from ghostls.engine.remote import RemoteEngine
from ghostls.engine.remote_openai import OpenAICompletionsApi
from ghostls.engine.types import EngineState, GenerationRequest, PromptParts
from tests.lsp_helpers import SERVER_COMMAND, capabilities, change_document, open_document

pytestmark = [pytest.mark.model, pytest.mark.slow]

API_KEY = "sk-ghostls-e2e-7f3a9c1d5b"  # a made-up key: it must never show up in logs
KEY_ENV = "GHOSTLS_E2E_REMOTE_KEY"

ADD = 'def add(a, b):\n    """Return the sum of a and b."""\n    return \n'
# A long single line: greedy decoding keeps counting, so generation runs for seconds.
COUNTING = "NUMBERS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, \n"


@pytest.fixture(scope="module")
def inference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InferenceServer]:
    log = tmp_path_factory.mktemp("inference") / "llama-cpp-python.log"
    server = InferenceServer(ensure_embedded_model(), api_key=API_KEY, log_path=log)
    with server:
        yield server


def server_log(server: InferenceServer) -> str:
    assert server.log_path is not None
    return server.log_path.read_text(encoding="utf-8", errors="replace")


def backend(server: InferenceServer, **extra: Any) -> dict[str, Any]:
    return {
        "backend": {
            "kind": "openai",
            "url": server.url,
            "apiKeyEnv": KEY_ENV,
            # 2 shared cores: a cold prompt can take seconds; a dead server is refused at once.
            "timeoutMs": 30000,
            **extra,
        },
        "completion": {"timeBudgetMs": 20000},
        "diagnostics": {"enable": False},
    }


@asynccontextmanager
async def ghostls(settings: dict[str, Any], log_file: Path) -> AsyncIterator[LanguageClient]:
    """A real ghostls server with -vv logging to ``log_file``; records ghostls/status."""
    client = make_test_lsp_client()
    statuses: list[dict[str, Any]] = []
    client.statuses = statuses  # type: ignore[attr-defined]

    @client.feature("ghostls/status")
    def _status(params: Any) -> None:
        statuses.append(dict(params._asdict()) if hasattr(params, "_asdict") else dict(params))

    env = {**os.environ, KEY_ENV: API_KEY}
    await client.start_io(*SERVER_COMMAND, "--log-file", str(log_file), "-vv", env=env)
    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=capabilities(),
                initialization_options=settings,
                root_uri=Path.cwd().as_uri(),
            )
        )
        yield client
    finally:
        try:
            await asyncio.wait_for(client.shutdown_session(), 20)
        finally:
            await client.stop()


def statuses(client: LanguageClient) -> list[dict[str, Any]]:
    return list(client.statuses)  # type: ignore[attr-defined]


async def wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return bool(predicate())


async def wait_state(client: LanguageClient, state: str, timeout: float = 60) -> dict[str, Any]:
    assert await wait_for(
        lambda: bool(statuses(client)) and statuses(client)[-1]["state"] == state, timeout
    ), f"no {state!r} status; got {statuses(client)}"
    return statuses(client)[-1]


async def inline(client: LanguageClient, uri: str, line: int, character: int) -> list[Any]:
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    )
    return list(result.items) if isinstance(result, types.InlineCompletionList) else []


async def recent(client: LanguageClient) -> Any:
    """The completion service's record of its last requests (outcome, engine stats)."""
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="ghostls.stats", arguments=[])
    )
    return getattr(getattr(result, "completion", None), "recent", result)


async def recent_engine(client: LanguageClient) -> dict[str, Any]:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="ghostls.stats", arguments=[])
    )
    engine = result["engine"] if isinstance(result, dict) else result.engine
    return dict(engine if isinstance(engine, dict) else engine._asdict())


def _everything_sent(client: LanguageClient) -> str:
    shown = [m.message for m in client.messages] + [m.message for m in client.log_messages]
    return "\n".join(shown + [repr(s) for s in statuses(client)])


async def test_completions_come_from_the_remote_server_and_the_key_stays_secret(
    inference: InferenceServer, tmp_path: Path
) -> None:
    log_file = tmp_path / "ghostls.log"
    before = server_log(inference).count("POST /v1/completions")
    async with ghostls(backend(inference), log_file) as client:
        ready = await wait_state(client, "ready")
        assert ready["backend"] == "openai" and ready["fim"] is False
        uri = open_document(client, str(tmp_path / "add.py"), ADD)
        items = await inline(client, uri, 2, len("    return "))
        assert items, f"no suggestion from the remote model: {await recent(client)}"
        text = items[0].insert_text
        assert isinstance(text, str) and "a" in text and "b" in text  # e.g. "a + b"
    # It came from the inference server, authenticated with the key from the environment
    # (the server rejects requests without it).
    assert server_log(inference).count("POST /v1/completions") > before
    assert "401" not in server_log(inference)
    ghostls_log = log_file.read_text(encoding="utf-8")
    assert "remote backend ready" in ghostls_log  # -vv really logged the session
    # ... in detail: outgoing messages, and the HTTP client's own request traces.
    assert "ghostls.protocol: sending" in ghostls_log
    assert "send_request_headers" in ghostls_log and "POST" in ghostls_log
    assert API_KEY not in ghostls_log
    assert API_KEY not in _everything_sent(client)


async def test_a_superseded_request_closes_its_stream_at_once(
    inference: InferenceServer, tmp_path: Path
) -> None:
    settings = backend(inference)
    settings["completion"] = {"timeBudgetMs": 20000, "maxTokens": 64, "multiline": "never"}
    async with ghostls(settings, tmp_path / "ghostls.log") as client:
        await wait_state(client, "ready")
        uri = open_document(client, str(tmp_path / "numbers.py"), COUNTING)
        column = len(COUNTING) - 1
        log_before = len(server_log(inference))
        first = asyncio.ensure_future(inline(client, uri, 0, column))
        # Wait until the server is streaming tokens for it.
        assert await wait_for(
            lambda: "POST /v1/completions" in server_log(inference)[log_before:], 30
        )
        await asyncio.sleep(0.5)
        assert not first.done(), "the long suggestion finished before it could be superseded"
        superseded_at = time.monotonic()
        # Not what the model is writing (ghostls would adopt the running generation then).
        change_document(client, uri, 2, (0, column), (0, column), "x")
        second = asyncio.ensure_future(inline(client, uri, 0, column + 1))
        assert await first == []  # the older request answers empty, at once
        assert time.monotonic() - superseded_at < 2.0
        # The inference server saw the client go away and stopped generating. It notices at
        # its next token, which on a loaded machine may still be behind the prompt's eval.
        assert await wait_for(
            lambda: "Disconnected from client" in server_log(inference)[log_before:], 30
        )
        await asyncio.wait_for(second, 60)
        log = server_log(inference)[log_before:]
        started = log.index("Llama.generate:")
        stopped = log.index("Disconnected from client")
        # llama-cpp-python prints "Disconnected" where its generation loop ends early, and a
        # perf summary ("eval time = ... runs") only for a generation that ran to its end:
        # the first one never did, and the newer request then got the model.
        assert "eval time" not in log[started:stopped]
        assert log[stopped:].count("Llama.generate:") >= 1


async def test_killed_server_gives_one_message_and_recovery(tmp_path: Path) -> None:
    server = InferenceServer(
        ensure_embedded_model(), api_key=API_KEY, log_path=tmp_path / "inference.log"
    )
    server.start()
    try:
        async with ghostls(backend(server), tmp_path / "ghostls.log") as client:
            await wait_state(client, "ready")
            uri = open_document(client, str(tmp_path / "add.py"), ADD)
            assert await inline(client, uri, 2, len("    return "))
            server.kill()
            # Keep typing while it is down: empty answers, quickly, and one message only.
            for version in range(2, 12):
                change_document(client, uri, version, (2, 11), (2, 11), "x")
                started = time.monotonic()
                assert await inline(client, uri, 2, 11 + version - 1) == []
                assert time.monotonic() - started < 3.0
            errors = [s for s in statuses(client) if s["state"] == "error"]
            assert len(errors) == 1, errors
            assert f"cannot connect to the inference server at {server.url}" in errors[0]["message"]
            sent = [m.message for m in client.messages] + [m.message for m in client.log_messages]
            about_it = [m for m in sent if "inference server" in m]
            assert len(about_it) == 1, about_it
            # It comes back by itself once the server is up again.
            server.start()
            ready = await wait_state(client, "ready", timeout=90)
            assert ready["backend"] == "openai"
            change_document(client, uri, 12, (2, 11), (2, 21), "")
            assert await inline(client, uri, 2, len("    return "))
            assert len([s for s in statuses(client) if s["state"] == "error"]) == 1
            assert API_KEY not in _everything_sent(client)
    finally:
        server.stop()
    assert API_KEY not in (tmp_path / "ghostls.log").read_text(encoding="utf-8")


async def test_engine_candidates_and_score_degrade_cleanly(inference: InferenceServer) -> None:
    """Started without logits_all, llama-cpp-python refuses log-probabilities: one candidate,
    scores of 0.0 (rank by order), and the engine stays ready."""
    os.environ[KEY_ENV] = API_KEY
    engine = RemoteEngine(OpenAICompletionsApi(2048), url=inference.url, api_key_env=KEY_ENV)
    try:
        await engine.start()
        assert engine.state == EngineState.READY
        parts = PromptParts(prefix=ADD.rstrip(), path="add.py")  # ends "return"
        result = await engine.generate(
            GenerationRequest(
                parts, max_tokens=8, stop=("\n",), n_candidates=3, time_budget_ms=30000
            )
        )
        assert result.text.strip() and len(result.candidates) == 1
        assert engine.logprobs_supported is False
        assert await engine.score(parts, " a + b") == 0.0
        assert engine.scoring_supported is False
        assert engine.state == EngineState.READY
    finally:
        await engine.close()
        os.environ.pop(KEY_ENV, None)


if sys.platform == "win32":  # pragma: no cover - signals differ
    pytestmark.append(pytest.mark.skip(reason="POSIX only"))


async def test_fallback_to_local_while_the_remote_is_down(tmp_path: Path) -> None:
    from ghostls.bench.remote import free_port

    down = InferenceServer(ensure_embedded_model(), port=free_port())  # never started
    settings = backend(down, fallbackToLocal=True)
    async with ghostls(settings, tmp_path / "ghostls.log") as client:
        await wait_state(client, "ready")
        uri = open_document(client, str(tmp_path / "add.py"), ADD)
        items: list[Any] = []
        for _ in range(100):  # the local model loads once the remote has failed
            items = await inline(client, uri, 2, len("    return "))
            if items:
                break
            await asyncio.sleep(0.2)
        assert items, f"no local suggestion: {await recent(client)}"
        engine = await recent_engine(client)
        assert engine["backend"] == "openai" and "using the local model" in (engine["error"] or "")


async def test_a_remote_backend_without_url_says_what_to_set(tmp_path: Path) -> None:
    settings = {"backend": {"kind": "openai"}, "diagnostics": {"enable": False}}
    async with ghostls(settings, tmp_path / "ghostls.log") as client:
        status = await wait_state(client, "error")
        assert "backend.url" in status["message"]
        assert await wait_for(lambda: any("backend.url" in m.message for m in client.messages), 10)


async def test_server_down_at_start_then_up(tmp_path: Path) -> None:
    """ghostls starts before the inference server: one error, then ready by itself."""
    server = InferenceServer(
        ensure_embedded_model(), api_key=API_KEY, log_path=tmp_path / "inference.log"
    )
    try:
        async with ghostls(backend(server), tmp_path / "ghostls.log") as client:
            error = await wait_state(client, "error")
            assert "cannot connect to the inference server" in error["message"]
            uri = open_document(client, str(tmp_path / "add.py"), ADD)
            assert await inline(client, uri, 2, len("    return ")) == []
            server.start()
            await wait_state(client, "ready", timeout=90)
            assert await inline(client, uri, 2, len("    return "))
    finally:
        server.stop()
