"""Safety of the real server: it never runs the user's code, opens no network connection unless
a remote backend is configured, writes only to its cache and log, and keeps buffer text out of
its log unless verbose logging is asked for.

The server runs under an audit hook (a ``sitecustomize`` put on PYTHONPATH) that records
socket creation/connection, files opened for writing and process creation to a JSON-lines file.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import platformdirs
import pytest

from tests.e2e.test_robust_wire import RawServer, frame

SITECUSTOMIZE = """
import json, os, sys
_path = os.environ.get("GHOSTLS_AUDIT_LOG")
if _path:
    _out = open(_path, "a", buffering=1, encoding="utf-8")  # opened before the hook exists
    _busy = [False]
    _WRITE = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    _SPAWN = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
              "os.fork", "os.forkpty", "pty.spawn")
    _NET = ("socket.connect", "socket.bind", "socket.getaddrinfo", "socket.sendto",
            "socket.gethostbyname")

    def _record(kind, detail):
        _busy[0] = True
        try:
            _out.write(json.dumps({"event": kind, "detail": detail}) + "\\n")
        finally:
            _busy[0] = False

    def _hook(event, args):
        if _busy[0]:
            return
        if event == "socket.__new__":
            _record(event, {"family": int(args[1])})
        elif event in _NET:
            _record(event, repr(args[1:])[:200])
        elif event == "open":
            path, mode, flags = (list(args) + [None, None])[:3]
            writes = isinstance(mode, str) and any(c in mode for c in "wax+")
            writes = writes or (isinstance(flags, int) and bool(flags & _WRITE))
            if writes and isinstance(path, (str, bytes, os.PathLike)):
                _record("open-write", os.fsdecode(path))
        elif event in _SPAWN:
            _record(event, repr(args[:1])[:200])

    sys.addaudithook(_hook)
"""

AF_UNIX = 1  # asyncio's self-pipe is a local socketpair: allowed


@pytest.fixture
def audited(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)
    audit = tmp_path / "audit.jsonl"
    env = {
        "PYTHONPATH": os.pathsep.join(
            [str(hook_dir), *filter(None, [os.environ.get("PYTHONPATH", "")])]
        ),
        "GHOSTLS_AUDIT_LOG": str(audit),
        "PYTHONDONTWRITEBYTECODE": "1",  # Python's own .pyc writes are not ghostls'
    }
    yield env, audit


def events(audit: Path) -> list[dict[str, Any]]:
    if not audit.exists():
        return []
    return [json.loads(line) for line in audit.read_text().splitlines() if line.strip()]


def start(env: dict[str, str], args: list[str], init: dict[str, Any] | None = None) -> RawServer:
    server = RawServer(args, env)
    server.initialize(init or {"completion": {"maxTokens": 4}})
    return server


USER_CODE = """\
import json
import pathlib
import subprocess

pathlib.Path({marker!r}).write_text("user code ran")
subprocess.run(["touch", {marker2!r}])
print("{stdout_marker}")


def handler(event):
    return undefined_name + event
