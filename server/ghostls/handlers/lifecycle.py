"""initialize / initialized / shutdown / exit."""

from __future__ import annotations

import asyncio
import inspect
import logging

from lsprotocol import types

from ghostls.app import GhostServer
from ghostls.handlers.configuration import pull_configuration
from ghostls.positions import Encoding

log = logging.getLogger(__name__)


def on_initialize(ls: GhostServer, params: types.InitializeParams) -> None:
    # pygls has already chosen the position encoding from the client's preferences.
    ls.documents.encoding = Encoding.from_lsp(ls.workspace.position_encoding)
    ls.client_name = params.client_info.name if params.client_info else ""
    caps = params.capabilities
    ls.client_settings_supported = bool(caps.workspace and caps.workspace.configuration)
    if params.initialization_options is not None:
        ls.apply_settings(params.initialization_options, "initializationOptions")


async def on_initialized(ls: GhostServer, params: types.InitializedParams) -> None:
    if ls.client_settings_supported:
        await pull_configuration(ls)
    for hook in list(ls.startup_hooks):
        try:
            result = hook(ls)
            if inspect.isawaitable(result):
                ls.spawn(result, name=getattr(hook, "__name__", "startup"))
        except Exception:
            log.exception("startup hook failed")


async def on_shutdown(ls: GhostServer, params: None) -> None:
    ls.closing = True
    ls.cancel_background()
    for hook in list(ls.shutdown_hooks):
        try:
            result = hook(ls)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            # The client did not wait for the answer (Neovim quits right after sending
            # `shutdown`): input ended and the event loop is cancelling what is left.
            log.debug("shutdown cut short: the client has gone")
            return
        except Exception:
            log.exception("shutdown hook failed")


def on_exit(ls: GhostServer, params: None) -> None:
    ls.closing = True
    ls.cancel_background()
