"""``ghostls serve``: the language server itself."""

from __future__ import annotations

import logging
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

    server = create_server()
    if tcp:
        from ghostls.protocol import serve_tcp

        # pygls' start_tcp would read with its own strict framing; ghostls' framer serves
        # TCP as it serves stdio. The address goes to stderr (port 0 picks a free one).
        serve_tcp(server, host, port, on_listening=_announce)
    else:
        server.start_io()


def _announce(host: str, port: int) -> None:
    print(f"ghostls: listening on {host}:{port}", file=sys.stderr, flush=True)