"""


def exercise(srv: RawServer, uri: str, text: str) -> None:
    """Open, wait for diagnostics, ask for every code action and a completion."""
    srv.open(uri, text)
    published = srv.wait_notification(
        lambda m: m["method"] == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri,
        timeout=120,
    )
    diagnostics = published["params"]["diagnostics"]
    end = {"line": text.count("\n"), "character": 0}
    reply = srv.request(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": uri},
            "range": {"start": {"line": 0, "character": 0}, "end": end},
            "context": {"diagnostics": diagnostics},
        },
        timeout=120,
    )
    for action in reply.get("result") or []:
        if isinstance(action, dict) and "edit" not in action and "command" not in action:
            srv.request("codeAction/resolve", action, timeout=120)
    srv.request(
        "textDocument/inlineCompletion",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 10, "character": 11},
            "context": {"triggerKind": 1},
        },
        timeout=120,
    )


def test_user_code_is_never_run_and_default_server_stays_offline(
    audited: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, audit = audited
    marker, marker2 = tmp_path / "ran.txt", tmp_path / "ran2.txt"
    stdout_marker = f"EXEC-MARKER-{uuid.uuid4().hex}"
    log_file = tmp_path / "server.log"
    srv = start(env, ["--log-file", str(log_file)])
    try:
        text = USER_CODE.format(
            marker=str(marker), marker2=str(marker2), stdout_marker=stdout_marker
        )
        exercise(srv, "file:///tmp/ghostls_safety_user_code.py", text)
        # A syntax error too: fix verification re-parses candidates, it must not run them.
        exercise(
            srv,
            "file:///tmp/ghostls_safety_syntax.py",
            text.replace("def handler(", "def handler(("),
        )
        assert srv.alive()
    finally:
        srv.close()
    assert not marker.exists() and not marker2.exists(), "the user's code was executed"
    assert stdout_marker not in srv_stderr(srv, log_file)
    recorded = events(audit)
    assert recorded, "the audit hook did not run"
    spawned = [e for e in recorded if e["event"] in ("subprocess.Popen", "os.system", "os.exec")]
    assert not spawned, spawned
    network = [
        e
        for e in recorded
        if e["event"] != "open-write"
        and not (e["event"] == "socket.__new__" and e["detail"]["family"] == AF_UNIX)
    ]
    assert not network, f"network activity with default settings: {network}"
    allowed = [Path(platformdirs.user_cache_dir("ghostls")).resolve(), log_file.resolve()]
    allowed.append(Path(os.environ.get("GHOSTLS_CACHE_DIR", allowed[0])).resolve())
    writes = {e["detail"] for e in recorded if e["event"] == "open-write"}
    assert str(log_file) in writes  # the hook sees writes: the log file is one
    stray = [w for w in writes if not _under(Path(w), allowed) and w != "/dev/null"]
    assert not stray, f"writes outside the cache and log: {stray}"


def test_audit_hook_sees_a_remote_backend_connect(
    audited: tuple[dict[str, str], Path],
) -> None:
    """The control: with a remote backend configured, the same hook records the connection."""
    env, audit = audited
    init = {"backend": {"kind": "openai", "url": "http://127.0.0.1:9/v1", "timeoutMs": 500}}
    srv = start(env, [], init)
    try:
        uri = "file:///tmp/ghostls_safety_remote.py"
        srv.open(uri, "def add(a, b):\n    return ")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            srv.request(
                "textDocument/inlineCompletion",
                {
                    "textDocument": {"uri": uri},
                    "position": {"line": 1, "character": 11},
                    "context": {"triggerKind": 1},
                },
                timeout=60,
            )
            if any(e["event"] == "socket.connect" for e in events(audit)):
                break
            time.sleep(0.5)
        assert srv.alive()
    finally:
        srv.close()
    assert any(e["event"] == "socket.connect" for e in events(audit))


def srv_stderr(srv: RawServer, log_file: Path) -> str:
    return log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""


def _under(path: Path, roots: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved == root or root in resolved.parents for root in roots)


def _leak_everything(srv: RawServer, marker: str) -> None:
    """Put the marker in a document and in every kind of bad message the server logs about."""
    uri = "file:///tmp/ghostls_safety_log.py"
    srv.open(uri, f"import os\n\nsecret = '{marker}'\nprint(undefined_{marker[:8]})\n")
    srv.change(uri, 2, [{"range": _r(0, 0, 0, 0), "text": f"# {marker}\n"}])
    srv.change("file:///tmp/never_opened.py", 2, [{"range": _r(0, 0, 0, 0), "text": marker}])
    srv.change(uri, 1, [{"range": _r(0, 0, 0, 0), "text": marker}])  # stale version
    srv.notify(
        "textDocument/didOpen", {"textDocument": {"uri": uri, "text": marker, "version": "x"}}
    )
    srv.send_raw(frame(f'{{"jsonrpc": "2.0", "id": 5, "method": "{marker}"'))  # invalid JSON
    # Method names, command names and URIs are not buffer text; their params are.
    srv.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": marker})
    srv.request("ghostls/noSuchMethod", {"text": marker})
    srv.request("workspace/executeCommand", {"command": "ghostls.nope", "arguments": [marker]})
    srv.request(
        "workspace/executeCommand",
        {"command": "ghostls.debug.documentText", "arguments": [uri, marker]},
    )
    srv.wait_notification(
        lambda m: m["method"] == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri,
        timeout=120,
    )
    srv.request(
        "textDocument/inlineCompletion",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 3, "character": 5},
            "context": {"triggerKind": 1},
        },
        timeout=120,
    )
    assert srv.alive()


def _r(sl: int, sc: int, el: int, ec: int) -> dict[str, Any]:
    return {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}}


@pytest.mark.parametrize("verbose", [False, True], ids=["default-level", "debug-level"])
def test_buffer_text_stays_out_of_the_log_unless_verbose(tmp_path: Path, verbose: bool) -> None:
    marker = f"MARKER{uuid.uuid4().hex}"
    log_file = tmp_path / "ghostls.log"
    args = ["--log-file", str(log_file)] + (["-vv"] if verbose else [])
    srv = RawServer(args)
    srv.initialize({"completion": {"maxTokens": 4}})
    try:
        _leak_everything(srv, marker)
    finally:
        srv.close()
    logged = log_file.read_text(encoding="utf-8", errors="replace")
    assert logged.strip(), "nothing was logged: the check would prove nothing"
    if verbose:
        assert marker in logged  # -vv logs messages in full: the control
    else:
        assert marker not in logged, [line for line in logged.splitlines() if marker in line]
    assert marker not in srv.stderr_text()
