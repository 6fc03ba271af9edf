"""What one remote HTTP API must provide to RemoteEngine: request bodies and reply parsing.

An API object is pure (no I/O): it builds JSON bodies from a GenerationRequest and turns each
streamed JSON event into a ``Piece``. RemoteEngine does the HTTP, streaming, cancellation and
failure handling once for every API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ghostls.engine.prompt import render_chunk, stable_order
from ghostls.engine.types import GenerationRequest, PromptParts

# Without a tokenizer on this side, prompts are capped by characters; code averages well
# above 3 characters per token, so this stays inside the server's context.
CHARS_PER_TOKEN = 3


@dataclass(frozen=True)
class Piece:
    """One streamed event, reduced to what the engine needs."""

    text: str = ""
    logprob: float | None = None  # sum over the event's tokens, when the server sent them
    # Alternatives at the event's first token position: (token text, logprob), best first.
    top: tuple[tuple[str, float], ...] = ()
    finish: str | None = None  # "stop" | "length" | None while generating
    stats: dict[str, float] = field(default_factory=dict)  # GenerationStats fields


class RemoteApi(Protocol):
    kind: str  # the backend.kind this API serves
    generate_path: str
    health_path: str  # GET answers 2xx once the server can take requests
    supports_fim: bool

    def generation_body(
        self, request: GenerationRequest, *, model: str, forced: str, top_k: int, budget_ms: int
    ) -> dict[str, Any]:
        """JSON body for a streamed generation; ``forced`` is text already chosen after the
        prefix (candidate branches), ``top_k`` > 0 asks for alternatives per token."""
        ...

    def parse_event(self, event: dict[str, Any]) -> Piece: ...

    def score_body(
        self, prompt: PromptParts, continuation: str, *, model: str
    ) -> tuple[str, dict[str, Any], int] | None:
        """(path, body, boundary) for scoring, or None when the API cannot score."""
        ...

    def parse_score(self, reply: dict[str, Any], boundary: int, end: int) -> float: ...


def prefix_prompt_text(parts: PromptParts, max_tokens: int = 0) -> str:
    """The prefix-model prompt as text, laid out like the local engine's (engine/prompt.py):
    extra chunks in a stable order as comment sections, the current file's name, the prefix.

    Over ``max_tokens`` (estimated from characters), the least useful chunks go first, then
    whole lines from the start of the prefix.
    """
    chunks = list(parts.extra)  # most useful first
    file_line = f"# file: {parts.path}\n" if parts.path else ""
    limit = max_tokens * CHARS_PER_TOKEN if max_tokens > 0 else 0

    def head(kept: list[Any]) -> str:
        return "".join(render_chunk(c) for c in stable_order(kept)) + file_line

    text_head = head(chunks)
    prefix = parts.prefix
    while limit and chunks and len(text_head) + len(prefix) > limit:
        chunks.pop()
        text_head = head(chunks)
    if limit and len(text_head) + len(prefix) > limit:
        room = max(0, limit - len(text_head))
        cut = len(prefix) - room
        newline = prefix.find("\n", cut)
        prefix = prefix[newline + 1 :] if newline >= 0 else prefix[cut:]
    return text_head + prefix
