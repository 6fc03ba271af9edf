"""ghostls' LSP protocol layer: framing that survives bad input, and an answer for every request.

pygls 2.1.1 reads messages with a strict header regex and a blocking read of Content-Length
bytes. One bad header (missing, negative, non-numeric, or a length larger than the body) makes
it swallow the following messages, and a request whose params cannot be read gets no reply at
all, so the editor waits forever. This module replaces the reading loop with
:class:`MessageFramer` (resynchronises on the next header) and subclasses pygls' protocol so
that every request is answered (InvalidParams -32602, InvalidRequest -32600, ParseError -32700)
and every bad notification is ignored with a log line. :func:`serve_stdio` and :func:`serve_tcp`
run the same reading loop over a pipe or a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

import attrs
import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.io_ import StdoutWriter
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

# A single message larger than this is dropped (a 1 MB file is ~1.1 MB of JSON).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# A header block longer than this is garbage.
MAX_HEADER_BYTES = 8 * 1024
# A body shorter than its Content-Length that stops arriving for this long is tried as is.
BODY_IDLE_SECONDS = 1.0
READ_CHUNK = 64 * 1024

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_CONTENT_LENGTH_LINE = re.compile(rb"(?im)content-length[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?$")
# A real header inside a body: JSON strings cannot hold a raw newline, so a body that contains
# this line is not the JSON its length promised; the next message starts here (at its
# Content-Type line when that comes first).
_TYPE_LINES = rb"(?:content-type[ \t]*:[^\r\n]*\r?\n)*"
_HEADER_IN_BODY = re.compile(rb"(?i)" + _TYPE_LINES + rb"content-length[ \t]*:[ \t]*\d+[ \t]*\r?\n")


def _partial_names() -> bytes:
    """Every proper start of 'content-length' and 'content-type', longest first."""
    names = (b"content-length", b"content-type")
    starts = {name[:k] for name in names for k in range(1, len(name))}
    return b"|".join(re.escape(p) for p in sorted(starts, key=len, reverse=True))


# The start of such a header cut off by the end of a body: a lying Content-Length that ends
# inside the next message's header. No JSON value can end like this, so the cut is safe.
_HEADER_PART = (
    rb"(?:content-length[ \t]*(?::[ \t]*(?:\d+[ \t]*\r?)?)?"
    + rb"|content-type[ \t]*(?::[^\r\n]*)?\r?|"
    + _partial_names()
    + rb")"
)
# Either whole Content-Type lines (the length ended right after one) and perhaps the start of
# the next line, or just the start of a header line.
_HEADER_START_AT_END = re.compile(
    rb"(?i)(?:"
    + _TYPE_LINES.replace(b")*", b")+", 1)
    + _HEADER_PART
    + rb"?|"
    + _HEADER_PART
    + rb")\Z"
)
_SCAN_OVERLAP = 256


@dataclass(frozen=True)
class Frame:
    """One framed message body, or bytes dropped (``dropped`` says why)."""

    body: bytes = b""
    dropped: str = ""


class MessageFramer:
    """Split a byte stream into LSP message bodies; never blocks and never gives up.

    Feed it bytes as they arrive; it returns the complete frames. Garbage between messages,
    missing or malformed Content-Length headers and lengths that lie are reported as dropped
    frames, and reading resumes at the next ``Content-Length:`` header.
    """

    def __init__(
        self, max_message: int = MAX_MESSAGE_BYTES, max_header: int = MAX_HEADER_BYTES
    ) -> None:
        self.max_message = max_message
        self.max_header = max_header
        self._buf = bytearray()
        self._length: int | None = None  # body length once a header block was read
        self._skip = False  # the body is too large to keep: discard it
        self._scanned = 0  # body bytes already scanned for a stray header

    @property
    def in_body(self) -> bool:
        return self._length is not None

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while True:
            frame = self._next_body() if self._length is not None else self._next_header()
            if frame is None:
                return frames
            if frame.body or frame.dropped:
                frames.append(frame)

    def flush_idle(self) -> list[Frame]:
        """The stream went quiet inside a body: a complete JSON value there is a message."""
        if self._length is None or self._skip or not self._buf.strip():
            return []
        candidate = bytes(self._buf)
        try:
            json.loads(candidate)
        except (ValueError, RecursionError):
            return []
        declared = self._length
        self._reset_body()
        self._buf.clear()
        return [Frame(body=candidate, dropped=f"body shorter than Content-Length {declared}")]

    def _reset_body(self) -> None:
        self._length = None
        self._skip = False
        self._scanned = 0

    def _next_header(self) -> Frame | None:
        buf = self._buf
        end = _HEADER_END.search(buf)
        if end is None:
            if len(buf) <= self.max_header:
                return None
            # No header block in sight: keep only what could be the start of one.
            starts = [m.start() for m in re.finditer(rb"(?i)content-length", buf)]
            keep = starts[-1] if starts and len(buf) - starts[-1] <= self.max_header else None
            if keep is None:
                keep = len(buf) - _SCAN_OVERLAP
            dropped = keep
            del buf[:keep]
            return Frame(dropped=f"{dropped} bytes without a message header")
        block = bytes(buf[: end.start()])
        del buf[: end.end()]
        matches = list(_CONTENT_LENGTH_LINE.finditer(block))
        if not matches:
            if not block.strip():
                return Frame()  # blank lines between messages: harmless
            return Frame(dropped=f"{len(block)} bytes without a valid Content-Length header")
        # The last header wins: garbage before a good header is dropped with it.
        value = matches[-1].group(1).strip()
        length = int(value) if value.isdigit() else -1
        garbage = matches[-1].start()
        if length < 0:
            return Frame(dropped=f"invalid Content-Length {value[:40]!r}")
        if length == 0:
            return Frame(dropped="empty message (Content-Length 0)")
        self._length = length
        self._scanned = 0
        if length > self.max_message:
            self._skip = True
            return Frame(dropped=f"Content-Length {length} is over the {self.max_message} limit")
        if garbage and block[:garbage].strip():
            return Frame(dropped=f"{garbage} bytes of garbage before a header")
        return Frame()

    def _next_body(self) -> Frame | None:
        assert self._length is not None
        buf, length = self._buf, self._length
        stray = _HEADER_IN_BODY.search(buf, max(0, self._scanned - _SCAN_OVERLAP))
        if stray is not None and stray.start() < length:
            # The Content-Length was too large: the message ends where the next one starts.
            return self._end_body(stray.start(), f"body shorter than its Content-Length {length}")
        if len(buf) >= length:
            cut = _HEADER_START_AT_END.search(buf, max(0, length - _SCAN_OVERLAP), length)
            if cut is not None:
                # The length ends inside the next header, which is read instead of lost.
                return self._end_body(cut.start(), f"Content-Length {length} ran into a header")
            return self._end_body(length, "")
        if self._skip:
            # Keep only a tail that may hold the start of the next header.
            drop = max(0, len(buf) - _SCAN_OVERLAP)
            del buf[:drop]
            self._length -= drop
        self._scanned = len(buf)
        return None

    def _end_body(self, end: int, why: str) -> Frame:
        """The body is ``buf[:end]``; reading goes on with the header after it."""
        skipped = self._skip
        body = b"" if skipped else bytes(self._buf[:end])
        del self._buf[:end]
        self._reset_body()
        if skipped:
            return Frame(dropped="oversized message skipped")
        return Frame(body=body, dropped=why if body or why else "empty message")


# -- the protocol ----------------------------------------------------------------------------


@attrs.define
class UnreadableMessage:
    """A message whose shape or params could not be read; requests get ``error`` back."""

    id: Any
    method: str
    kind: str  # "request" | "notification" | "response"
    code: int
    message: str
    jsonrpc: str = "2.0"


def _valid_id(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _describe_error(exc: BaseException) -> str:
    """Where params went wrong, without their values (they may be buffer text)."""
    try:
        details = cattrs.transform_error(exc)  # type: ignore[arg-type,unused-ignore]
    except Exception:
        details = [type(exc).__name__]
    text = "; ".join(d.replace("$.params.", "").replace("$.params", "params") for d in details)
    return text[:500]


class GhostProtocol(LanguageServerProtocol):
    """pygls' protocol with an answer for every request and a log line for every bad message."""

    _server: LanguageServer

    def __init__(self, server: LanguageServer, converter: cattrs.Converter) -> None:
        super().__init__(server, converter)
        self._pending_writes: set[asyncio.Future[Any]] = set()

    # -- reading ------------------------------------------------------------------------

    def handle_body(self, body: bytes) -> None:
        """Decode one framed body and dispatch it; bad JSON gets a ParseError reply."""
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
            log.warning(
                "invalid JSON in a %d-byte message (%s); answered ParseError", len(body), reason
            )
            self.send_error(None, PARSE_ERROR, f"Parse error: {reason}")
            return
        self.handle_data(data)

    def handle_data(self, data: Any) -> None:
        if not isinstance(data, dict):
            log.warning(
                "message is a JSON %s, not an object; answered InvalidRequest", type(data).__name__
            )
            self.send_error(None, INVALID_REQUEST, "Invalid Request: a message must be an object")
            return
        message = self.structure_message(data)
        self.handle_message(message)

    def structure_message(self, data: dict[str, Any]) -> Any:
        """Typed message for ``data``; an :class:`UnreadableMessage` when it cannot be read."""
        if not isinstance(data, dict) or "jsonrpc" not in data:
            # Called as a JSON object hook on nested objects: leave those alone.
            if isinstance(data, dict) and ("method" in data and "id" in data):
                return self._unreadable(data, INVALID_REQUEST, "missing 'jsonrpc': '2.0'")
            return data
        if data.get("jsonrpc") != "2.0":
            return self._unreadable(data, INVALID_REQUEST, "'jsonrpc' must be '2.0'")
        method = data.get("method")
        if "method" in data and not isinstance(method, str):
            return self._unreadable(data, INVALID_REQUEST, "'method' must be a string")
        if "id" in data and not _valid_id(data["id"]) and data["id"] is not None:
            return self._unreadable(data, INVALID_REQUEST, "'id' must be a string or an integer")
        msg_type = self._message_type(data)
        if msg_type in (JsonRPCRequestMessage, JsonRPCNotification) and "params" not in data:
            data = {**data, "params": None}  # JSON-RPC lets params be left out
        try:
            return self._converter.structure(data, msg_type)
        except Exception as exc:
            code = INVALID_PARAMS if "method" in data else INTERNAL_ERROR
            return self._unreadable(data, code, _describe_error(exc))

    def _message_type(self, data: dict[str, Any]) -> Any:
        if "method" in data:
            fallback = JsonRPCRequestMessage if "id" in data else JsonRPCNotification
            return self.get_message_type(data["method"]) or fallback
        if "error" in data:
            return types.ResponseErrorMessage
        msg_id = data.get("id")
        found = self._result_types.pop(msg_id, None) if isinstance(msg_id, (str, int)) else None
        return found or JsonRPCResponseMessage

    def _unreadable(self, data: dict[str, Any], code: int, reason: str) -> UnreadableMessage:
        method = data.get("method")
        method = method if isinstance(method, str) else ""
        kind = ("request" if "id" in data else "notification") if "method" in data else "response"
        msg_id = data.get("id") if _valid_id(data.get("id")) else None
        if kind == "request" and code == INVALID_PARAMS:
            message = f"Invalid params for {method}: {reason}"
        elif kind == "request":
            message = f"Invalid Request: {reason}"
        else:
            message = reason
        return UnreadableMessage(id=msg_id, method=method, kind=kind, code=code, message=message)

    def handle_message(self, message: Any) -> None:
        if isinstance(message, UnreadableMessage):
            self._answer_unreadable(message)
            return
        if isinstance(message, dict) or not hasattr(message, "jsonrpc"):
            log.warning("message without 'jsonrpc' ignored")
            return
        method = getattr(message, "method", None)
        if self._shutdown and method is not None and method != types.EXIT:
            if hasattr(message, "id"):
                log.warning("request %r after shutdown: answered InvalidRequest", method)
                self.send_error(message.id, INVALID_REQUEST, "the server is shutting down")
            else:
                log.info("notification %r after shutdown ignored", method)
            return
        super().handle_message(message)

    def _answer_unreadable(self, message: UnreadableMessage) -> None:
        if message.kind == "request":
            log.warning(
                "request %s %r could not be read (%s); answered error %d",
                message.id,
                message.method,
                message.message,
                message.code,
            )
            self.send_error(message.id, message.code, message.message)
        elif message.kind == "notification":
            log.warning(
                "notification %r ignored: its params could not be read (%s)",
                message.method,
                message.message,
            )
        else:
            # A reply from the client we cannot read: fail the waiting request, don't hang it.
            future = self._request_futures.pop(message.id, None) if message.id is not None else None
            log.warning("unreadable response to %s ignored (%s)", message.id, message.message)
            if future is not None and not future.done():
                future.set_exception(
                    JsonRpcException(
                        code=INTERNAL_ERROR, message=f"bad response: {message.message}"
                    )
                )

    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        # pygls files the future of every async/generator handler under msg_id but removes it
        # only for client requests: each didChange left one or two futures behind (a leak of
        # about 10 kB per keystroke). Drop it once done, unless something else replaced it.
        future = self._request_futures.get(msg_id)
        if future is not None:
            loop = asyncio.get_event_loop()  # handlers are dispatched on the loop's thread

            def drop(done: Any, key: Any) -> None:
                if self._request_futures.get(key) is done:
                    del self._request_futures[key]

            def forget(done: Any, key: Any = msg_id) -> None:
                # Done-callbacks can run inside pygls' own loop over the futures (shutdown
                # cancels them all) or on a worker thread: drop the entry later, on the loop.
                if not loop.is_closed():
                    loop.call_soon_threadsafe(drop, done, key)

            future.add_done_callback(forget)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        # Cancelling a request that already finished is routine, not a warning.
        future = self._request_futures.pop(msg_id, None) if _valid_id(msg_id) else None
        if future is None:
            log.debug("cancel for finished or unknown request %r", msg_id)
            return
        if future.cancel():
            log.debug("cancelled request %r", msg_id)

    # -- writing ------------------------------------------------------------------------

    def send_error(self, msg_id: Any, code: int, message: str) -> None:
        """An error response; ``msg_id`` None when the request's id could not be read."""
        self._write_json(
            {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}
        )

    def _send_data(self, data: Any) -> None:
        if not data:
            return
        try:
            body = json.dumps(data, default=self._serialize_message)
        except Exception as exc:
            # A result that cannot be serialised must still answer its request.
            msg_id = getattr(data, "id", None)
            log.error("could not serialise %s: %s", type(data).__name__, exc)
            if msg_id is not None and not hasattr(data, "method"):
                self.send_error(msg_id, INTERNAL_ERROR, f"result could not be serialised: {exc}")
            return
        self._write_text(body)

    def _write_json(self, payload: dict[str, Any]) -> None:
        self._write_text(json.dumps(payload))

    def _write_text(self, body: str) -> None:
        if self.writer is None:
            log.error("no transport: message dropped")
            return
        if getattr(self, "_connection_lost", False):
            return  # the client is gone (e.g. Neovim quits without awaiting `shutdown`)
        log.debug("sending %s", body)
        header = (
            f"Content-Length: {len(body)}\r\n"  # json.dumps' output is ASCII: chars == bytes
            f"Content-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n"
            if self._include_headers
            else ""
        )
        try:
            result = self.writer.write((header + body).encode(self.CHARSET))
            if inspect.isawaitable(result):  # websocket-style writers
                task = asyncio.ensure_future(result)
                self._pending_writes.add(task)
                task.add_done_callback(self._pending_writes.discard)
        except BrokenPipeError:
            # Often inside a future's callback, where raising only produces tracebacks in the
            # log: note the lost connection once, stop writing, and let the server wind down.
            self._connection_lost = True
            server = self._server
            if hasattr(server, "closing"):
                server.closing = True
            log.info("the client closed the connection; dropping further messages")
            stop = getattr(server, "_stop_event", None)
            if stop is not None:
                stop.set()
        except Exception:
            log.exception("error sending data")

    # -- text sync: ghostls' DocumentStore is the only copy -------------------------------
    # pygls keeps a second copy of every document; its incremental edit rewrites the
    # change's Position in place (clamping to len-1 on the last line) before ghostls sees it,
    # and it raises KeyError for never-opened documents so ghostls' handler never runs.

    def _user_feature(
        self, method: str, params: Any
    ) -> Generator[tuple[Callable[..., Any], tuple[Any, ...], None], Any, None]:
        if (handler := self.fm.features.get(method)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(
        self, params: types.DidOpenTextDocumentParams
    ) -> Generator[Any, Any, None]:
        yield from self._user_feature(types.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: types.DidChangeTextDocumentParams
    ) -> Generator[Any, Any, None]:
        yield from self._user_feature(types.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(
        self, params: types.DidCloseTextDocumentParams
    ) -> Generator[Any, Any, None]:
        yield from self._user_feature(types.TEXT_DOCUMENT_DID_CLOSE, params)


# -- the reading loop ------------------------------------------------------------------------


def _log_frame(frame: Frame) -> None:
    if frame.dropped:
        log.warning("protocol input: %s", frame.dropped)


async def run_framed(
    protocol: GhostProtocol,
    read_chunk: Callable[[], Awaitable[bytes]],
    stop_event: threading.Event,
) -> None:
    """Read chunks until EOF or ``stop_event``; dispatch every framed message."""
    framer = MessageFramer()
    pending: asyncio.Future[bytes] = asyncio.ensure_future(read_chunk())
    try:
        while not stop_event.is_set():
            timeout = BODY_IDLE_SECONDS if framer.in_body else None
            done, _ = await asyncio.wait({pending}, timeout=timeout)
            if not done:
                frames = framer.flush_idle()
            else:
                chunk = pending.result()
                if not chunk:
                    if framer.pending:
                        log.warning("input closed inside a message (%d bytes)", framer.pending)
                    break
                pending = asyncio.ensure_future(read_chunk())
                frames = framer.feed(chunk)
            for frame in frames:
                _log_frame(frame)
                if frame.body:
                    _dispatch(protocol, frame.body)
            await asyncio.sleep(0)  # let handlers run between chunks of a flood
    finally:
        if not pending.done():
            pending.cancel()


def _dispatch(protocol: GhostProtocol, body: bytes) -> None:
    try:
        protocol.handle_body(body)
    except (SystemExit, KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception:
        log.exception("message handling failed")


class _StdinChunks:
    """Reads stdin on a daemon thread (it never blocks exit), a bounded queue ahead."""

    def __init__(self, stdin: BinaryIO, loop: asyncio.AbstractEventLoop) -> None:
        self._stdin = stdin
        self._loop = loop
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._room = threading.Semaphore(64)  # back-pressure: at most 64 chunks queued
        self._thread = threading.Thread(target=self._run, name="ghostls-stdin", daemon=True)
        self._thread.start()

    def _read(self) -> bytes:
        try:
            return os.read(self._stdin.fileno(), READ_CHUNK)
        except (AttributeError, OSError, ValueError):
            read1 = getattr(self._stdin, "read1", None)
            return bytes(read1(READ_CHUNK) if read1 else self._stdin.read(READ_CHUNK))

    def _run(self) -> None:
        while True:
            self._room.acquire()
            try:
                data = self._read()
            except Exception:
                log.exception("reading stdin failed")
                data = b""
            try:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, data)
            except RuntimeError:  # the loop is closed: the server is exiting
                return
            if not data:
                return

    async def __call__(self) -> bytes:
        data = await self._queue.get()
        self._room.release()
        return data


def serve_stdio(
    server: LanguageServer, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None
) -> None:
    """Serve LSP over stdio with :class:`MessageFramer`; exits like pygls' ``start_io``."""
    protocol = server.protocol
    assert isinstance(protocol, GhostProtocol)
    stop = threading.Event()
    server._stop_event = stop
    protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
    source = stdin or sys.stdin.buffer

    async def main() -> None:
        chunks = _StdinChunks(source, asyncio.get_running_loop())
        await run_framed(protocol, chunks, stop)

    _run_server(server, main)


class _SocketWriter:
    """pygls' writer interface over an asyncio stream; callable from worker threads too."""

    def __init__(self, writer: asyncio.StreamWriter, loop: asyncio.AbstractEventLoop) -> None:
        self._writer = writer
        self._loop = loop

    def close(self) -> None:
        self._writer.close()

    def write(self, data: bytes) -> None:
        if self._writer.is_closing():
            raise BrokenPipeError("the client closed the connection")
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._writer.write(data)
        else:  # asyncio transports are not thread-safe
            self._loop.call_soon_threadsafe(self._writer.write, data)


def serve_tcp(
    server: LanguageServer,
    host: str,
    port: int,
    on_listening: Callable[[str, int], None] | None = None,
) -> None:
    """Serve one LSP client over TCP with :class:`MessageFramer`, as ``serve_stdio`` does.

    Like pygls' ``start_tcp`` the server is for one client: the listener closes once it has
    connected (a second client is refused, not mixed into the first one's session) and the
    server exits when that client disconnects or sends ``exit``.
    """
    protocol = server.protocol
    assert isinstance(protocol, GhostProtocol)
    stop = threading.Event()
    server._stop_event = stop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        client: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
        client = loop.create_future()

        def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if client.done():
                writer.close()
                return
            client.set_result((reader, writer))

        listener = await asyncio.start_server(connected, host, port, limit=READ_CHUNK)
        bound = listener.sockets[0].getsockname()
        log.info("ghostls listening on %s:%s", bound[0], bound[1])
        if on_listening is not None:
            on_listening(str(bound[0]), int(bound[1]))
        try:
            reader, writer = await client
        finally:
            listener.close()
        log.info("client connected from %s", writer.get_extra_info("peername"))
        protocol.set_writer(_SocketWriter(writer, loop))

        async def read_chunk() -> bytes:
            try:
                return await reader.read(READ_CHUNK)
            except (ConnectionError, OSError):
                return b""  # a reset connection is the end of the input

        try:
            await run_framed(protocol, read_chunk, stop)
        finally:
            with contextlib.suppress(Exception):  # a client that is gone needs no flush
                await asyncio.wait_for(writer.drain(), timeout=2)
            writer.close()

    _run_server(server, main)


def _run_server(server: LanguageServer, main: Callable[[], Awaitable[None]]) -> None:
    """Run the reading loop; exit like pygls' ``start_io`` (``exit``'s code is kept)."""
    exit_code: int | str | None = None
    try:
        asyncio.run(main())  # type: ignore[arg-type]
    except BrokenPipeError:
        log.error("connection to the client is lost; shutting down")
    except KeyboardInterrupt:
        pass
    except SystemExit as exc:  # `exit`: 0 after `shutdown`, 1 without (LSP spec)
        exit_code = exc.code
    finally:
        server.shutdown()
    if exit_code:
        raise SystemExit(exit_code)


def iter_frames(data: bytes, chunk: int = 7) -> Iterator[Frame]:
    """Frames of ``data`` fed in small chunks (tests and tools)."""
    framer = MessageFramer()
    for start in range(0, len(data), chunk):
        yield from framer.feed(data[start : start + chunk])
