"""The engine's contract, shared by the local (llama.cpp) and remote backends.

Nothing here imports llama_cpp or an HTTP library, so callers (completion, fixes) depend on
this module only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ContextChunk:
    """Extra context for the prompt: a definition, a signature, a snippet of another file."""

    path: str  # file the chunk comes from (relative or a URI's basename)
    text: str


@dataclass(frozen=True)
class PromptParts:
    """What the context builder chose; the engine lays it out for its model (FIM or prefix)."""

    prefix: str  # text before the cursor (windowed, starts at a line boundary)
    suffix: str = ""  # text after the cursor (windowed, ends at a line boundary)
    extra: tuple[ContextChunk, ...] = ()  # most useful first; placed before the prefix
    path: str = ""  # the current file's name, for repo-level FIM layouts


class CancelToken:
    """Cooperative cancellation: the decode loop checks it between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True)
class GenerationRequest:
    prompt: PromptParts
    max_tokens: int = 64
    stop: tuple[str, ...] = ()  # stop strings; the text is cut before the first one
    time_budget_ms: int = 1500
    # Requests with the same key supersede each other (usually the document URI).
    key: str = ""
    # Called with the text generated so far; returning True stops generation there.
    should_stop: Callable[[str], bool] | None = None
    n_candidates: int = 1  # >1: alternatives branching at the first token (fixes)
    # Skip this many of the likeliest first tokens: the candidates branch from the next ones (a
    # caller that refused the greedy text asks for rank 1, then 2, ...). Backends that cannot
    # skip return other ranks or no candidates; callers check each candidate's ``rank``.
    first_rank: int = 0
    # False: no token healing for this request. Alternatives use it: with healing, the first
    # tokens that re-spell an indentation are its whitespace variants, not other statements.
    token_healing: bool = True
    # Words the text may not open with (after blanks), e.g. block openers and "#" where a
    # single simple statement belongs. Local engines mask their tokens; others ignore it.
    avoid_first: tuple[str, ...] = ()
    temperature: float = 0.0  # 0 = greedy


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    reused_tokens: int = 0  # served from the KV cache
    evaluated_tokens: int = 0  # prompt tokens actually decoded
    generated_tokens: int = 0
    draft_tokens: int = 0  # proposed by prompt-lookup decoding
    accepted_draft_tokens: int = 0
    prompt_ms: float = 0.0
    generation_ms: float = 0.0
    queue_ms: float = 0.0  # waiting for the worker

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Candidate:
    text: str
    logprob: float  # sum of token log-probabilities (higher is more likely)
    rank: int = 0  # rank of its first token in the first distribution (0 = the greedy one)


@dataclass
class GenerationResult:
    text: str
    stats: GenerationStats = field(default_factory=GenerationStats)
    stop_reason: str = "stop"  # stop | length | budget | cancelled | superseded | error
    candidates: tuple[Candidate, ...] = ()  # filled when n_candidates > 1

    @property
    def cancelled(self) -> bool:
        return self.stop_reason in ("cancelled", "superseded")


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: str
    supports_fim: bool
    context_size: int
    backend: str = "local"


class EngineState:
    LOADING = "loading"
    READY = "ready"
    ERROR = "error"
    DISABLED = "disabled"


class Engine(Protocol):
    """An inference backend. ``generate`` is awaited on the event loop; work runs elsewhere."""

    @property
    def state(self) -> str: ...

    @property
    def info(self) -> ModelInfo | None: ...

    @property
    def error(self) -> str | None: ...

    async def generate(
        self, request: GenerationRequest, cancel: CancelToken | None = None
    ) -> GenerationResult: ...

    async def score(self, prompt: PromptParts, continuation: str) -> float:
        """Log-probability of ``continuation`` after ``prompt`` (for ranking)."""
        ...

    async def close(self) -> None: ...
