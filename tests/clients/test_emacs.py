"""Emacs (emacs-nox, `emacs --batch`) with eglot and editors/emacs/ghostls.el against the real
server with the embedded model. tests/clients/emacs/driver.el does what a user does and
records what Emacs shows; the assertions are here."""

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
    assert_server_quiet,
    editor_env,
    emacs_binary,
    python_parses,
    run_editor,
)

pytestmark = [pytest.mark.model, pytest.mark.slow]

DRIVER = CLIENTS / "emacs" / "driver.el"


def to_plist(value: Any) -> str:
    """Settings as the elisp plist a user would write for `ghostls-settings`."""
    if isinstance(value, dict):
        return "(" + " ".join(f":{key} {to_plist(v)}" for key, v in value.items()) + ")"
    if isinstance(value, bool):
        return "t" if value else ":json-false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def steps(cases: list[str]) -> str:
    return ",".join([f"diagnostics={BROKEN_FILES[c].name}" for c in cases] + ["completion"])


def fix_result(run: EditorRun, case: str) -> dict[str, Any]:
    """The diagnostics-and-fix step's results for one file (keys prefixed with its name)."""
    prefix = BROKEN_FILES[case].name + "/"
    return {k[len(prefix) :]: v for k, v in run.result.items() if k.startswith(prefix)}


def run_emacs(
    workdir: Path,
    scenario: str,
    settings: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
    driver: Path = DRIVER,
) -> EditorRun:
    env = editor_env(
        workdir,
        settings or {},
        {
            "GHOSTLS_TEST_SCENARIO": scenario,
            "GHOSTLS_TEST_SETTINGS_PLIST": to_plist(settings or {}),
            **(extra_env or {}),
        },
    )
    env["HOME"] = str(workdir)  # no ~/.emacs.d of the user's
    return run_editor([str(emacs_binary()), "--batch", "-l", str(driver)], workdir, env)


def test_emacs_and_eglot_present() -> None:
    out = subprocess.run(
        [
            str(emacs_binary()),
            "--batch",
            "--eval",
            "(progn (require 'eglot) (princ emacs-version))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert int(out.split(".")[0]) >= 28, out


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> EditorRun:
    """One Emacs session: diagnostics + quick fix, then completion (one model load)."""
    workdir = tmp_path_factory.mktemp("emacs-features")
    for broken in BROKEN_FILES.values():
        (workdir / broken.name).write_text(broken.text)
    (workdir / "complete.py").write_text(COMPLETE)
    run = run_emacs(
        workdir,
        "features",
        settings={"completion": COMPLETION, "diagnostics": {"debounceMs": 50}},
        extra_env={"GHOSTLS_TEST_STEPS": steps(list(BROKEN_FILES))},
    )
    print(f"\nEmacs feature session: {run.seconds:.1f}s, steps {run.result.get('timings_ms')}")
    return run


def test_eglot_connects(features: EditorRun) -> None:
    attach = features.result.get("attach")
    assert attach, features.describe()
    assert attach["server_class"] == "ghostls-eglot-server"
    assert attach["server_name"] == "ghostls"
    assert attach["completion_provider"] is True
    assert attach["code_action_provider"] is True
    assert attach["flymake_mode"] is True
    assert features.returncode == 0, features.describe()


@pytest.mark.parametrize("case", list(BROKEN_FILES))
def test_flymake_shows_the_syntax_error(features: EditorRun, case: str) -> None:
    check_diagnostic(features, case)


@pytest.mark.parametrize("case", list(BROKEN_FILES))
def test_code_action_gives_code_that_parses(features: EditorRun, case: str) -> None:
    check_fix(features, case)


def check_diagnostic(run: EditorRun, case: str) -> None:
    result = fix_result(run, case)
    assert "diagnostics_error" not in result, result["diagnostics_error"]
    errors = result.get("diagnostics") or []
    assert errors, f"flymake shows no error\n{run.describe()}"
    assert errors[0]["line"] == BROKEN_FILES[case].line + 1, errors  # Emacs counts from 1


def check_fix(run: EditorRun, case: str) -> None:
    broken = BROKEN_FILES[case]
    result = fix_result(run, case)
    assert "fix_text" in result, f"no code action step (no diagnostic?)\n{run.describe()}"
    assert "fix_error" not in result, (result["fix_error"], result.get("fix_offered"))
    text = result["fix_text"]
    assert text != broken.text, f"the code action changed nothing ({result['fix_offered']})"
    assert broken.keep in text, text
    problem = python_parses(text)
    assert problem is None, f"fixed text does not parse ({problem}):\n{text}"
    assert result["fix_cleared"] is True, "flymake still shows an error after the fix"


def test_completion_at_point_offers_the_suggestion(features: EditorRun) -> None:
    result = features.result
    assert "completion_error" not in result, result["completion_error"]
    candidates = result.get("completion_candidates") or []
    assert candidates, f"completion-at-point offered nothing\n{features.describe()}"
    assert any(c.strip() for c in candidates), candidates
    line, after = result["completion_line"], result["completion_line_after"]
    assert after != line, "completion-at-point inserted nothing"
    # The cursor was after a space: the item's whole text goes there.
    assert any(after == line + text for text in result["completion_new_texts"]), (
        line,
        after,
        result["completion_new_texts"],
    )


@pytest.mark.parametrize("with_exit_hook", [True, False], ids=["ghostls.el", "plain-eglot"])
def test_save_and_quit_at_once_is_clean_and_quiet(tmp_path: Path, with_exit_hook: bool) -> None:
    (tmp_path / "quick.py").write_text("x = 1\n")
    # A long diagnostics debounce: the publish is still pending when Emacs quits.
    run = run_emacs(
        tmp_path,
        "wq",
        settings={"diagnostics": {"debounceMs": 3000}},
        extra_env={"GHOSTLS_TEST_PLAIN_EGLOT": "" if with_exit_hook else "1"},
    )
    print(f"\nEmacs save-and-quit session: {run.seconds:.1f}s")
    assert run.returncode == 0, run.describe()
    assert run.result["attach"]["server_name"] == "ghostls"
    assert (tmp_path / "quick.py").read_text() == "x = 1\ny = x + 1\n"
    if with_exit_hook:
        assert_server_exited_quietly(run)
    else:
        # Plain eglot on Emacs 28 ends the server with a signal when Emacs exits: it cannot
        # exit 0 then, but it must not leave noise behind.
        assert_server_quiet(run)
