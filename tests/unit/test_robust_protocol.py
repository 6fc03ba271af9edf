"""GhostProtocol in-process: bookkeeping does not grow with traffic; every request is answered."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ghostls.app import create_server
from ghostls.protocol import GhostProtocol


class Capture:
    """A writer that keeps what the server sends."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        _, _, body = data.partition(b"\r\n\r\n")
        self.messages.append(json.loads(body))

    def close(self) -> None:
        pass


def _server() -> tuple[GhostProtocol, Capture]:
    server = create_server()
    protocol = server.protocol
    assert isinstance(protocol, GhostProtocol)
    capture = Capture()
    protocol.set_writer(capture)
    return protocol, capture


def _send(protocol: GhostProtocol, payload: dict[str, Any]) -> None:
    protocol.handle_body(json.dumps({"jsonrpc": "2.0", **payload}).encode())


async def test_notifications_leave_no_futures_behind() -> None:
    protocol, _ = _server()
    uri = "file:///tmp/leak.py"
    _send(protocol, {"id": 1, "method": "initialize", "params": {"capabilities": {}}})
    doc = {"uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}
    _send(protocol, {"method": "textDocument/didOpen", "params": {"textDocument": doc}})
    for version in range(2, 302):
        change = {
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
            "text": "#",
        }
        params = {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}
        _send(protocol, {"method": "textDocument/didChange", "params": params})
    await asyncio.sleep(0.2)
    # Without the fix pygls kept one or two futures per didChange here (600 after 300 edits).
    assert len(protocol._request_futures) <= 2, len(protocol._request_futures)
    server = protocol._server
    assert server.documents.get(uri).text == "#" * 300 + "x = 1\n"  # type: ignore[attr-defined]


async def test_every_request_is_answered_in_process() -> None:
    protocol, capture = _server()
    _send(protocol, {"id": 1, "method": "initialize", "params": {"capabilities": {}}})
    _send(protocol, {"id": 2, "method": "textDocument/completion", "params": {"position": "x"}})
    _send(protocol, {"id": 3, "method": "no/such", "params": {}})
    protocol.handle_body(b"{broken")
    _send(protocol, {"id": 4, "method": "shutdown"})
    await asyncio.sleep(0.2)  # shutdown's handler is async: let it finish
    _send(protocol, {"id": 5, "method": "ghostls/stats", "params": {}})
    await asyncio.sleep(0.2)
    by_id = {m.get("id"): m for m in capture.messages if "method" not in m}
    assert by_id[2]["error"]["code"] == -32602
    assert by_id[3]["error"]["code"] == -32601
    assert by_id[None]["error"]["code"] == -32700
    assert "result" in by_id[4]
    assert by_id[5]["error"]["code"] == -32600  # after shutdown
