"""``python -m ghostls.bench remote``: single-line suggestion latency, local vs remote.

The same masked single-line tasks (CPython stdlib, as the quality benchmark) go through real
ghostls servers over LSP (``ServerSession``), once with the in-process engine and once per
remote server running the same model file on the same machine:

* ``llama-cpp-python``: its OpenAI-compatible server (``python -m llama_cpp.server``);
* ``llama.cpp``: llama.cpp's own C++ server, from the ``xllamacpp`` wheel (when installed).

Each task is one cold request (a new file: the whole prompt is evaluated) and then a few
keystrokes typing the start of the masked line, each followed by a request, as an editor does.
Then ``--sessions`` editor sessions (separate ghostls processes) share one remote server and
replay the tasks at the same time.

This module also starts and stops those inference servers for the end-to-end tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx
from lsprotocol import types

from ghostls.bench.report import summarize, write_report
from ghostls.client_session import ServerSession

SERVER_KINDS = ("llama-cpp-python", "llama.cpp")
WARM_UP = "def add(a, b):\n    return \n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def llama_cpp_server_available() -> bool:
    # Found, not imported: its llama.cpp build must not load beside llama-cpp-python's.
    return importlib.util.find_spec("xllamacpp") is not None


class InferenceServer:
    """An inference server subprocess on loopback; ``with`` starts it and waits until it
    answers, and stops it on exit. ``restart()`` reuses the port (tests of recovery)."""

    def __init__(
        self,
        model: Path,
        *,
        kind: str = "llama-cpp-python",
        port: int = 0,
        api_key: str = "",
        log_path: Path | None = None,
        n_ctx: int = 2048,
        parallel: int = 1,
        n_batch: int = 512,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if kind not in SERVER_KINDS:
            raise ValueError(f"unknown inference server kind {kind!r}")
        self.model = model
        self.kind = kind
        self.port = port or free_port()
        self.api_key = api_key
        self.log_path = log_path
        self.n_ctx = n_ctx
        self.parallel = parallel
        self.n_batch = n_batch
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if self.kind == "llama-cpp-python":
            command = [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(self.model),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--n_ctx",
                str(self.n_ctx),
                # Without this, logits for every prompt token are kept (1 MB per token with
                # a 262k vocabulary): no echo/logprobs, but prompts evaluate as fast as local.
                "--logits_all",
                "False",
                # By default a new request interrupts the one streaming: with several editors
                # sharing the server, each would cut the others' suggestions short.
                "--interrupt_requests",
                "False",
            ]
            if self.api_key:
                command += ["--api_key", self.api_key]
            return command + list(self.extra_args)
        return [
            sys.executable,
            "-m",
            "ghostls.bench.remote",
            "--serve-llama-cpp",
            str(self.model),
            str(self.port),
            str(self.n_ctx * self.parallel),
            str(self.parallel),
            str(self.n_batch),
            self.api_key,
        ]

    def start(self, timeout: float = 120.0) -> InferenceServer:
        if self.log_path is not None:
            self._log = self.log_path.open("ab")
        # The key travels in argv here (a test server); ghostls itself reads it from the env.
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self._log else subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited with {self.process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (
                    httpx.get(f"{self.url}/v1/models", headers=headers, timeout=1).status_code
                    == 200
                ):
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.kind} server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """Die abruptly, as a crashed server does (no graceful close of connections)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def restart(self, timeout: float = 120.0) -> None:
        self.stop()
        self.start(timeout)

    def __enter__(self) -> InferenceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve_llama_cpp(
    model: str, port: int, n_ctx: int, parallel: int, n_batch: int, api_key: str
) -> None:
    """llama.cpp's C++ HTTP server in this process (xllamacpp), until SIGTERM."""
    import xllamacpp  # type: ignore[import-untyped]

    params = xllamacpp.CommonParams()
    params.model.path = model
    params.n_ctx = n_ctx
    # llama.cpp gives /infill's input_extra only the room n_batch leaves in the context
    # (n_ctx - n_batch - 2 * n_predict): keep it well below n_ctx.
    params.n_batch = n_batch
    params.n_ubatch = n_batch
    params.n_parallel = parallel
    params.port = port
    params.hostnames = ["127.0.0.1"]
    # The same thread count as the in-process engine and llama-cpp-python's server.
    threads = max(1, min(8, (os.cpu_count() or 2) // 2))
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    if api_key:
        params.api_keys = [api_key]
    server = xllamacpp.Server(params)
    stopped = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stopped.update(now=True))
    while not stopped["now"]:
        time.sleep(0.1)
    del server


# -- the benchmark ------------------------------------------------------------------------


def _settings(backend: dict[str, Any]) -> dict[str, Any]:
    # New files evaluate their whole prompt: allow it the time, as the quality benchmark does.
    return {
        "completion": {"timeBudgetMs": 30000, "multiline": "never"},
        "diagnostics": {"enable": False},
        "backend": backend,
    }


async def _replay(
    session: ServerSession, tasks: list[Any], tag: str, keystrokes: int
) -> list[dict[str, Any]]:
    """One cold request per task, then ``keystrokes`` typed characters each with a request."""
    rows: list[dict[str, Any]] = []
    for task in tasks:
        path = Path(f"/tmp/ghostls-bench-remote/{tag}/{task.id}/{Path(task.path).name}")
        uri = session.open(path, task.masked)
        line = task.masked.split("\n")[task.row]
        column = task.column
        for step in range(keystrokes + 1):
            if step:
                char = task.target[step - 1 : step] or " "
                version = step + 1
                session.change(uri, version, (task.row, column), (task.row, column), char)
                line = line[:column] + char + line[column:]
                column += len(char.encode("utf-16-le")) // 2
            started = time.perf_counter()
            items = await session.inline_completion(uri, task.row, column)
            latency = (time.perf_counter() - started) * 1000
            text = ""
            if items:
                insert = items[0].insert_text
                text = insert if isinstance(insert, str) else insert.value
            source, outcome = await _last_source(session)
            rows.append(
                {
                    "task": task.id,
                    "step": step,
                    "latency_ms": latency,
                    "text": text,
                    "source": source,
                    "outcome": outcome,
                }
            )
        session.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
    return rows


async def _last_source(session: ServerSession) -> tuple[str, str]:
    """Where the last answer came from (model | lru | typed-through) and its outcome."""
    reply: Any = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="ghostls.stats", arguments=[{"recent": 1}])
    )
    completion: Any = _as_dict(reply).get("completion")
    recent = _as_dict(completion).get("recent") or []
    if not recent:
        return "", ""
    last = _as_dict(recent[-1])
    return str(last.get("source", "")), str(last.get("outcome", ""))


