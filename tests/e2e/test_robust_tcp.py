"""`ghostls serve --tcp`: the same hardened reading over a real socket as over stdio.

pygls' own TCP reader uses a strict header regex and a blocking read of Content-Length bytes,
so one bad header lost every later message. The server now reads the socket with ghostls'
framer; these tests drive a real server process through a real TCP connection.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.e2e.test_robust_wire import RawServer, frame

URI = "file:///tmp/ghostls_robust_tcp.py"


@pytest.fixture(scope="module")
def tcp() -> Iterator[RawServer]:
    server = RawServer(tcp=True)
    try:
        server.initialize()
        yield server
    finally:
        server.close()


def stats(msg_id: str) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": "ghostls/stats"}).encode()


@pytest.mark.parametrize(
    "header",
    [b"Content-Length: abc\r\n\r\n", b"Content-Length: -5\r\n\r\n", b"Content-Len"],
    ids=["non-numeric", "negative", "truncated"],
)
def test_malformed_header_then_a_good_request_is_answered(tcp: RawServer, header: bytes) -> None:
    tcp.send_raw(header + stats("lost") + frame(stats("after-" + header.decode()[-6:])))
    assert "result" in tcp.reply("after-" + header.decode()[-6:])


def test_a_length_ending_inside_the_next_header_loses_neither(tcp: RawServer) -> None:
    first, second = stats("first"), frame(stats("second"))
    # The lie ends 9 bytes into the next header ('Content-L|ength: ...'); the socket delivers
    # the bytes up to there first, so the reader cannot see the rest of that header yet.
    lying = b"Content-Length: %d\r\n\r\n" % (len(first) + 9) + first + second[:9]
    tcp.send_raw(lying)
    time.sleep(0.3)
    tcp.send_raw(second[9:])
    assert "result" in tcp.reply("first")
    assert "result" in tcp.reply("second")


def test_every_request_is_answered_over_tcp(tcp: RawServer) -> None:
    reply = tcp.request(
        "textDocument/inlineCompletion",
        {"textDocument": {"uri": URI}, "position": {"line": "one", "character": 0}},
    )
    assert reply["error"]["code"] == -32602
    assert "position.line" in reply["error"]["message"]
    tcp.send_raw(frame(b"{not json"))
    assert tcp.take_reply_without_id()["error"]["code"] == -32700
    assert tcp.request("ghostls/noSuchThing", {})["error"]["code"] == -32601


def test_documents_over_tcp(tcp: RawServer) -> None:
    tcp.open(URI, "x = 1\n")
    pos = {"line": 0, "character": 5}
    tcp.change(URI, 2, [{"range": {"start": pos, "end": pos}, "text": "0"}])
    assert tcp.text(URI) == "x = 10\n"


def test_one_client_per_server(tcp: RawServer) -> None:
    """Like pygls' start_tcp the server is for one session: a second client is refused,
    never mixed into the first one's replies."""
    port = tcp.sock.getpeername()[1] if tcp.sock else 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5).recv(1)
    assert tcp.alive()


def test_shutdown_and_exit_over_tcp() -> None:
    server = RawServer(tcp=True)
    server.initialize()
    assert "result" in server.request("shutdown", None)
    server.notify("exit", None)
    assert server.proc.wait(timeout=20) == 0
    server.close()


def test_client_disconnect_ends_the_server() -> None:
    server = RawServer(tcp=True)
    server.initialize()
    assert server.sock is not None
    server.sock.shutdown(socket.SHUT_RDWR)
    server.proc.wait(timeout=20)  # EOF without `exit`: the server goes, it does not hang
    server.close()
