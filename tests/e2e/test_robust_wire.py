"""Raw bytes to the real server over stdio: bad framing and bad messages never stop it.

``RawServer`` is a small LSP client written for hostile input: it frames messages itself (or
sends any bytes at all), reads the server's stdout on a thread and matches replies by id.
The other ``test_robust_*`` modules use it too.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import pytest

SERVER = [sys.executable, "-m", "ghostls", "serve"]
REPLY_TIMEOUT = 20.0


def frame(payload: dict[str, Any] | str | bytes) -> bytes:
    """Content-Length framing of a JSON object (or of raw body bytes)."""
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    body = payload.encode("utf-8") if isinstance(payload, str) else payload
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class RawServer:
    """The real ghostls server as a subprocess, driven byte by byte."""

    def __init__(
        self,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        tcp: bool = False,
    ) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
        self._final_stderr = ""
        full_env = {**os.environ, **(env or {})}
        self.proc = subprocess.Popen(
            [*SERVER, *(args or []), *(["--tcp", "--port", "0"] if tcp else [])],
            stdin=subprocess.DEVNULL if tcp else subprocess.PIPE,
            stdout=subprocess.DEVNULL if tcp else subprocess.PIPE,
            stderr=self._stderr,
            env=full_env,
            cwd=cwd,
        )
        self.sock: socket.socket | None = None
        if tcp:  # the same client over a socket: the server prints the port it got
            self.sock = socket.create_connection(("127.0.0.1", self._wait_for_port()))
            self._in: BinaryIO = self.sock.makefile("wb")
            self._out: BinaryIO = self.sock.makefile("rb")
        else:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self._in, self._out = self.proc.stdin, self.proc.stdout
        self._ids = itertools.count(1)
        self._replies: dict[Any, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self.notifications: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []  # every notification, for wait_notification
        self.server_requests: list[dict[str, Any]] = []
        self._write_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- reading ----------------------------------------------------------------------------

    def _wait_for_port(self, timeout: float = REPLY_TIMEOUT) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"listening on [^\s:]+:(\d+)", self.stderr_text())
            if found:
                return int(found.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"the TCP server announced no port: {self.stderr_text()!r}")

    def _read_loop(self) -> None:
        out = self._out
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            assert length is not None, "server sent a message without Content-Length"
            body = out.read(length)
            message = json.loads(body)
            if "method" in message and "id" in message:
                # The server asks something (workspace/configuration...): answer null.
                self.server_requests.append(message)
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            elif "method" in message:
                self.notifications.put(message)
                with self._cond:
                    self.seen.append(message)
                    self._cond.notify_all()
            else:
                with self._cond:
                    self._replies[message.get("id")] = message
                    self._cond.notify_all()

    def reply(self, msg_id: Any, timeout: float = REPLY_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while msg_id not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no reply to request {msg_id!r} within {timeout}s")
                self._cond.wait(left)
            return self._replies.pop(msg_id)

    def wait_notification(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = REPLY_TIMEOUT,
        start: int = 0,
    ) -> dict[str, Any]:
        """The first notification received (from index ``start`` on) that matches."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.seen[start:]:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching notification within {timeout}s")
                self._cond.wait(left)

    def take_reply_without_id(self, timeout: float = REPLY_TIMEOUT) -> dict[str, Any]:
        return self.reply(None, timeout)

    def drain_notifications(self) -> list[dict[str, Any]]:
        items = []
        while True:
            try:
                items.append(self.notifications.get_nowait())
            except queue.Empty:
                return items

    # -- writing ----------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        with self._write_lock:
            self._in.write(data)
            self._in.flush()

    def send(self, payload: dict[str, Any]) -> None:
        self.send_raw(frame(payload))

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request_id(self, method: str, params: Any) -> int:
        """Send a request; return its id without waiting."""
        msg_id = next(self._ids)
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id

    def request(self, method: str, params: Any, timeout: float = REPLY_TIMEOUT) -> dict[str, Any]:
        return self.reply(self.request_id(method, params), timeout)

    # -- LSP steps --------------------------------------------------------------------------

    def initialize(self, init_options: dict[str, Any] | None = None) -> dict[str, Any]:
        result = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": Path.cwd().as_uri(),
                "capabilities": {"general": {"positionEncodings": ["utf-16"]}},
                "initializationOptions": init_options,
            },
        )
        self.notify("initialized", {})
        return result

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": "python",
                    "version": version,
                    "text": text,
                }
            },
        )

    def change(self, uri: str, version: int, changes: list[dict[str, Any]]) -> None:
        self.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes},
        )

    def text(self, uri: str, timeout: float = REPLY_TIMEOUT) -> str | None:
        reply = self.request(
            "workspace/executeCommand",
            {"command": "ghostls.debug.documentText", "arguments": [uri]},
            timeout,
        )
        assert "error" not in reply, reply
        result = reply["result"]
        return result if result is None else str(result)

    def alive(self) -> bool:
        """The server still answers a request."""
        reply = self.request("ghostls/stats", {})
        assert "result" in reply, reply
        return True

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1])

    def stderr_text(self) -> str:
        if self._stderr.closed:
            return self._final_stderr
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def close(self, timeout: float = 15.0) -> int | None:
        if self.proc.poll() is None:
            try:
                self.request("shutdown", None, timeout=timeout)
                self.notify("exit", None)
                self.proc.wait(timeout=timeout)
            except (AssertionError, BrokenPipeError, OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if self.sock is not None:
            self.sock.close()
        if not self._stderr.closed:
            self._final_stderr = self.stderr_text()
            self._stderr.close()
        return self.proc.returncode


@contextmanager
def raw_server(
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
    init_options: dict[str, Any] | None = None,
) -> Iterator[RawServer]:
    server = RawServer(args, env)
    try:
        server.initialize(init_options)
        yield server
    finally:
        server.close()


URI = "file:///tmp/ghostls_robust_wire.py"


@pytest.fixture(scope="module")
def srv() -> Iterator[RawServer]:
    with raw_server() as server:
        yield server


def _assert_serving(srv: RawServer) -> None:
    srv.open(URI, "x = 1\n")
    assert srv.text(URI) == "x = 1\n"


# -- framing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        b"Content-Length: -5\r\n\r\n",
        b"Content-Length: abc\r\n\r\n",
        b"Content-Length: 12.5\r\n\r\n",
        b"Content-Type: application/vscode-jsonrpc\r\n\r\n",  # no Content-Length at all
        b"Content-Length: 99999999999999999999999\r\n\r\n",  # oversized
        b"Content-Length: 1000000\r\n\r\n",  # larger than what follows
        b"Content-Len",  # truncated header
    ],
    ids=["negative", "non-numeric", "fraction", "missing", "huge", "too-long", "truncated"],
)
def test_bad_header_then_server_recovers(srv: RawServer, header: bytes) -> None:
    lost = json.dumps({"jsonrpc": "2.0", "id": "lost", "method": "ghostls/stats", "params": {}})
    srv.send_raw(header + lost.encode())
    # The next well-framed request is answered: reading resynchronised on its header.
    assert srv.alive()
    _assert_serving(srv)


