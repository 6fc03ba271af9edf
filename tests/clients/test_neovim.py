"""Neovim 0.11 (headless, the built-in LSP client and editors/nvim) against the real server
with the embedded model. tests/clients/nvim/driver.lua does what a user does and records what
Neovim shows; the assertions are here."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.clients.editor_session import (
    BROKEN_FILES,
    CLIENTS,
    COMPLETE,
    COMPLETION,
    EditorRun,
    assert_server_exited_quietly,
    editor_env,
    nvim_binary,
    python_parses,
    run_editor,
)

pytestmark = [pytest.mark.model, pytest.mark.slow]

INIT = CLIENTS / "nvim" / "init.lua"
DRIVER = CLIENTS / "nvim" / "driver.lua"


GHOST = """\
import os


def python_files(folder):
    names = []
    for name in os.listdir(folder):
"""
GHOST_TYPED = "if name.endswith("  # typed after `o`; Python's indent puts it in the loop


def run_nvim(
    workdir: Path,
    scenario: str,
    settings: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
) -> EditorRun:
    extra = {"GHOSTLS_TEST_SCENARIO": scenario, **(extra_env or {})}
    env = editor_env(workdir, settings or {}, extra)
    command = [
        str(nvim_binary()),
        "--headless",
        "-n",
        "-i",
        "NONE",
        "-u",
        str(INIT),
        "-c",
        f"luafile {DRIVER}",
    ]
    return run_editor(command, workdir, env)


def test_nvim_is_0_11_or_newer() -> None:
    out = subprocess.run(
        [str(nvim_binary()), "--version"], capture_output=True, text=True, check=True
    ).stdout
    major, minor = out.split()[1].lstrip("v").split(".")[:2]
    assert (int(major), int(minor)) >= (0, 11), out


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> EditorRun:
    """One Neovim session: diagnostics + quick fix, completion, ghost text (one model load)."""
    workdir = tmp_path_factory.mktemp("nvim-features")
    for broken in BROKEN_FILES.values():
        (workdir / broken.name).write_text(broken.text)
    (workdir / "complete.py").write_text(COMPLETE)
    (workdir / "ghost.py").write_text(GHOST)
    run = run_nvim(
        workdir,
        "features",
        settings={"completion": COMPLETION, "diagnostics": {"debounceMs": 50}},
        extra_env={
            "GHOSTLS_TEST_STEPS": ",".join(
                [f"diagnostics={b.name}" for b in BROKEN_FILES.values()] + ["ghost"]
            ),
            "GHOSTLS_TEST_TYPED": GHOST_TYPED,
        },
    )
    print(f"\nNeovim feature session: {run.seconds:.1f}s, steps {run.result.get('timings_ms')}")
    return run


@pytest.fixture(scope="module")
def menu(tmp_path_factory: pytest.TempPathFactory) -> EditorRun:
    """Neovim without the plugin, as completion-menu users have it: the suggestion comes as a
    textDocument/completion item (with the plugin it is ghost text, not duplicated in the menu).
    """
    workdir = tmp_path_factory.mktemp("nvim-menu")
    (workdir / "complete.py").write_text(COMPLETE)
    run = run_nvim(
        workdir,
        "features",
        settings={"completion": COMPLETION},
        extra_env={"GHOSTLS_TEST_STEPS": "completion", "GHOSTLS_TEST_PLUGIN": "0"},
    )
    print(f"\nNeovim menu session: {run.seconds:.1f}s, steps {run.result.get('timings_ms')}")
    return run


def test_client_attaches(features: EditorRun) -> None:
    attach = features.result["attach"]
    assert attach["name"] == "ghostls"
    assert attach["server_name"] == "ghostls"
    assert attach["offset_encoding"] in ("utf-8", "utf-16", "utf-32")
    assert attach["inline_completion_provider"]
    assert attach["completion_provider"]
    assert attach["code_action_provider"]
    # Neovim 0.11 does not announce inline completion itself; the plugin's setup() does.
    assert attach["advertised_inline_completion"]
    assert features.returncode == 0, features.describe()


@pytest.mark.parametrize("case", list(BROKEN_FILES))
def test_syntax_error_diagnostic_on_the_right_line(features: EditorRun, case: str) -> None:
    broken = BROKEN_FILES[case]
    result = features.result
    assert f"diagnostics={broken.name}_error" not in result, result
    errors = result.get("files", {}).get(broken.name, {}).get("diagnostics") or []
    assert errors, f"no error diagnostic shown\n{features.describe()}"
    assert errors[0]["lnum"] == broken.line, errors


@pytest.mark.parametrize("case", list(BROKEN_FILES))
def test_quick_fix_gives_code_that_parses(features: EditorRun, case: str) -> None:
    broken = BROKEN_FILES[case]
    fix = features.result.get("files", {}).get(broken.name, {}).get("fix")
    assert fix, f"no quick fix step (no diagnostic?)\n{features.describe()}"
    assert fix["applied"], f"the quick fix changed nothing: {fix}"
    text = fix["text"]
    assert broken.keep in text, text
    problem = python_parses(text)
    assert problem is None, f"fixed text does not parse ({problem}):\n{text}"
    assert fix["cleared"], f"error diagnostics remain after the fix: {fix}"


def test_completion_returns_the_model_suggestion(menu: EditorRun) -> None:
    features = menu
    result = features.result
    assert result["attach"]["advertised_inline_completion"] is False
    assert "completion_error" not in result, result["completion_error"]
    completion = result["completion"]
    assert "error" not in completion, completion["error"]
    items = completion["items"]
    assert items, f"textDocument/completion returned no items\n{features.describe()}"
    texts = [item.get("new_text") or item.get("insert_text") or item["label"] for item in items]
    assert any(text.strip() for text in texts), items
    # The menu (omnifunc, <C-x><C-o>) offers it, and accepting it inserts the whole suggestion.
    assert completion["menu"], "the completion menu stayed empty"
    line = completion["line"]
    accepted = completion["line_after_accept"]
    assert any(accepted == line + text for text in texts), (
        f"accepting the menu entry gave {accepted!r}; the server offered {texts!r} "
        f"after {line!r} (menu words {completion['menu']!r})"
    )


def test_plugin_shows_ghost_text_and_accept_inserts_it(features: EditorRun) -> None:
    result = features.result
    assert "ghost_error" not in result, result["ghost_error"]
    ghost = result["ghost"]
    assert ghost["shown"], f"no ghost text appeared\n{features.describe()}"
    marks = ghost["extmarks"]
    assert len(marks) == 1, marks
    lines = ghost["first"].split("\n")
    assert marks[0]["virt_text"] == lines[0]
    assert marks[0]["virt_text_pos"] == "inline"
    assert marks[0]["virt_lines"] == lines[1:]
    assert ghost["item_insert_text"].endswith(ghost["first"])
    typed = ghost.get("typed_through")
    if typed:  # the suggestion began with a character one can type
        assert typed["ghost"] == typed["expected"], typed
        assert typed["virt_text"] == typed["expected"].split("\n")[0], typed
    assert ghost["dismissed_on_move"], "moving the cursor left the ghost text on screen"

    assert ghost["shown_again"], "trigger() brought no suggestion back"
    before, after = ghost["before"], ghost["after"]
    text = before["text"]
    lines_before = text.split("\n")
    offset = sum(len(line.encode()) + 1 for line in lines_before[: before["row"]]) + before["col"]
    raw = text.encode()
    expected = (raw[:offset] + before["ghost"].encode() + raw[offset:]).decode()
    assert after["text"] == expected, (after["text"], expected)
    assert after["mode"].startswith("i"), "accepting left Insert mode"
    assert ghost["cleared_on_insert_leave"]


def test_save_and_quit_at_once_is_clean_and_quiet(tmp_path: Path) -> None:
    (tmp_path / "quick.py").write_text("x = 1\n")
    # A long diagnostics debounce: the publish is still pending when :wq shuts the server down.
    run = run_nvim(tmp_path, "wq", settings={"diagnostics": {"debounceMs": 3000}})
    print(f"\nNeovim :wq session: {run.seconds:.1f}s")
    assert run.returncode == 0, run.describe()
    assert run.result["attach"]["name"] == "ghostls"
    assert (tmp_path / "quick.py").read_text() == "x = 1\ny = x + 1\n"
    assert_server_exited_quietly(run)
