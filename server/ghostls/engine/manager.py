"""The server's engine: loads the configured backend in the background, reports its state.

``EngineManager`` is itself an ``Engine`` (it is what ``services["engine"]`` holds), delegating
to the current backend, so callers keep one reference across reloads. While nothing usable is
loaded, ``generate`` returns an empty result with stop_reason "error" and ``score`` -inf.

Every state change is sent to the client as a ``ghostls/status`` notification; loading is also
shown as LSP work-done progress when the client supports it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from ghostls.config import Settings
from ghostls.engine.factory import create_engine
from ghostls.engine.model_files import EMBEDDED_MODEL_NAME
from ghostls.engine.types import (
    CancelToken,
    Engine,
    EngineState,
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    PromptParts,
)

if TYPE_CHECKING:
    from ghostls.app import GhostServer

log = logging.getLogger(__name__)

STATUS_METHOD = "ghostls/status"
PROGRESS_CREATE_TIMEOUT_S = 5.0

EngineFactory = Callable[[Settings], Engine]


def _engine_settings(settings: Settings) -> tuple[object, object]:
    return (settings.model, settings.backend)


class EngineManager:
    def __init__(self, server: GhostServer, factory: EngineFactory = create_engine) -> None:
        self._server = server
        self._factory = factory
        self._engine: Engine | None = None
        self._generation = 0  # bumps on every (re)load; a stale load gives way
        self._state = EngineState.LOADING
        self._error: str | None = None
        self._started = False
        self._last_status: dict[str, Any] | None = None
        self.loads = 0

    # -- Engine protocol (delegating) ------------------------------------------------------

    @property
    def state(self) -> str:
        engine = self._engine
        if engine is None or self._state != EngineState.READY:
            return self._state
        return engine.state

    @property
    def info(self) -> ModelInfo | None:
        return self._engine.info if self._engine is not None else None

    @property
    def error(self) -> str | None:
        if self._error is not None:
            return self._error
        return self._engine.error if self._engine is not None else None

    @property
    def current(self) -> Engine | None:
        return self._engine

    def count_tokens(self, text: str) -> int:
        """The current backend's token count, or an estimate (3 characters a token)."""
        counter = getattr(self._engine, "count_tokens", None)
        if callable(counter) and self.state == EngineState.READY:
            try:
                return int(counter(text))
            except Exception:
                log.debug("count_tokens failed", exc_info=True)
        return (len(text) + 2) // 3

    async def generate(
        self, request: GenerationRequest, cancel: CancelToken | None = None
    ) -> GenerationResult:
        engine = self._engine
        if engine is None or self.state != EngineState.READY:
            return GenerationResult("", stop_reason="error")
        try:
            return await engine.generate(request, cancel)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("engine generate failed")
            return GenerationResult("", stop_reason="error")

    async def score(self, prompt: PromptParts, continuation: str) -> float:
        engine = self._engine
        if engine is None or self.state != EngineState.READY:
            return float("-inf")
        try:
            return await engine.score(prompt, continuation)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("engine score failed")
            return float("-inf")

    async def close(self) -> None:
        self._generation += 1
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.close()
        self._state, self._error = EngineState.DISABLED, None
        self._publish("model unloaded")

    # -- server hooks ----------------------------------------------------------------------

    def on_startup(self, server: GhostServer) -> Any:
        self._started = True
        return self.load(server.settings)

    async def on_shutdown(self, server: GhostServer) -> None:
        engine, self._engine = self._engine, None
        self._generation += 1
        if engine is not None:
            await engine.close()

    def on_settings_changed(self, old: Settings, new: Settings) -> None:
        if not self._started or _engine_settings(old) == _engine_settings(new):
            return
        log.info("model settings changed; reloading the engine")
        self._server.spawn(self.load(new), name="engine reload")

    # -- loading ---------------------------------------------------------------------------

    async def load(self, settings: Settings) -> None:
        self._generation += 1
        generation = self._generation
        self.loads += 1
        old, self._engine = self._engine, None
        self._state, self._error = EngineState.LOADING, None
        label = settings.model.path or EMBEDDED_MODEL_NAME
        if settings.backend.kind != "local":
            label = f"{settings.backend.kind} backend {settings.backend.url}".strip()
        self._publish(f"loading {label}", model=label, backend=settings.backend.kind)
        progress = await self._progress_begin(generation, label)
        if old is not None:
            try:
                await old.close()  # free the old model before the new one takes memory
            except Exception:
                log.exception("closing the previous engine failed")
        engine: Engine | None = None
        error: str | None = None
        try:
            engine = self._factory(settings)
            start = getattr(engine, "start", None)
            if callable(start):
                await start()
            if engine.state == EngineState.ERROR:
                error = engine.error or "the engine did not start"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("engine start failed")
            error = str(exc) or type(exc).__name__
        if generation != self._generation:  # a newer load (or close) took over meanwhile
            if engine is not None:
                await engine.close()
            return
        self._engine = engine
        if engine is not None:
            listeners = getattr(engine, "listeners", None)
            if isinstance(listeners, list):
                listeners.append(self._on_engine_state)
        if error is not None or engine is None:
            self._state, self._error = EngineState.ERROR, error or "the engine did not start"
            message = f"ghostls: no completions, the model could not be loaded: {self._error}"
            self._progress_end(progress, "model failed to load")
            self._publish(message, model=label, backend=settings.backend.kind)
            self._server.show_message(message, types.MessageType.Error)
            return
        self._state = EngineState.READY
        self._progress_end(progress, "model ready")
        self._publish("model ready")

    def _on_engine_state(self, engine: Engine) -> None:
        if engine is self._engine:
            if engine.state == EngineState.READY and self._state == EngineState.ERROR:
                # A remote server that was down at start came back.
                self._state, self._error = EngineState.READY, None
            self._publish(engine.error or f"engine {engine.state}")

    # -- reporting -------------------------------------------------------------------------

    def status(self, message: str = "", *, model: str = "", backend: str = "") -> dict[str, Any]:
        info = self.info
        return {
            "state": self.state,
            "message": message or (self.error or ""),
            "model": info.name if info else model,
            "fim": bool(info.supports_fim) if info else False,
            "backend": info.backend if info else (backend or "local"),
        }

    def _publish(self, message: str, *, model: str = "", backend: str = "") -> None:
        status = self.status(message, model=model, backend=backend)
        if status == self._last_status:
            return
        self._last_status = status
        log.info("engine %s: %s", status["state"], status["message"])
        self._server.notify_client(STATUS_METHOD, status)

    def describe(self) -> dict[str, Any]:
        """State, model, FIM and counters, for ghostls/stats and the CLI."""
        info = self.info
        engine = self._engine
        result: dict[str, Any] = {
            "state": self.state,
            "error": self.error,
            "model": info.name if info else "",
            "path": info.path if info else "",
            "fim": bool(info.supports_fim) if info else False,
            "context_size": info.context_size if info else 0,
            "backend": info.backend if info else "",
            "loads": self.loads,
        }
        counters = getattr(engine, "counters", None)
        if isinstance(counters, dict):
            result["counters"] = dict(counters)
        timeline = getattr(engine, "timeline", None)
        if timeline is not None:
            result["timeline"] = list(timeline)
        layout = getattr(engine, "layout", None)
        if isinstance(layout, str):
            result["prompt_layout"] = layout
        last = getattr(engine, "last_stats", None)
        if last is not None and hasattr(last, "as_dict"):
            result["last_request"] = last.as_dict()
        return result

    # -- work-done progress ----------------------------------------------------------------

    def _client_supports_progress(self) -> bool:
        try:
            caps = self._server.client_capabilities
        except Exception:
            return False
        window = getattr(caps, "window", None)
        return bool(window and window.work_done_progress)

    async def _progress_begin(self, generation: int, label: str) -> str | None:
        server = self._server
        if server.closing or not self._client_supports_progress():
            return None
        token = f"ghostls-model-load-{generation}"
        try:
            await asyncio.wait_for(
                server.work_done_progress.create_async(token), PROGRESS_CREATE_TIMEOUT_S
            )
            server.work_done_progress.begin(
                token,
                types.WorkDoneProgressBegin(
                    title="ghostls", message=f"loading {label}", cancellable=False
                ),
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.debug("work-done progress unavailable", exc_info=True)
            return None
        return token

    def _progress_end(self, token: str | None, message: str) -> None:
        if token is None or self._server.closing:
            return
        try:
            self._server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
        except Exception:
            log.debug("could not end work-done progress", exc_info=True)
