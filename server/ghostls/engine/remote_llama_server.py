"""llama.cpp server's ``/infill``: the server lays out the FIM prompt for its model's tokens.

Extra context chunks travel as ``input_extra`` (the server renders them as repo-level file
sections when the model has a file separator token), ``cache_prompt`` keeps the server's KV
cache across keystrokes, and ``t_max_predict_ms`` lets the server itself stop at our budget.
"""

from __future__ import annotations

import math
from typing import Any

from ghostls.engine.remote_api import Piece
from ghostls.engine.remote_health import MalformedReply, RemoteError
from ghostls.engine.types import GenerationRequest, PromptParts

_FINISH = {"eos": "stop", "word": "stop", "limit": "length"}


class LlamaServerInfillApi:
    kind = "llama-server"
    generate_path = "/infill"
    health_path = "/health"
    supports_fim = True

    def generation_body(
        self, request: GenerationRequest, *, model: str, forced: str, top_k: int, budget_ms: int
    ) -> dict[str, Any]:
        parts = request.prompt
        body: dict[str, Any] = {
            "input_prefix": parts.prefix,
            "input_suffix": parts.suffix,
            "input_extra": [{"filename": c.path, "text": c.text} for c in parts.extra],
            # Text after the FIM middle token: what a candidate branch already chose.
            "prompt": forced,
            "n_predict": request.max_tokens,
            "t_max_predict_ms": max(1, budget_ms),
            "cache_prompt": True,
            "temperature": request.temperature,
            "stream": True,
        }
        if request.temperature <= 0:
            body["top_k"] = 1
        if request.stop:
            body["stop"] = list(request.stop)
        if top_k > 0:
            body["n_probs"] = top_k
        if model:
            body["model"] = model
        return body

    def parse_event(self, event: dict[str, Any]) -> Piece:
        if "error" in event and "content" not in event:
            error = event["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise RemoteError(
                f"the inference server reported: {str(message)[:200]}", reachable=True
            )
        text = event.get("content")
        if not isinstance(text, str):
            raise MalformedReply("the inference server sent an infill event without content")
        finish = None
        if event.get("stop") is True:
            finish = _FINISH.get(str(event.get("stop_type", "")), "stop")
        logprob, top = _parse_probabilities(event.get("completion_probabilities"))
        return Piece(text=text, logprob=logprob, top=top, finish=finish, stats=_stats(event))

    def score_body(
        self, prompt: PromptParts, continuation: str, *, model: str
    ) -> tuple[str, dict[str, Any], int] | None:
        # llama.cpp's server returns no log-probabilities for prompt tokens.
        return None

    def parse_score(self, reply: dict[str, Any], boundary: int, end: int) -> float:
        raise MalformedReply("scoring is not supported by llama-server's /infill")


def _stats(event: dict[str, Any]) -> dict[str, float]:
    timings = event.get("timings")
    if not isinstance(timings, dict):
        return {}
    stats: dict[str, float] = {}
    evaluated = timings.get("prompt_n")
    cached = timings.get("cache_n")
    if isinstance(evaluated, int | float):
        stats["evaluated_tokens"] = float(evaluated)
    if isinstance(cached, int | float):
        stats["reused_tokens"] = float(cached)
    prompt_tokens = event.get("tokens_evaluated")
    if isinstance(prompt_tokens, int | float):
        stats["prompt_tokens"] = float(prompt_tokens)
        if "reused_tokens" not in stats and "evaluated_tokens" in stats:
            stats["reused_tokens"] = max(0.0, float(prompt_tokens) - stats["evaluated_tokens"])
    for source, target in (
        ("predicted_n", "generated_tokens"),
        ("prompt_ms", "prompt_ms"),
        ("predicted_ms", "generation_ms"),
    ):
        value = timings.get(source)
        if isinstance(value, int | float):
            stats[target] = float(value)
    return stats


def _parse_probabilities(value: Any) -> tuple[float | None, tuple[tuple[str, float], ...]]:
    """llama.cpp's two shapes: ``logprob``/``top_logprobs`` (current) and ``probs`` with plain
    probabilities (older servers)."""
    if not isinstance(value, list) or not value or not isinstance(value[0], dict):
        return None, ()
    total = 0.0
    for entry in value:
        if isinstance(entry, dict) and isinstance(entry.get("logprob"), int | float):
            total += float(entry["logprob"])
    first = value[0]
    pairs: list[tuple[str, float]] = []
    if isinstance(first.get("top_logprobs"), list):
        for t in first["top_logprobs"]:
            if isinstance(t, dict) and isinstance(t.get("logprob"), int | float):
                pairs.append((str(t.get("token", "")), float(t["logprob"])))
    elif isinstance(first.get("probs"), list):
        for t in first["probs"]:
            if isinstance(t, dict) and isinstance(t.get("prob"), int | float) and t["prob"] > 0:
                pairs.append((str(t.get("tok_str", "")), math.log(float(t["prob"]))))
    pairs.sort(key=lambda p: -p[1])
    return total if "logprob" in first else None, tuple(pairs)
