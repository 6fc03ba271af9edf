"""llama-cpp-python's high-level API, only as a benchmark reference for our decode loop.

Kept apart from the engine: ``llama_cpp.Llama(verbose=False)`` redirects the process's
stdout/stderr while loading, which is harmless in a benchmark but not in the server.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HighLevelTiming:
    first_token_ms: float
    ms_per_token: float  # after the first token
    cpu_ms_per_token: float  # this thread's CPU time (llama.cpp computes here with 1 thread)
    tokens: int
    text: str


def time_create_completion(
    path: str, prompt: str, max_tokens: int, *, n_ctx: int, threads: int, greedy: bool = True
) -> HighLevelTiming:
    """Streamed ``create_completion`` on a fresh ``Llama`` (freed after): greedy
    (temperature 0, top_k 1) or with the library's default sampling parameters."""
    from llama_cpp import Llama

    from ghostls.engine.llama_model import install_log_callback

    llm = Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, verbose=False)
    install_log_callback()  # keep llama.cpp's logging in Python logging afterwards
    try:
        start = time.perf_counter()
        stamps: list[float] = []
        cpu: list[float] = []
        parts: list[str] = []
        sampling: dict[str, Any] = {"temperature": 0.0, "top_k": 1} if greedy else {}
        chunks: Any = llm.create_completion(prompt, max_tokens=max_tokens, stream=True, **sampling)
        for chunk in chunks:
            stamps.append(time.perf_counter())
            cpu.append(time.thread_time())
            parts.append(chunk["choices"][0]["text"])
        if not stamps:
            return HighLevelTiming(0.0, 0.0, 0.0, 0, "")
        steps = max(1, len(stamps) - 1)
        return HighLevelTiming(
            (stamps[0] - start) * 1000,
            (stamps[-1] - stamps[0]) / steps * 1000,
            (cpu[-1] - cpu[0]) / steps * 1000,
            len(stamps),
            "".join(parts),
        )
    finally:
        llm.close()