def test_content_length_larger_than_body_still_answers_it(srv: RawServer) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": "short", "method": "ghostls/stats", "params": {}})
    srv.send_raw(b"Content-Length: %d\r\n\r\n" % (len(body) + 500) + body.encode())
    # Nothing follows: after a quiet second the complete JSON body is taken as the message.
    assert "result" in srv.reply("short", timeout=10)
    # And when a message does follow, both are answered.
    srv.send_raw(b"Content-Length: %d\r\n\r\n" % (len(body) + 500) + body.encode())
    assert srv.alive()
    assert "result" in srv.reply("short", timeout=10)


def test_garbage_between_messages(srv: RawServer) -> None:
    srv.send_raw(b"\x00\xff garbage \r\n\r\n{not json}\n\n\n" + os.urandom(300).replace(b"\n", b""))
    assert srv.alive()
    srv.send_raw(b"hello" + frame({"jsonrpc": "2.0", "id": "g", "method": "ghostls/stats"}))
    assert "result" in srv.reply("g")


def test_message_split_into_single_bytes(srv: RawServer) -> None:
    data = frame({"jsonrpc": "2.0", "id": "bytes", "method": "ghostls/stats", "params": {}})
    for i in range(len(data)):
        srv.send_raw(data[i : i + 1])
    assert "result" in srv.reply("bytes")


