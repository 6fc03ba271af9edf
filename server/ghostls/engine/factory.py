"""Choose and build the engine for the current settings (one branch per backend.kind).

Engines come back unstarted; the manager awaits their optional ``async start()`` (model
loading, a health check) and subscribes to their optional ``listeners`` list (state changes
after start, e.g. a remote server going away).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ghostls.config import Settings
from ghostls.engine.model_files import EMBEDDED_MODEL_NAME
from ghostls.engine.types import Engine

if TYPE_CHECKING:
    from ghostls.engine.local import LocalEngineConfig


class UnsupportedBackend(ValueError):
    pass


def local_engine_config(settings: Settings, *, prompt_lookup: bool = True) -> LocalEngineConfig:
    # Imported here: loading llama_cpp is only worth it when the local backend is chosen.
    from ghostls.engine.local import LocalEngineConfig

    path = settings.model.path
    return LocalEngineConfig(
        path=path,  # empty: the embedded model, assembled on the worker when first needed
        name="" if path else EMBEDDED_MODEL_NAME,
        context_size=settings.model.contextSize,
        threads=settings.model.threads,
        gpu_layers=settings.model.gpuLayers,
        prompt_lookup=prompt_lookup,
    )


def create_engine(settings: Settings, *, prompt_lookup: bool = True) -> Engine:
    kind = settings.backend.kind
    if kind == "local":
        from ghostls.engine.local import LocalEngine

        return LocalEngine(local_engine_config(settings, prompt_lookup=prompt_lookup))
    if kind in ("openai", "llama-server"):
        from ghostls.engine.remote import create_remote_engine

        fallback: Engine | None = None
        if settings.backend.fallbackToLocal:
            from ghostls.engine.local import LocalEngine

            # Not started: the remote engine loads it only once the server is unavailable.
            fallback = LocalEngine(local_engine_config(settings, prompt_lookup=prompt_lookup))
        return create_remote_engine(settings, fallback)
    raise UnsupportedBackend(f"backend.kind {kind!r} is not available in this build")
