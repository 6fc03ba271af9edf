"""``ghostls serve``: the language server itself."""

from __future__ import annotations

import logging
import os
import sys

from ghostls.logs import configure_logging

log = logging.getLogger(__name__)


def run_serve(
    tcp: bool = False,
    host: str = "127.0.0.1",
    port: int = 2087,
    log_file: str | None = None,
    verbose: int = 0,
) -> None:
    configure_logging(verbose, log_file)
    from ghostls.app import create_server
    from ghostls.heap import TRIM_INTERVAL_SECONDS, start_heap_trimmer

    server = create_server()
    # RSS stays flat under long sessions (heap.py); GHOSTLS_HEAP_TRIM_SECONDS=0 turns it off.
    start_heap_trimmer(_seconds(os.environ.get("GHOSTLS_HEAP_TRIM_SECONDS"), TRIM_INTERVAL_SECONDS))
    if tcp:
        from ghostls.protocol import serve_tcp

        # pygls' start_tcp would read with its own strict framing; ghostls' framer serves
        # TCP as it serves stdio. The address goes to stderr (port 0 picks a free one).
        serve_tcp(server, host, port, on_listening=_announce)
    else:
        server.start_io()


def _seconds(raw: str | None, default: float) -> float:
    try:
        return float(raw) if raw else default
    except ValueError:
        log.warning("GHOSTLS_HEAP_TRIM_SECONDS=%r is not a number; using %s", raw, default)
        return default


def _announce(host: str, port: int) -> None:
    print(f"ghostls: listening on {host}:{port}", file=sys.stderr, flush=True)
