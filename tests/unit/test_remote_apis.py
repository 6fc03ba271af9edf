"""Request bodies and reply parsing of the remote APIs, and the back-off policy (pure code)."""

from __future__ import annotations

import math

import httpx
import pytest

from ghostls.config import parse_settings
from ghostls.engine.factory import create_engine
from ghostls.engine.remote import RemoteEngine
from ghostls.engine.remote_api import prefix_prompt_text
from ghostls.engine.remote_health import (
    Backoff,
    MalformedReply,
    RemoteError,
    describe_failure,
    describe_http_error,
)
from ghostls.engine.remote_llama_server import LlamaServerInfillApi
from ghostls.engine.remote_openai import OpenAICompletionsApi, parse_logprobs
from ghostls.engine.types import ContextChunk, GenerationRequest, PromptParts

PARTS = PromptParts(
    prefix="import os\n\ndef main():\n    ",
    suffix="\n",
    extra=(ContextChunk("b.py", "B = 2"), ContextChunk("a.py", "A = 1\n")),
    path="pkg/app.py",
)


def test_prefix_prompt_matches_the_local_layout() -> None:
    text = prefix_prompt_text(PARTS)
    # Chunks sorted by path (stable across keystrokes), then the file name, then the prefix.
    assert text == (
        "# file: a.py\nA = 1\n\n# file: b.py\nB = 2\n\n# file: pkg/app.py\n" + PARTS.prefix
    )


def test_prefix_prompt_drops_chunks_then_prefix_lines_over_budget() -> None:
    long_prefix = "".join(f"line_{i} = {i}\n" for i in range(200))
    parts = PromptParts(prefix=long_prefix, extra=(ContextChunk("x.py", "X" * 300),))
    text = prefix_prompt_text(parts, max_tokens=100)
    assert "x.py" not in text
    assert len(text) <= 300
    assert text.endswith("line_199 = 199\n")
    assert text.startswith("line_")  # cut at a line boundary


def test_openai_body() -> None:
    api = OpenAICompletionsApi()
    request = GenerationRequest(PARTS, max_tokens=12, stop=("\n", "a", "b", "c", "d"))
    body = api.generation_body(request, model="m", forced="x", top_k=0, budget_ms=500)
    assert body["prompt"].endswith(PARTS.prefix + "x")
    assert body["stop"] == ["\n", "a", "b", "c"]  # at most 4; the engine enforces the rest
    assert body["max_tokens"] == 12 and body["temperature"] == 0.0 and body["stream"]
    assert "logprobs" not in body
    assert api.generation_body(request, model="", forced="", top_k=3, budget_ms=1)["logprobs"] == 3


def test_openai_events() -> None:
    api = OpenAICompletionsApi()
    piece = api.parse_event({"choices": [{"text": "ab", "finish_reason": None}]})
    assert piece.text == "ab" and piece.finish is None
    assert api.parse_event({"choices": [{"text": "", "finish_reason": "length"}]}).finish == (
        "length"
    )
    with pytest.raises(MalformedReply):
        api.parse_event({"choices": []})
    with pytest.raises(MalformedReply):
        api.parse_event({"choices": [{"text": 5}]})
    with pytest.raises(RemoteError, match="context window"):
        api.parse_event({"error": {"message": "exceeds context window"}})


def test_both_logprob_shapes() -> None:
    legacy = {"tokens": [" a"], "token_logprobs": [-0.5], "top_logprobs": [{" b": -2, " a": -0.5}]}
    total, top = parse_logprobs(legacy)
    assert total == -0.5 and top == ((" a", -0.5), (" b", -2.0))
    llama = {
        "content": [
            {"token": " a", "logprob": -0.25, "top_logprobs": [{"token": " a", "logprob": -0.25}]}
        ]
    }
    assert parse_logprobs(llama) == (-0.25, ((" a", -0.25),))
    assert parse_logprobs(None) == (None, ())


def test_openai_score_sums_continuation_tokens() -> None:
    api = OpenAICompletionsApi()
    spec = api.score_body(PromptParts(prefix="x ="), " 1", model="")
    assert spec is not None
    path, body, boundary = spec
    assert path == "/v1/completions" and body["echo"] is True and body["prompt"] == "x = 1"
    reply = {
        "choices": [
            {
                "logprobs": {
                    "tokens": ["x", " =", " 1", "\n"],
                    "text_offset": [0, 1, 3, 5],
                    "token_logprobs": [None, -1.0, -0.5, -0.1],
                }
            }
        ]
    }
    assert api.parse_score(reply, boundary, boundary + 2) == -0.5
    with pytest.raises(MalformedReply):
        api.parse_score({"choices": [{"text": "x"}]}, boundary, boundary + 2)


def test_llama_server_events_and_probabilities() -> None:
    api = LlamaServerInfillApi()
    piece = api.parse_event(
        {
            "content": "x",
            "stop": False,
            "completion_probabilities": [
                {"token": "x", "logprob": -0.1, "top_logprobs": [{"token": "y", "logprob": -3}]}
            ],
        }
    )
    assert piece.text == "x" and piece.logprob == -0.1 and piece.top == (("y", -3.0),)
    old = api.parse_event(
        {"content": "x", "completion_probabilities": [{"probs": [{"tok_str": "x", "prob": 0.5}]}]}
    )
    assert old.top == (("x", math.log(0.5)),)
    assert api.parse_event({"content": "", "stop": True, "stop_type": "limit"}).finish == "length"
    with pytest.raises(RemoteError, match="not supported"):
        api.parse_event({"error": {"code": 501, "message": "Infill is not supported"}})
    with pytest.raises(MalformedReply):
        api.parse_event({"tokens": [1]})


def test_backoff_doubles_and_caps() -> None:
    now = [100.0]
    backoff = Backoff(base_s=1.0, cap_s=5.0, clock=lambda: now[0])
    assert not backoff.waiting
    assert [backoff.record_failure() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.waiting and backoff.seconds_left == 5.0
    now[0] += 5.0
    assert not backoff.waiting
    backoff.record_success()
    assert backoff.failures == 0 and backoff.record_failure() == 1.0


def test_failure_messages_are_clear() -> None:
    url = "http://gpu:8080"
    request = httpx.Request("POST", url)
    refused = describe_failure(httpx.ConnectError("[Errno 111] refused", request=request), url, 1)
    assert "cannot connect" in refused.message and url in refused.message
    assert not refused.reachable
    slow = describe_failure(httpx.ReadTimeout("timed out", request=request), url, 5000)
    assert "5000 ms" in slow.message and "backend.timeoutMs" in slow.message
    missing = describe_http_error(httpx.Response(404, text="nope"), url, "/infill")
    assert "/infill" in missing.message and "backend.kind" in missing.message
    assert missing.reachable


def test_factory_builds_remote_engines_and_rejects_a_missing_url() -> None:
    settings = parse_settings(
        {"backend": {"kind": "llama-server", "url": "http://h:1/", "timeoutMs": 900}}
    ).settings
    engine = create_engine(settings)
    assert isinstance(engine, RemoteEngine)
    assert engine.url == "http://h:1" and engine.timeout_ms == 900
    assert engine.info is not None and engine.info.backend == "llama-server"
    with pytest.raises(ValueError, match=r"backend\.url"):
        create_engine(parse_settings({"backend": {"kind": "openai"}}).settings)
