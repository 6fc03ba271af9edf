"""The OpenAI-compatible ``/v1/completions`` API (llama.cpp's server, vLLM, TGI, Ollama,
llama-cpp-python's server): a plain text prompt, streamed back as server-sent events.

There is no FIM here: the prompt is the local prefix layout (chunks, file name, prefix) and
the suffix is left to post-processing, as for a local model without FIM tokens.
"""

from __future__ import annotations

import math
from typing import Any

from ghostls.engine.remote_api import Piece, prefix_prompt_text
from ghostls.engine.remote_health import MalformedReply, RemoteError
from ghostls.engine.types import GenerationRequest, PromptParts

# OpenAI itself accepts at most 4 stop strings; the engine enforces the rest locally.
MAX_STOP_STRINGS = 4


class OpenAICompletionsApi:
    kind = "openai"
    generate_path = "/v1/completions"
    health_path = "/v1/models"
    supports_fim = False

    def __init__(self, context_tokens: int = 0) -> None:
        self.context_tokens = context_tokens

    def _prompt(self, parts: PromptParts, max_new: int) -> str:
        room = self.context_tokens - max_new if self.context_tokens else 0
        return prefix_prompt_text(parts, max(room, 0))

    def generation_body(
        self, request: GenerationRequest, *, model: str, forced: str, top_k: int, budget_ms: int
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": self._prompt(request.prompt, request.max_tokens) + forced,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
        }
        if model:
            body["model"] = model
        if request.stop:
            body["stop"] = list(request.stop[:MAX_STOP_STRINGS])
        if top_k > 0:
            body["logprobs"] = top_k
        return body

    def parse_event(self, event: dict[str, Any]) -> Piece:
        choices = event.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            if "error" in event:
                raise RemoteError(
                    f"the inference server reported: {_error_text(event)}", reachable=True
                )
            raise MalformedReply("the inference server sent a completion event without choices")
        choice = choices[0]
        text = choice.get("text") or ""
        if not isinstance(text, str):
            raise MalformedReply("the inference server sent a completion whose text is not text")
        logprob, top = parse_logprobs(choice.get("logprobs"))
        finish = choice.get("finish_reason")
        return Piece(
            text=text,
            logprob=logprob,
            top=top,
            finish=str(finish) if finish else None,
        )

    def score_body(
        self, prompt: PromptParts, continuation: str, *, model: str
    ) -> tuple[str, dict[str, Any], int] | None:
        text = self._prompt(prompt, len(continuation) // 2 + 1)
        # echo returns the prompt's own tokens with their log-probabilities.
        body: dict[str, Any] = {
            "prompt": text + continuation,
            "max_tokens": 1,
            "temperature": 0.0,
            "echo": True,
            "logprobs": 1,
            "stream": False,
        }
        if model:
            body["model"] = model
        return (self.generate_path, body, len(text))

    def parse_score(self, reply: dict[str, Any], boundary: int, end: int) -> float:
        """Sum the log-probabilities of the echoed tokens between ``boundary`` and ``end``."""
        try:
            logprobs = reply["choices"][0]["logprobs"]
            offsets = logprobs["text_offset"]
            values = logprobs["token_logprobs"]
            tokens = logprobs["tokens"]
        except (KeyError, IndexError, TypeError) as exc:
            raise MalformedReply(
                "the inference server did not echo prompt log-probabilities (no `echo` support)"
            ) from exc
        if not isinstance(offsets, list) or len(offsets) != len(values):
            raise MalformedReply("the inference server sent mismatched log-probabilities")
        total = 0.0
        counted = 0
        for offset, value, token in zip(offsets, values, tokens, strict=False):
            token_end = offset + len(token) if isinstance(token, str) else offset
            # Tokens ending after the boundary carry continuation text; the generated token
            # (starting at or after ``end``) does not belong to it.
            if token_end <= boundary or offset >= end or value is None:
                continue
            total += float(value)
            counted += 1
        if counted == 0 and end > boundary:
            raise MalformedReply("the inference server echoed no tokens for the continuation")
        return total


def _error_text(event: dict[str, Any]) -> str:
    error = event.get("error")
    if isinstance(error, dict):
        error = error.get("message", error)
    return str(error)[:200]


def parse_logprobs(value: Any) -> tuple[float | None, tuple[tuple[str, float], ...]]:
    """Both shapes in use: the legacy completions one (``token_logprobs``/``top_logprobs``
    dicts) and the chat-style one llama.cpp's server sends (``content`` list)."""
    if not isinstance(value, dict):
        return None, ()
    if isinstance(value.get("content"), list):  # llama.cpp server
        entries = [e for e in value["content"] if isinstance(e, dict)]
        if not entries:
            return None, ()
        total = sum(float(e.get("logprob", 0.0)) for e in entries)
        first = entries[0].get("top_logprobs") or []
        top = tuple(
            (str(t.get("token", "")), float(t.get("logprob", -math.inf)))
            for t in first
            if isinstance(t, dict)
        )
        return total, _best_first(top)
    values = value.get("token_logprobs")
    total_value: float | None = None
    if isinstance(values, list) and values:
        total_value = sum(float(v) for v in values if isinstance(v, int | float))
    tops = value.get("top_logprobs")
    top_pairs: tuple[tuple[str, float], ...] = ()
    if isinstance(tops, list) and tops and isinstance(tops[0], dict):
        top_pairs = tuple((str(k), float(v)) for k, v in tops[0].items())
    return total_value, _best_first(top_pairs)


def _best_first(pairs: tuple[tuple[str, float], ...]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(pairs, key=lambda p: -p[1]))
