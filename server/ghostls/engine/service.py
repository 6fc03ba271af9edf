"""Attach the engine to the server: services, startup/shutdown hooks, settings reloads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ghostls.engine.manager import EngineManager

if TYPE_CHECKING:
    from ghostls.app import GhostServer


def install(server: GhostServer) -> EngineManager:
    manager = EngineManager(server)
    server.services["engine"] = manager
    server.services["describe_engine"] = manager.describe
    server.startup_hooks.append(manager.on_startup)
    server.shutdown_hooks.append(manager.on_shutdown)
    server.settings_listeners.append(manager.on_settings_changed)
    return manager
