"""Emacs with lsp-mode (Debian's elpa-lsp-mode) and editors/emacs/ghostls-lsp-mode.el against
the real server with the embedded model; tests/clients/emacs/lsp-mode-driver.el drives it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clients.editor_session import (
    CLIENTS,
    EditorRun,
    assert_server_quiet,
    python_parses,
)
from tests.clients.test_emacs import BROKEN, BROKEN_LINE, COMPLETE, run_emacs

pytestmark = [pytest.mark.model, pytest.mark.slow]

DRIVER = CLIENTS / "emacs" / "lsp-mode-driver.el"


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> EditorRun:
    workdir = tmp_path_factory.mktemp("lsp-mode-features")
    (workdir / "broken.py").write_text(BROKEN)
    (workdir / "complete.py").write_text(COMPLETE)
    run = run_emacs(
        workdir,
        "features",
        settings={"completion": {"maxTokens": 16}, "diagnostics": {"debounceMs": 50}},
        extra_env={"GHOSTLS_TEST_STEPS": "diagnostics,completion"},
        driver=DRIVER,
    )
    print(f"\nlsp-mode feature session: {run.seconds:.1f}s, steps {run.result.get('timings_ms')}")
    return run


def test_lsp_mode_connects(features: EditorRun) -> None:
    attach = features.result.get("attach")
    assert attach, features.describe()
    assert attach["server_id"] == "ghostls"
    assert attach["completion_provider"] is True
    assert attach["flymake_mode"] is True
    assert features.returncode == 0, features.describe()


def test_diagnostics_and_quick_fix(features: EditorRun) -> None:
    result = features.result
    assert "diagnostics_error" not in result, result["diagnostics_error"]
    errors = result.get("diagnostics") or []
    assert errors, f"flymake shows no error\n{features.describe()}"
    assert errors[0]["line"] == BROKEN_LINE, errors
    assert result["fix_offered"], "no code action offered"
    text = result["fix_text"]
    assert text != BROKEN, f"the code action changed nothing (offered {result['fix_offered']})"
    assert python_parses(text) is None, text
    assert result["fix_cleared"] is True, "flymake still shows an error after the fix"


def test_completion_at_point_inserts_a_suggestion(features: EditorRun) -> None:
    result = features.result
    assert "completion_error" not in result, result["completion_error"]
    line, after = result["completion_line"], result["completion_line_after"]
    assert after.startswith(line) and after[len(line) :].strip(), (
        f"completion-at-point inserted nothing: {after!r}\n{features.describe()}"
    )


def test_save_and_quit_is_quiet(tmp_path: Path) -> None:
    (tmp_path / "quick.py").write_text("x = 1\n")
    run = run_emacs(tmp_path, "wq", settings={"diagnostics": {"debounceMs": 3000}}, driver=DRIVER)
    print(f"\nlsp-mode save-and-quit session: {run.seconds:.1f}s")
    assert run.returncode == 0, run.describe()
    assert (tmp_path / "quick.py").read_text() == "x = 1\ny = x + 1\n"
    assert_server_quiet(run)
    print(f"server exit code: {run.server_returncode(timeout=1)}")
