"""``ghostls serve``: the language server itself."""

from __future__ import annotations

import logging

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
        log.info("ghostls listening on %s:%s", host, port)
        server.start_tcp(host, port)
    else:
        server.start_io()
