"""``ghostls check`` and ``ghostls check --fix`` against the real server."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

BROKEN = """import os, sys
import json

def f(valeu):
    print(f"hello")
    return vale + len(sys.argv)

def g(x)
    return [x, 1
"""

FIXED = """import sys

def f(valeu):
    print("hello")
    return valeu + len(sys.argv)

def g(x):
    return [x, 1]
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ghostls", "check", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_prints_diagnostics_and_fixes(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text(BROKEN, encoding="utf-8")
    out = run(str(path))
    assert out.returncode == 1, out.stderr
    assert (
        f"{path}:8:8: error [syntax-error] expected ':' after the function signature" in out.stdout
    )
    assert "    fix: Insert ':'" in out.stdout
    assert path.read_text(encoding="utf-8") == BROKEN  # without --fix nothing is written


def test_check_fix_applies_the_certain_fixes_and_writes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text(BROKEN, encoding="utf-8")
    out = run("--fix", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert path.read_text(encoding="utf-8") == FIXED
    ast.parse(FIXED)
    assert "6 fixes applied" in out.stdout
    assert "fixed [undefined-name] Replace 'vale' by 'valeu'" in out.stdout


def test_check_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    out = run(str(tmp_path / "nope.py"))
    assert out.returncode == 2
    assert "no such file" in out.stderr
