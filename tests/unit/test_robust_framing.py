"""MessageFramer: splitting a byte stream into LSP messages, whatever the stream holds."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ghostls.protocol import MessageFramer


def frame(obj: object) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def bodies(data: bytes, chunk: int | None = None) -> list[bytes]:
    framer = MessageFramer(max_message=10_000)
    chunk = chunk or max(1, len(data))
    out: list[bytes] = []
    for start in range(0, len(data), chunk):
        out += [f.body for f in framer.feed(data[start : start + chunk]) if f.body]
    return out


def msg(i: int) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": i, "method": "m", "params": {"text": "é😀\\r\\n" * i}}


def test_plain_messages_in_any_chunking() -> None:
    data = b"".join(frame(msg(i)) for i in range(5))
    expected = [json.dumps(msg(i)).encode() for i in range(5)]
    for chunk in (1, 2, 3, 7, 64, None):
        assert bodies(data, chunk) == expected


def test_headers_are_case_insensitive_and_may_use_bare_newlines() -> None:
    body = json.dumps(msg(1)).encode()
    data = b"content-length:%d\nContent-Type: x\n\n" % len(body) + body
    assert bodies(data) == [body]


def test_bad_headers_are_dropped_and_the_next_message_is_read() -> None:
    good = frame(msg(7))
    for bad in (b"Content-Length: -1\r\n\r\n", b"Content-Length: x\r\n\r\n", b"X: y\r\n\r\n"):
        framer = MessageFramer()
        frames = framer.feed(bad + b'{"lost": 1}' + good)
        assert [f.body for f in frames if f.body] == [json.dumps(msg(7)).encode()]
        assert any(f.dropped for f in frames)


def test_length_larger_than_the_body_ends_at_the_next_header() -> None:
    body = json.dumps(msg(1)).encode()
    data = b"Content-Length: %d\r\n\r\n" % (len(body) + 1000) + body + frame(msg(2))
    assert bodies(data) == [body, json.dumps(msg(2)).encode()]


def test_length_larger_than_everything_is_flushed_when_idle() -> None:
    body = json.dumps(msg(1)).encode()
    framer = MessageFramer()
    assert framer.feed(b"Content-Length: 9999\r\n\r\n" + body) == []
    assert [f.body for f in framer.flush_idle()] == [body]
    # Then normal reading resumes.
    assert [f.body for f in framer.feed(frame(msg(2)))] == [json.dumps(msg(2)).encode()]


def test_incomplete_json_is_not_flushed() -> None:
    framer = MessageFramer()
    framer.feed(b"Content-Length: 100\r\n\r\n" + b'{"jsonrpc": "2.0", "id"')
    assert framer.flush_idle() == []
    assert framer.in_body


def test_oversized_message_is_skipped_without_buffering_it() -> None:
    framer = MessageFramer(max_message=1000)
    frames = framer.feed(b"Content-Length: 5000\r\n\r\n")
    assert "limit" in frames[0].dropped
    for _ in range(4):
        framer.feed(b"x" * 1000)
        assert framer.pending <= 300  # discarded as it arrives
    frames = framer.feed(b"y" * 1000 + frame(msg(3)))
    assert [f.body for f in frames if f.body] == [json.dumps(msg(3)).encode()]


def test_oversized_lie_resynchronises_on_the_next_header() -> None:
    framer = MessageFramer(max_message=1000)
    frames = framer.feed(b"Content-Length: 99999999999999\r\n\r\nabc" + frame(msg(4)))
    assert [f.body for f in frames if f.body] == [json.dumps(msg(4)).encode()]


def test_endless_garbage_keeps_memory_bounded() -> None:
    framer = MessageFramer(max_header=512)
    for _ in range(200):
        framer.feed(b"garbage without any header " * 40)
        assert framer.pending <= 1200
    assert [f.body for f in framer.feed(b"\r\n\r\n" + frame(msg(5))) if f.body] == [
        json.dumps(msg(5)).encode()
    ]


def test_zero_length_is_reported() -> None:
    frames = MessageFramer().feed(b"Content-Length: 0\r\n\r\n" + frame(msg(6)))
    assert frames[0].dropped
    assert frames[-1].body == json.dumps(msg(6)).encode()


_garbage = st.binary(max_size=200).filter(
    lambda b: b"content-length" not in b.lower() and b"\n" not in b
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_garbage, st.integers(0, 20)), min_size=1, max_size=8),
    st.integers(1, 97),
)
def test_garbage_before_messages_never_loses_a_message(
    parts: list[tuple[bytes, int]], chunk: int
) -> None:
    """Garbage on the line before a header (no newline in it) is dropped; every message is read."""
    data = b"".join(garbage + frame(msg(i)) for garbage, i in parts)
    expected = [json.dumps(msg(i)).encode() for _, i in parts]
    assert bodies(data, chunk) == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000), st.integers(1, 500))
def test_any_bytes_then_a_clean_message_is_read_after_a_blank_line(junk: bytes, chunk: int) -> None:
    """After arbitrary junk, a message preceded by a blank line is always recovered."""
    framer = MessageFramer(max_message=5000)
    data = junk + b"\r\n\r\n" + frame(msg(99))
    seen = []
    for start in range(0, len(data), chunk):
        seen += [f.body for f in framer.feed(data[start : start + chunk]) if f.body]
    seen += [f.body for f in framer.flush_idle() if f.body]
    # Only junk that itself holds a Content-Length header can take the message with it.
    assert json.dumps(msg(99)).encode() in seen or b"content-length" in junk.lower()


_TYPE = b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"


def framed_with(body: bytes, length: int, layout: int) -> bytes:
    """One message with a declared ``length``; ``layout`` picks the header style editors use."""
    length_line = b"Content-Length: %d\r\n" % length
    if layout == 0:
        return length_line + b"\r\n" + body
    if layout == 1:
        return length_line + _TYPE + b"\r\n" + body
    return _TYPE + length_line + b"\r\n" + body


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 3), st.integers(0, 2)), min_size=2, max_size=6
    ),
    st.integers(1, 61),
    st.data(),
)
def test_a_length_that_lies_ends_at_the_next_header_wherever_it_lands(
    parts: list[tuple[int, int, int]], chunk: int, data: st.DataObject
) -> None:
    """Each lying Content-Length may overshoot into any byte of what follows: the next
    message's header (the case that used to lose it), its body, or later messages. Every
    message is still read, whole and in order, however the stream is chunked."""
    plain = [json.dumps(msg(i)).encode() for i, _, _ in parts]
    stream = b""
    for k, ((_, lies, layout), body) in enumerate(zip(parts, plain, strict=True)):
        # Roughly how much follows (later lies make it a bit longer): 0 = honest, otherwise
        # the length lands on any byte of what follows, or past the end of the stream.
        following = sum(len(b) + 100 for b in plain[k + 1 :])
        overshoot = data.draw(st.integers(1, following + 40), label=f"lie {k}") if lies else 0
        stream += framed_with(body, len(body) + overshoot, layout)
    framer = MessageFramer(max_message=10_000)
    seen: list[bytes] = []
    for start in range(0, len(stream), chunk):
        seen += [f.body for f in framer.feed(stream[start : start + chunk]) if f.body]
    seen += [f.body for f in framer.flush_idle() if f.body]  # the last one may lie too
    assert seen == plain


def test_a_length_ending_inside_the_next_header_line_loses_nothing() -> None:
    """The exact former known limit: the lie ends between 'Content-L' and 'ength: N'."""
    first, second = json.dumps(msg(1)).encode(), json.dumps(msg(2)).encode()
    tail = frame(msg(2))
    for into in range(1, tail.index(b"\r\n\r\n") + 4):
        data = b"Content-Length: %d\r\n\r\n" % (len(first) + into) + first + tail
        for chunk in (1, len(first) + 25 + into, len(data)):
            assert bodies(data, chunk) == [first, second], (into, chunk)
