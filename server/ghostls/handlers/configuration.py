"""Settings from workspace/configuration and workspace/didChangeConfiguration."""

from __future__ import annotations

import asyncio
import logging

from lsprotocol import types

from ghostls.app import GhostServer

log = logging.getLogger(__name__)


async def pull_configuration(ls: GhostServer) -> None:
    """Ask the client for section ``ghostls``; a failure keeps the current settings."""
    try:
        result = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="ghostls")])
        )
    except Exception as exc:  # a client may reject the request; settings stay as they are
        log.info("workspace/configuration failed: %s", exc)
        return
    except asyncio.CancelledError:
        # The editor quit with the pull unanswered and pygls cancelled this handler: end it
        # quietly, or pygls' done-callback re-raises the cancellation as an ERROR on stderr
        # (seen with Emacs saving and quitting at once).
        log.debug("workspace/configuration cancelled (the client went away)")
        return
    if result and result[0] is not None:
        ls.apply_settings(result[0], "workspace/configuration")


async def did_change_configuration(
    ls: GhostServer, params: types.DidChangeConfigurationParams
) -> None:
    settings = params.settings
    # Push-style clients send {"ghostls": {...}}; pull-style ones send null and expect a pull.
    # Anything else (eglot sends {} on connect) carries nothing for ghostls: pulling then would
    # leave a request in flight that a quitting editor can no longer answer.
    if isinstance(settings, dict) and "ghostls" in settings:
        ls.apply_settings(settings["ghostls"], "didChangeConfiguration")
    elif settings is None and ls.client_settings_supported:
        await pull_configuration(ls)
    else:
        log.debug("didChangeConfiguration without a 'ghostls' section: nothing to apply")