def test_many_messages_in_one_write(srv: RawServer) -> None:
    ids = [f"batch{i}" for i in range(200)]
    srv.send_raw(
        b"".join(frame({"jsonrpc": "2.0", "id": i, "method": "ghostls/stats"}) for i in ids)
    )
    for msg_id in ids:
        assert "result" in srv.reply(msg_id)


# -- bad messages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", -32700),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "x"', -32700),  # cut short
        (b"\xff\xfe\x00garbage", -32700),  # not UTF-8
        (b"[" * 100_000 + b"]" * 100_000, -32700),  # nesting beyond the decoder
        (b"[1, 2, 3]", -32600),  # a batch: not LSP
        (b'"just a string"', -32600),
        (b'{"jsonrpc": "2.0", "id": [1], "method": "ghostls/stats"}', -32600),
    ],
    ids=["invalid", "cut", "not-utf8", "deep", "batch", "string", "bad-id"],
)
def test_unreadable_message_gets_an_error_without_id(
    srv: RawServer, body: bytes, code: int
) -> None:
    srv.send_raw(frame(body))
    reply = srv.take_reply_without_id()
    assert reply["error"]["code"] == code
    assert reply["error"]["message"]
    assert srv.alive()


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc": "1.0", "id": "v1", "method": "ghostls/stats"}',
        b'{"id": "v1", "method": "ghostls/stats"}',
        b'{"jsonrpc": "2.0", "id": "v1", "method": 42}',
    ],
    ids=["version-1", "no-version", "method-not-a-string"],
)
def test_invalid_request_gets_an_error_with_its_id(srv: RawServer, body: bytes) -> None:
    srv.send_raw(frame(body))
    assert srv.reply("v1")["error"]["code"] == -32600
    assert srv.alive()


def test_unknown_request_is_method_not_found(srv: RawServer) -> None:
    reply = srv.request("ghostls/noSuchThing", {"a": 1})
    assert reply["error"]["code"] == -32601
    assert srv.alive()


def test_unknown_notification_is_ignored(srv: RawServer) -> None:
    srv.notify("ghostls/noSuchNotification", {"a": 1})
    srv.notify("$/somethingOptional", None)
    assert srv.alive()


@pytest.mark.parametrize(
    ("method", "params", "where"),
    [
        (
            "textDocument/inlineCompletion",
            {"textDocument": {"uri": URI}, "position": {"line": "one", "character": 0}},
            "position.line",
        ),
        ("textDocument/completion", {"textDocument": 7, "position": [1, 2]}, "text_document"),
        ("textDocument/codeAction", "not an object", "text_document"),
        (
            "textDocument/completion",
            {"textDocument": {"uri": URI}, "position": {"line": -1, "character": 0}},
            "position",
        ),
        ("initialize", {"capabilities": 5}, "capabilities"),
        ("workspace/executeCommand", {"command": ["x"], "arguments": {}}, "not defined"),
    ],
)
def test_wrong_param_types_get_invalid_params(
    srv: RawServer, method: str, params: Any, where: str
) -> None:
    reply = srv.request(method, params)
    assert reply["error"]["code"] == -32602, reply
    message = reply["error"]["message"]
    assert where in message, message
    assert method in message or "Command name" in message, message
    assert srv.alive()


def test_bad_notification_params_are_ignored(srv: RawServer) -> None:
    srv.open(URI, "a = 1\n", version=1)
    srv.notify("textDocument/didChange", {"textDocument": {"uri": URI}, "contentChanges": 3})
    srv.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "text": None}})
    srv.notify("$/cancelRequest", {"id": {"nested": True}})
    assert srv.text(URI) == "a = 1\n"


