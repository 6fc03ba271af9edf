"""Logging: stderr or a log file, never stdout (stdout carries the protocol)."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ghostls.app import GhostServer

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(verbose: int = 0, log_file: str | None = None) -> None:
    """Set up the root logger. ``verbose``: 0 = warnings, 1 = info, 2 = debug."""
    handler: logging.Handler
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root.setLevel(level)
    logging.getLogger("ghostls").setLevel(level)
    # pygls logs every message body at INFO: that would put buffer contents in the log.
    logging.getLogger("pygls").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)


class ClientLogHandler(logging.Handler):
    """Forwards ghostls' own log records to the editor as window/logMessage."""

    def __init__(self, server: GhostServer, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._server = server
        self._busy = False  # sending may log; never recurse

    def emit(self, record: logging.LogRecord) -> None:
        if self._busy or not record.name.startswith("ghostls"):
            return
        self._busy = True
        try:
            self._server.log_to_client(record.levelno, self.format(record))
        except Exception:  # logging must never break the server
            pass
        finally:
            self._busy = False
