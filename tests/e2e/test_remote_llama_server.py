"""The llama-server backend against llama.cpp's real C++ server (the ``xllamacpp`` wheel runs
it in a subprocess on loopback), with a tiny FIM model so /infill has its FIM tokens.

The tiny model's weights are random, so its text is noise: these tests check the protocol
(request mapping, streaming, stats, cancellation, errors), not the suggestions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from lsprotocol import types

from ghostls.bench.remote import InferenceServer, llama_cpp_server_available
from ghostls.engine.model_files import ensure_embedded_model
from ghostls.engine.remote import RemoteEngine
from ghostls.engine.remote_llama_server import LlamaServerInfillApi
from ghostls.engine.remote_openai import OpenAICompletionsApi
from ghostls.engine.types import (
    CancelToken,
    ContextChunk,
    EngineState,
    GenerationRequest,
    PromptParts,
)
from tests.fixtures.tiny_fim_model import build_tiny_fim_model
from tests.lsp_helpers import lsp_client, open_document

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not llama_cpp_server_available(), reason="xllamacpp is not installed"),
]

PARTS = PromptParts(prefix="def add(a, b):\n    return", suffix="\n\nprint(add(1, 2))\n")
EXTRA = (ContextChunk("util.py", "def helper(x):\n    return x * 2\n" * 4),)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InferenceServer]:
    folder = tmp_path_factory.mktemp("llama-server")
    model = build_tiny_fim_model(folder / "tiny-fim.gguf", repo_level=True)
    # The tiny model's context is 512: a small batch leaves input_extra its room.
    with InferenceServer(
        model, kind="llama.cpp", n_ctx=512, n_batch=128, log_path=folder / "server.log"
    ) as server:
        yield server


@pytest.fixture(scope="module")
def gemma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InferenceServer]:
    """The embedded model (no FIM tokens) behind llama.cpp's server."""
    log = tmp_path_factory.mktemp("llama-server-gemma") / "server.log"
    with InferenceServer(ensure_embedded_model(), kind="llama.cpp", log_path=log) as server:
        yield server


def _engine(server: InferenceServer) -> RemoteEngine:
    return RemoteEngine(LlamaServerInfillApi(), url=server.url, timeout_ms=20000)


def _plain(value: Any) -> Any:
    """Command results arrive as pygls objects or dicts: make them dicts and lists."""
    if hasattr(value, "_asdict"):
        value = value._asdict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _slots(server: InferenceServer) -> list[dict[str, Any]]:
    reply = httpx.get(f"{server.url}/slots", timeout=5)
    reply.raise_for_status()
    return list(reply.json())


async def test_infill_streams_and_maps_stats(llama_server: InferenceServer) -> None:
    engine = _engine(llama_server)
    try:
        await engine.start()
        assert engine.state == EngineState.READY
        assert engine.info is not None and engine.info.supports_fim
        plain = await engine.generate(GenerationRequest(PARTS, max_tokens=8, time_budget_ms=20000))
        assert plain.stop_reason in ("stop", "length")
        assert plain.stats.generated_tokens >= 1 and plain.stats.prompt_tokens > 0
        with_extra = await engine.generate(
            GenerationRequest(
                PromptParts(PARTS.prefix, PARTS.suffix, EXTRA), max_tokens=8, time_budget_ms=20000
            )
        )
        # input_extra reached the model: the prompt the server evaluated grew.
        assert with_extra.stats.prompt_tokens > plain.stats.prompt_tokens + 20
        again = await engine.generate(GenerationRequest(PARTS, max_tokens=8, time_budget_ms=20000))
        assert again.text == plain.text  # greedy: the same FIM prompt, the same text
        assert again.stats.reused_tokens > 0  # cache_prompt: the server kept the KV cache
    finally:
        await engine.close()


async def test_cancel_stops_the_server_generating(gemma_server: InferenceServer) -> None:
    """Through llama.cpp's OpenAI-compatible endpoint (the tiny FIM model is too fast to
    catch mid-generation): a cancelled stream frees the server's slot at once."""
    llama_server = gemma_server
    engine = RemoteEngine(OpenAICompletionsApi(2048), url=llama_server.url, timeout_ms=20000)
    cancel = CancelToken()
    counting = PromptParts(prefix="NUMBERS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,")
    request = GenerationRequest(counting, max_tokens=400, time_budget_ms=60000)
    try:
        task = asyncio.ensure_future(engine.generate(request, cancel))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            s.get("is_processing") for s in _slots(llama_server)
        ):
            await asyncio.sleep(0.02)
        assert any(s.get("is_processing") for s in _slots(llama_server))
        await asyncio.sleep(0.2)
        cancel.cancel()
        cancelled_at = time.monotonic()
        result = await task
        assert result.stop_reason == "cancelled"
        # The server noticed the closed connection and freed its slot long before 2000 tokens.
        while time.monotonic() - cancelled_at < 5 and any(
            s.get("is_processing") for s in _slots(llama_server)
        ):
            await asyncio.sleep(0.02)
        assert not any(s.get("is_processing") for s in _slots(llama_server))
        assert time.monotonic() - cancelled_at < 2.0
        assert engine.state == EngineState.READY
    finally:
        await engine.close()


async def test_model_without_fim_tokens_gives_a_clear_error(
    gemma_server: InferenceServer,
) -> None:
    engine = _engine(gemma_server)
    try:
        await engine.start()
        assert engine.context_size == 2048  # learnt from the server's /props
        result = await engine.generate(GenerationRequest(PARTS, time_budget_ms=20000))
        assert result.stop_reason == "error"
        assert engine.state == EngineState.ERROR
        assert engine.error is not None
        assert "HTTP 501" in engine.error and "not supported by this model" in engine.error
    finally:
        await engine.close()


async def test_through_the_lsp(llama_server: InferenceServer) -> None:
    settings = {
        "backend": {"kind": "llama-server", "url": llama_server.url, "timeoutMs": 20000},
        "completion": {"timeBudgetMs": 20000},
        "diagnostics": {"enable": False},
    }
    async with lsp_client(init_options=settings) as client:

        async def stats() -> Any:
            return _plain(
                await client.workspace_execute_command_async(
                    types.ExecuteCommandParams(command="ghostls.stats", arguments=[])
                )
            )

        uri = open_document(client, "/tmp/ghostls_llama_server.py", PARTS.prefix + PARTS.suffix)
        engine: Any = None

        async def ready() -> bool:
            nonlocal engine
            engine = (await stats())["engine"]
            return bool(engine["state"] == "ready")

        for _ in range(200):
            if await ready():
                break
            await asyncio.sleep(0.1)
        assert engine["state"] == "ready", engine
        assert engine["backend"] == "llama-server" and engine["fim"] is True
        await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=1, character=len("    return")),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Invoked
                ),
            )
        )
        recent = (await stats())["completion"]["recent"][-1]
        # The request went to llama.cpp and came back with its own timings.
        assert recent["engine"]["prompt_tokens"] > 0, recent
        assert recent["engine"]["stop_reason"] in ("stop", "length"), recent
