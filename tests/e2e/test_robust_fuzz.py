"""Hypothesis drives the real server with random edits and requests; its texts must not drift.

A reference model applies every edit with the rules documents.py promises: positions clamp to
the line end (a line's terminator is '\\n' or '\\r\\n'; lines past the last one mean the end of
the document), a UTF-16 column inside a character clamps to the character's start, reversed
ranges are swapped, stale versions and never-opened documents are ignored.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.test_robust_wire import RawServer, raw_server

# Characters chosen to break position arithmetic: multi-byte, astral (surrogate pairs in
# UTF-16), CR/LF mixes, NUL, a lone surrogate, a BOM and brackets for the parser.
PIECES = ["a", "b", "x", " ", "\t", "\n", "\r\n", "\r", "é", "中", "😀", "🐍", "\x00", "\ud83d"]
PIECES += ["\ufeff", "(", ")", "[", ":", "def f(", "    ", '"', "#"]

MESSAGES = itertools.count()


def _offset(text: str, row: int, col: int) -> int:
    """Code-point offset of an LSP (row, UTF-16 col), clamped the documented way."""
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    if row >= len(starts):
        return len(text)
    start = starts[row]
    end = starts[row + 1] - 1 if row + 1 < len(starts) else len(text)
    line = text[start:end]
    if line.endswith("\r"):
        line = line[:-1]
    units = 0
    for index, ch in enumerate(line):
        width = 2 if ord(ch) > 0xFFFF else 1
        if units + width > col:
            return start + index
        units += width
    return start + len(line)


@dataclass
class Model:
    texts: dict[str, str] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)

    def open(self, uri: str, text: str, version: int) -> None:
        self.texts[uri], self.versions[uri] = text, version

    def change(self, uri: str, version: int, changes: list[dict[str, Any]]) -> None:
        if uri not in self.texts or version < self.versions[uri]:
            return
        text = self.texts[uri]
        for change in changes:
            if "range" not in change:
                text = change["text"]
                continue
            r = change["range"]
            a = _offset(text, r["start"]["line"], r["start"]["character"])
            b = _offset(text, r["end"]["line"], r["end"]["character"])
            a, b = min(a, b), max(a, b)
            text = text[:a] + change["text"] + text[b:]
        self.texts[uri], self.versions[uri] = text, version

    def close(self, uri: str) -> None:
        self.texts.pop(uri, None)
        self.versions.pop(uri, None)


texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
small = st.integers(0, 6)
columns = st.one_of(st.integers(0, 12), st.integers(0, 2**31 - 1))
positions = st.fixed_dictionaries({"line": small, "character": columns})
range_change = st.fixed_dictionaries(
    {"range": st.fixed_dictionaries({"start": positions, "end": positions}), "text": texts}
)
full_change = st.fixed_dictionaries({"text": texts})
changes = st.lists(st.one_of(range_change, range_change, range_change, full_change), max_size=4)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
REQUEST_METHODS = [
    "textDocument/inlineCompletion",
    "textDocument/completion",
    "textDocument/codeAction",
    "textDocument/hover",
    "ghostls/stats",
    "fuzz/unknown",
]


def _request_params(uri: str, kind: int, pos: dict[str, int], junk: Any) -> Any:
    doc = {"uri": uri}
    rng = {"start": pos, "end": pos}
    shaped = [
        {"textDocument": doc, "position": pos, "context": {"triggerKind": 2}},
        {"textDocument": doc, "position": pos},
        {"textDocument": doc, "range": rng, "context": {"diagnostics": []}},
    ]
    return shaped[kind] if kind < len(shaped) else junk


operation = st.one_of(
    st.tuples(st.just("open"), st.integers(0, 2), texts),
    st.tuples(st.just("change"), st.integers(0, 3), st.integers(-2, 3), changes),
    st.tuples(st.just("change"), st.integers(0, 3), st.integers(-2, 3), changes),
    st.tuples(st.just("change"), st.integers(0, 3), st.integers(-2, 3), changes),
    st.tuples(st.just("close"), st.integers(0, 3)),
    st.tuples(
        st.just("request"),
        st.sampled_from(REQUEST_METHODS),
        st.integers(0, 3),
        st.integers(0, 4),
        positions,
        json_values,
    ),
    st.tuples(st.just("junk"), st.sampled_from(["textDocument/didChange", "fuzz/n"]), json_values),
)

EXAMPLE = itertools.count()


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[RawServer]:
    # Short generations: the fuzz is about the protocol and documents, not the model.
    with raw_server(init_options={"completion": {"maxTokens": 2}}) as server:
        yield server
        assert server.alive()
        print(f"\nfuzz: {next(MESSAGES)} messages sent to one server")


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(operation, min_size=20, max_size=80))
def test_fuzzed_stream_keeps_server_alive_and_texts_exact(
    fuzz_server: RawServer, ops: list[tuple[Any, ...]]
) -> None:
    srv = fuzz_server
    run = next(EXAMPLE)
    uris = [f"file:///tmp/ghostls_fuzz_{run}_{i}.py" for i in range(4)]  # uri 3: never opened
    model = Model()
    version = {u: 1 for u in uris}
    pending: list[int] = []
    for op in ops:
        next(MESSAGES)
        if op[0] == "open":
            uri, text = uris[op[1]], op[2]
            srv.open(uri, text, version[uri])
            model.open(uri, text, version[uri])
        elif op[0] == "change":
            uri, step, edits = uris[op[1]], op[2], op[3]
            version[uri] += step  # may go down: stale versions must be ignored
            srv.change(uri, version[uri], edits)
            model.change(uri, version[uri], edits)
        elif op[0] == "close":
            uri = uris[op[1]]
            srv.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            model.close(uri)
        elif op[0] == "request":
            _, method, doc, kind, pos, junk = op
            pending.append(srv.request_id(method, _request_params(uris[doc], kind, pos, junk)))
        else:
            srv.notify(op[1], op[2])
    for msg_id in pending:
        reply = srv.reply(msg_id)
        assert "result" in reply or "code" in reply.get("error", {}), reply
        if "error" in reply:
            assert reply["error"]["code"] != -32603, reply  # an internal error is a bug
    for uri in uris:
        next(MESSAGES)
        assert srv.text(uri) == model.texts.get(uri), uri


def test_reference_model_matches_documented_clamping() -> None:
    """The model itself, on the cases documents.py spells out."""
    assert _offset("ab\r\ncd", 0, 99) == 2  # before the CR of CRLF
    assert _offset("ab\ncd", 5, 0) == 5  # past the last line: document end
    assert _offset("a😀b", 0, 2) == 1  # inside the pair: start of the character
    assert _offset("a😀b", 0, 3) == 2
    model = Model()
    model.open("u", "hello", 3)
    model.change("u", 2, [{"text": "stale"}])
    assert model.texts["u"] == "hello"
    model.change(
        "u",
        4,
        [
            {
                "range": {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 1}},
                "text": "",
            }
        ],
    )
    assert model.texts["u"] == "ho"