def _as_dict(value: Any) -> dict[str, Any]:
    """Command results arrive as dicts or as pygls objects."""
    if hasattr(value, "_asdict"):
        value = value._asdict()
    return value if isinstance(value, dict) else {}


async def _run_sessions(
    backend: dict[str, Any], tasks: list[Any], sessions: int, keystrokes: int, label: str
) -> dict[str, Any]:
    """``sessions`` editors at once; each works on its own slice of ``tasks`` (different
    files, as different people), session 0 on the first slice (the single-session tasks)."""
    size = len(tasks) // sessions

    async def one(index: int) -> list[dict[str, Any]]:
        mine = tasks[index * size : (index + 1) * size]
        async with ServerSession(_settings(backend)) as session:
            status = await session.wait_until_ready(300)
            if status.get("state") != "ready":
                raise RuntimeError(f"{label}: engine not ready: {status}")
            # Warm-up outside the measurement (first connection, first decode), on a file of
            # its own so no measured request is answered from a cache.
            warm = Path(f"/tmp/ghostls-bench-remote/warm/{label}-{index}.py".replace(" ", "_"))
            uri = session.open(warm, WARM_UP)
            await session.inline_completion(uri, 1, len("    return "))
            await barrier.wait()
            return await _replay(session, mine, f"{label}-{index}", keystrokes)

    barrier = _Barrier(sessions)
    started = time.perf_counter()
    per_session = await asyncio.gather(*(one(i) for i in range(sessions)))
    wall = time.perf_counter() - started
    rows = [row for rows in per_session for row in rows]
    cold = [r["latency_ms"] for r in rows if r["step"] == 0]
    typed = [r["latency_ms"] for r in rows if r["step"] > 0]
    # Keystrokes the caches could not answer: the engine's own latency.
    cached = ("lru", "typed-through")
    typed_model = [r["latency_ms"] for r in rows if r["step"] > 0 and r["source"] not in cached]
    cold_ms, keystroke_ms = summarize(cold), summarize(typed)
    model_ms = summarize(typed_model)
    result: dict[str, Any] = {
        "label": label,
        "sessions": sessions,
        "requests": len(rows),
        "shown": sum(1 for r in rows if r["text"]),
        "cold_ms": cold_ms,
        "keystroke_ms": keystroke_ms,
        "keystroke_engine_ms": model_ms,
        "sources": {
            k: sum(1 for r in rows if r["source"] == k) for k in {r["source"] for r in rows}
        },
        "all_ms": summarize(cold + typed),
        "wall_s": round(wall, 2),
        "texts": {f"{r['task']}:{r['step']}": r["text"] for r in per_session[0]},
    }
    print(
        f"{label:<34} sessions={sessions} n={len(rows):>3} shown={result['shown']:>3}  "
        f"cold p50 {cold_ms['p50']:7.0f} p95 {cold_ms['p95']:7.0f}  "
        f"keystroke p50 {keystroke_ms['p50']:6.0f} p95 {keystroke_ms['p95']:6.0f}  "
        f"engine-served keystroke p50 {model_ms['p50']:6.0f} p95 {model_ms['p95']:6.0f} "
        f"(n={model_ms['n']}) ms",
        flush=True,
    )
    return result


