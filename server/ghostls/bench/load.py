"""Load: completion requests with cancellations and a flood of edits against the real server.

``python -m ghostls.bench load [--completions N] [--edits N] [--hostile]`` starts
``ghostls serve`` as a subprocess, drives it over stdio as fast as the pipe allows and reports:
requests left unanswered (must be 0), reply latency, the server's RSS (VmRSS) over the run
and its growth after warm-up, and whether the server's document text matched the edits at
every checkpoint. ``--hostile`` adds open/diagnose/complete timings for hostile buffers.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ghostls.bench.report import summarize, write_report

SERVER = [sys.executable, "-m", "ghostls", "serve"]


class WireClient:
    """A minimal LSP client over a subprocess' stdio: frames, replies by id, notifications."""

    def __init__(self, args: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
        self.proc = subprocess.Popen(
            [*SERVER, *(args or [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env={**os.environ, **(env or {})},
        )
        self._ids = itertools.count(1)
        self.replies: dict[Any, dict[str, Any]] = {}
        self.reply_times: dict[Any, float] = {}
        self.sent_times: dict[Any, float] = {}
        self.notifications: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._lock = threading.Lock()
        threading.Thread(target=self._read_loop, daemon=True).start()

    def _read_loop(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = 0
            while True:
                line = out.readline()
                if not line:
                    return
                if not line.strip():
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            message = json.loads(out.read(length))
            if "method" in message and "id" in message:  # a server request: answer null
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                continue
            with self._cond:
                if "method" in message:
                    self.notifications.append(message)
                else:
                    self.replies[message.get("id")] = message
                    self.reply_times[message.get("id")] = time.perf_counter()
                self._cond.notify_all()

    def send(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        assert self.proc.stdin is not None
        with self._lock:
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.proc.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request_id(self, method: str, params: Any) -> int:
        msg_id = next(self._ids)
        self.sent_times[msg_id] = time.perf_counter()
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def reply(self, msg_id: Any, timeout: float = 30.0) -> dict[str, Any]:
        if not self.wait(lambda: msg_id in self.replies, timeout):
            raise TimeoutError(f"no reply to {msg_id!r} within {timeout}s")
        with self._cond:
            return self.replies.pop(msg_id)

    def request(self, method: str, params: Any, timeout: float = 30.0) -> dict[str, Any]:
        return self.reply(self.request_id(method, params), timeout)

    def initialize(self, init_options: dict[str, Any] | None = None) -> None:
        self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": Path.cwd().as_uri(),
                "capabilities": {},
                "initializationOptions": init_options,
            },
        )
        self.notify("initialized", {})

    def wait_ready(self, timeout: float = 120.0) -> str:
        """The engine's state once it left 'loading' (ghostls/status)."""

        def state() -> str:
            for message in reversed(self.notifications):
                if message["method"] == "ghostls/status":
                    return str(message["params"].get("state"))
            return "loading"

        self.wait(lambda: state() != "loading", timeout)
        return state()

    def text(self, uri: str, timeout: float = 600.0) -> str | None:
        reply = self.request(
            "workspace/executeCommand",
            {"command": "ghostls.debug.documentText", "arguments": [uri]},
            timeout,
        )
        result = reply.get("result")
        return None if result is None else str(result)

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def close(self) -> int | None:
        if self.proc.poll() is None:
            try:
                self.request("shutdown", None, timeout=20)
                self.notify("exit", None)
                self.proc.wait(timeout=20)
            except (TimeoutError, OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
        return self.proc.returncode


# -- scenarios ---------------------------------------------------------------------------------


def _did_change(client: WireClient, uri: str, version: int, edit: dict[str, Any]) -> None:
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": version}, "contentChanges": [edit]},
    )


def _insert(line: int, col: int, text: str) -> dict[str, Any]:
    pos = {"line": line, "character": col}
    return {"range": {"start": pos, "end": pos}, "text": text}


def run_completions(client: WireClient, count: int, cancel_every: int = 2) -> dict[str, Any]:
    """Type a character, ask for ghost text, cancel every other request; all must be answered."""
    uri = "file:///tmp/ghostls_load_completions.py"
    prefix = "import os\n\n\ndef walk(path):\n    for root, dirs, files in os.walk(path):\n"
    body = "        "
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": prefix}},
    )
    ids: list[int] = []
    cancelled = 0
    typed = "print(root, len(files)) if files else None  # "
    rss: list[int] = []
    started = time.perf_counter()
    for i in range(count):
        ch = typed[i % len(typed)]
        _did_change(client, uri, i + 2, _insert(5, len(body), ch))
        body += ch
        msg_id = client.request_id(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": 5, "character": len(body)},
                "context": {"triggerKind": 2},
            },
        )
        ids.append(msg_id)
        if cancel_every and i % cancel_every == 0:
            client.notify("$/cancelRequest", {"id": msg_id})
            cancelled += 1
        if body.endswith("# "):
            # Start the line again: the document stays small however many requests are made.
            line = {
                "start": {"line": 5, "character": 0},
                "end": {"line": 5, "character": len(body)},
            }
            _did_change(client, uri, i + 2, {"range": line, "text": "        "})
            body = "        "
        if i % max(1, count // 20) == 0:
            rss.append(client.rss_kb())
    sent = time.perf_counter() - started
    answered = client.wait(lambda: all(i in client.replies for i in ids), timeout=600)
    errors: dict[str, int] = {}
    latencies = []
    for msg_id in ids:
        reply = client.replies.get(msg_id)
        if reply is None:
            continue
        latencies.append((client.reply_times[msg_id] - client.sent_times[msg_id]) * 1000)
        if "error" in reply:
            key = str(reply["error"].get("code"))
            errors[key] = errors.get(key, 0) + 1
    missing = sum(1 for i in ids if i not in client.replies)
    rss.append(client.rss_kb())  # after every reply: the samples above are taken mid-burst
    return {
        "requests": count,
        "cancel_notifications": cancelled,
        "all_answered": answered,
        "unanswered": missing,
        "errors_by_code": errors,
        "send_seconds": round(sent, 3),
        "reply_ms": summarize(latencies),
        "rss_kb_samples": rss,
    }


def run_edits(client: WireClient, count: int, checkpoints: int = 10) -> dict[str, Any]:
    """Random inserts/deletes as fast as the pipe allows; the server's text checked en route."""
    rng = random.Random(10)
    uri = "file:///tmp/ghostls_load_edits.py"
    lines = [f"value_{i} = {i}  # é中😀" for i in range(200)]
    client.notify(
        "textDocument/didOpen",
        {
            "textDocument": {
                "uri": uri,
                "languageId": "python",
                "version": 1,
                "text": "\n".join(lines),
            }
        },
    )
    mismatches = 0
    checks = 0
    rss: list[int] = []
    warm = max(1, count // 5)
    started = time.perf_counter()
    every = max(1, count // checkpoints)
    for i in range(count):
        row = rng.randrange(len(lines))
        line = lines[row]
        col = rng.randrange(len(line) + 1)
        if rng.random() < 0.55 or len(line) < 4:
            piece = rng.choice(["x", "(", ")", " ", "é", "😀", "_1", "\n"])
            edit = _insert(row, _utf16(line[:col]), piece)
            new = line[:col] + piece + line[col:]
            lines[row : row + 1] = new.split("\n")
        else:
            end = min(len(line), col + rng.randrange(1, 4))
            edit = {
                "range": {
                    "start": {"line": row, "character": _utf16(line[:col])},
                    "end": {"line": row, "character": _utf16(line[:end])},
                },
                "text": "",
            }
            lines[row] = line[:col] + line[end:]
        _did_change(client, uri, i + 2, edit)
        if (i + 1) % every == 0:
            checks += 1
            mismatches += client.text(uri) != "\n".join(lines)
            rss.append(client.rss_kb())
    elapsed = time.perf_counter() - started
    checks += 1
    final_exact = client.text(uri) == "\n".join(lines)
    mismatches += not final_exact
    after_warm = [r for j, r in enumerate(rss) if (j + 1) * every > warm]
    rss_end = client.rss_kb()
    return {
        "edits": count,
        "seconds": round(elapsed, 3),
        "edits_per_second": round(count / elapsed, 1) if elapsed else 0.0,
        "text_checks": checks,
        "text_mismatches": mismatches,
        "final_text_exact": final_exact,
        "rss_kb_samples": rss,
        "rss_growth_after_warmup_kb": (after_warm[-1] - after_warm[0]) if after_warm else 0,
        "rss_after_warmup_kb": after_warm[0] if after_warm else rss_end,
        "rss_end_kb": rss_end,
        "rss_max_after_warmup_kb": max(after_warm, default=rss_end),
    }


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def run_hostile(client: WireClient) -> dict[str, Any]:
    """Open/diagnose/complete/edit timings for hostile buffers (seconds)."""
    rng = random.Random(10)
    buffers = {
        "50k_lines": "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(25_000)),
        "1mb_line": "x = " + "a + " * 250_000 + "1\n",
        "binary_junk": bytes(rng.randrange(256) for _ in range(200_000)).decode("latin-1"),
        "nested_brackets": "x = " + "[" * 50_000 + "]" * 50_000 + "\n",
        "nul_bytes": "x = 1\x00\x00\ny = 2\n" * 20_000,
        "mixed_line_endings": "a = 1\r\nb = 2\rc = 3\n" * 20_000,
    }
    out: dict[str, Any] = {}
    for name, text in buffers.items():
        uri = f"file:///tmp/ghostls_bench_hostile_{name}.py"
        t0 = time.perf_counter()
        client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
        )
        exact = client.text(uri, timeout=300) == text
        t_open = time.perf_counter() - t0

        def diagnosed(uri: str = uri) -> bool:
            return any(
                m["method"] == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
                for m in client.notifications
            )

        client.wait(diagnosed, timeout=300)
        t_diag = time.perf_counter() - t0
        lines = text.split("\n")
        t1 = time.perf_counter()
        reply = client.request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": len(lines) - 1, "character": _utf16(lines[-1])},
                "context": {"triggerKind": 1},
            },
            timeout=300,
        )
        t_complete = time.perf_counter() - t1
        keys = _keystrokes(client, uri, len(lines) // 2, 20)
        exact = exact and client.text(uri, timeout=300) == _typed(text, len(lines) // 2, 20)
        client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        out[name] = {
            "bytes": len(text.encode("utf-8", "surrogatepass")),
            "open_s": round(t_open, 3),
            "diagnostics_s": round(t_diag, 3),
            "completion_s": round(t_complete, 3),
            "completion_answered": "result" in reply,
            "keystroke_ms": summarize(keys),
            "text_exact": exact,
            "rss_mb": round(client.rss_kb() / 1024, 1),
        }
    return out


def _keystrokes(client: WireClient, uri: str, row: int, count: int) -> list[float]:
    """Type ``count`` characters at the start of ``row``; ms from each didChange until a
    request sent right after it is answered (the server handles messages in order)."""
    times = []
    for i in range(count):
        started = time.perf_counter()
        _did_change(client, uri, i + 2, _insert(row, i, "x"))
        client.request("ghostls/stats", {}, timeout=300)
        times.append((time.perf_counter() - started) * 1000)
        time.sleep(0.1)  # typing speed: retries of a degraded document come due
    return times


def _typed(text: str, row: int, count: int) -> str:
    lines = text.split("\n")
    lines[row] = "x" * count + lines[row]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ghostls.bench load")
    parser.add_argument("--completions", type=int, default=2000)
    parser.add_argument("--edits", type=int, default=10_000)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--hostile", action="store_true", help="also time hostile buffers")
    parser.add_argument(
        "--no-heap-trim", action="store_true", help="serve with heap trimming off (heap.py)"
    )
    args = parser.parse_args(argv)

    client = WireClient(env={"GHOSTLS_HEAP_TRIM_SECONDS": "0"} if args.no_heap_trim else None)
    try:
        client.initialize({"completion": {"maxTokens": args.max_tokens}})
        state = client.wait_ready()
        rss_start = client.rss_kb()
        print(f"server pid {client.proc.pid}, engine {state}, RSS {rss_start // 1024} MB")
        completions = run_completions(client, args.completions)
        print(
            f"completions: {completions['requests']} requests "
            f"({completions['cancel_notifications']} cancelled), "
            f"unanswered {completions['unanswered']}, errors {completions['errors_by_code']}, "
            f"reply p50 {completions['reply_ms']['p50']:.0f} ms "
            f"p95 {completions['reply_ms']['p95']:.0f} ms"
        )
        edits = run_edits(client, args.edits)
        print(
            f"edits: {edits['edits']} in {edits['seconds']} s "
            f"({edits['edits_per_second']}/s), text mismatches {edits['text_mismatches']} "
            f"of {edits['text_checks']} checks, RSS after warm-up "
            f"{edits['rss_after_warmup_kb'] // 1024} MB -> end {edits['rss_end_kb'] // 1024} MB "
            f"(max {edits['rss_max_after_warmup_kb'] // 1024} MB)"
        )
        hostile = run_hostile(client) if args.hostile else {}
        for name, row in hostile.items():
            print(f"hostile {name}: {row}")
        rss_end = client.rss_kb()
        print(f"RSS: start {rss_start // 1024} MB, end {rss_end // 1024} MB")
        alive = "result" in client.request("ghostls/stats", {})
    finally:
        code = client.close()
    write_report(
        "load",
        {
            "engine_state": state,
            "completions": completions,
            "edits": edits,
            "hostile": hostile,
            "heap_trim": not args.no_heap_trim,
            "rss_kb": {"start": rss_start, "end": rss_end},
            "alive_at_end": alive,
            "exit_code": code,
        },
    )
    ok = completions["unanswered"] == 0 and edits["text_mismatches"] == 0 and alive
    return 0 if ok else 1