def test_unknown_command_gets_invalid_params(srv: RawServer) -> None:
    reply = srv.request("workspace/executeCommand", {"command": "ghostls.nope", "arguments": []})
    assert reply["error"]["code"] == -32602


# -- positions and versions --------------------------------------------------------------------


def _edit(sl: int, sc: int, el: int, ec: int, text: str) -> dict[str, Any]:
    return {
        "range": {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}},
        "text": text,
    }


def test_positions_beyond_the_end_clamp(srv: RawServer) -> None:
    uri = "file:///tmp/ghostls_robust_clamp.py"
    srv.open(uri, "abc\ndef")  # last line without a newline
    srv.change(uri, 2, [_edit(1, 99, 1, 99, "!")])  # past the end of the last line
    assert srv.text(uri) == "abc\ndef!"
    srv.change(uri, 3, [_edit(0, 50, 0, 60, "?")])  # past the end of a middle line
    assert srv.text(uri) == "abc?\ndef!"
    srv.change(uri, 4, [_edit(40, 0, 90, 3, "<end>")])  # lines past the end
    assert srv.text(uri) == "abc?\ndef!<end>"
    srv.change(uri, 5, [_edit(1, 2, 0, 1, "")])  # reversed range: swapped
    assert srv.text(uri) == "af!<end>"


def test_positions_inside_a_surrogate_pair(srv: RawServer) -> None:
    uri = "file:///tmp/ghostls_robust_surrogate.py"
    srv.open(uri, 's = "😀x"\n')
    # UTF-16 column 6 is between the two halves of 😀 (columns 5-6): clamps to its start.
    srv.change(uri, 2, [_edit(0, 6, 0, 6, "Y")])
    assert srv.text(uri) == 's = "Y😀x"\n'
    # A range ending inside the pair ends at its start too: nothing of 😀 is cut in half.
    srv.change(uri, 3, [_edit(0, 5, 0, 7, "")])
    assert srv.text(uri) == 's = "😀x"\n'
    reply = srv.request(
        "textDocument/inlineCompletion",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 0, "character": 7},
            "context": {"triggerKind": 1},
        },
    )
    assert "result" in reply or reply["error"]["code"] != -32603


def test_edits_to_never_opened_documents_are_ignored(srv: RawServer) -> None:
    uri = "file:///tmp/ghostls_robust_never_opened.py"
    srv.change(uri, 2, [_edit(0, 0, 0, 0, "x")])
    srv.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert srv.text(uri) is None
    reply = srv.request(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}},
    )
    assert "result" in reply
    assert srv.alive()


def test_stale_version_is_ignored(srv: RawServer) -> None:
    uri = "file:///tmp/ghostls_robust_stale.py"
    srv.open(uri, "v = 1\n", version=5)
    srv.change(uri, 6, [_edit(0, 4, 0, 5, "2")])
    srv.change(uri, 3, [_edit(0, 4, 0, 5, "STALE")])
    assert srv.text(uri) == "v = 2\n"


def test_requests_after_shutdown_get_an_error_and_exit_works() -> None:
    server = RawServer()
    server.initialize()
    assert "result" in server.request("shutdown", None)
    reply = server.request("ghostls/stats", {})
    assert reply["error"]["code"] == -32600
    server.notify("exit", None)
    assert server.proc.wait(timeout=15) == 0
    server.close()


def test_exit_without_shutdown_exits_nonzero() -> None:
    server = RawServer()
    server.initialize()
    server.notify("exit", None)
    assert server.proc.wait(timeout=15) == 1
    server.close()


def test_eof_mid_message_exits_cleanly() -> None:
    server = RawServer()
    server.initialize()
    server.send_raw(b"Content-Length: 100\r\n\r\n{")
    assert server.proc.stdin is not None
    server.proc.stdin.close()
    assert server.proc.wait(timeout=15) is not None
    server.close()
