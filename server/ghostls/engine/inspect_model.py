"""Read a GGUF's prompt capabilities (FIM tokens) for `ghostls model`."""

from __future__ import annotations


def describe_model(path: str) -> dict[str, str]:
    # Replaced by the engine's real inspection once it lands.
    return {"fim": "unknown (the inference engine is not built yet)"}