class _Barrier:
    """All sessions start measuring together (asyncio.Barrier is Python 3.11+)."""

    def __init__(self, parties: int) -> None:
        self._parties = parties
        self._arrived = 0
        self._event = asyncio.Event()

    async def wait(self) -> None:
        self._arrived += 1
        if self._arrived >= self._parties:
            self._event.set()
        await self._event.wait()


def _agreement(a: dict[str, str], b: dict[str, str]) -> float:
    keys = [k for k in a if k in b]
    return sum(1 for k in keys if a[k] == b[k]) / len(keys) if keys else 0.0


async def _main(args: argparse.Namespace) -> int:
    from ghostls.bench.tasks import make_tasks
    from ghostls.engine.model_files import ensure_embedded_model

    model = ensure_embedded_model()
    count = args.n * max(1, args.sessions)
    tasks = [t for t in make_tasks(count * 3, seed=args.seed, multi_share=0.0)]
    tasks = [t for t in tasks if t.kind == "single"][:count]
    first = tasks[: args.n]
    kinds = [k for k in args.servers.split(",") if k]
    if "llama.cpp" in kinds and not llama_cpp_server_available():
        print("llama.cpp server unavailable (pip install xllamacpp): skipped")
        kinds.remove("llama.cpp")
    results: list[dict[str, Any]] = []
    local: dict[str, Any] | None = None
    if not args.skip_local:
        local = await _run_sessions({"kind": "local"}, first, 1, args.keystrokes, "local")
        results.append(local)
    for kind in kinds:
        parallel = args.sessions if kind == "llama.cpp" else 1
        with InferenceServer(model, kind=kind, parallel=parallel) as server:
            backend = {"kind": "openai", "url": server.url, "timeoutMs": 30000}
            single = await _run_sessions(backend, first, 1, args.keystrokes, f"openai -> {kind}")
            if local is not None:
                single["agreement_with_local"] = round(
                    _agreement(local["texts"], single["texts"]), 3
                )
            results.append(single)
            if args.sessions > 1:
                shared = await _run_sessions(
                    backend, tasks, args.sessions, args.keystrokes, f"openai -> {kind} shared"
                )
                results.append(shared)
    for result in results:
        if "agreement_with_local" in result:
            print(f"{result['label']}: same text as local in {result['agreement_with_local']:.0%}")
    write_report(
        "remote",
        {
            "model": str(model),
            "tasks": len(tasks),
            "keystrokes_per_task": args.keystrokes,
            "results": results,
        },
    )
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve-llama-cpp"]:
        model, port, n_ctx, parallel = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
        n_batch, key = int(argv[5]), argv[6] if len(argv) > 6 else ""
        _serve_llama_cpp(model, port, n_ctx, parallel, n_batch, key)
        return 0
    parser = argparse.ArgumentParser(prog="python -m ghostls.bench remote")
    parser.add_argument("--n", type=int, default=8, help="single-line tasks")
    parser.add_argument("--keystrokes", type=int, default=3, help="typed characters per task")
    parser.add_argument("--sessions", type=int, default=4, help="editors sharing one server")
    parser.add_argument("--servers", default=",".join(SERVER_KINDS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-local", action="store_true")
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
