"""Emacs with lsp-mode (Debian's elpa-lsp-mode) and editors/emacs/ghostls-lsp-mode.el against
the real server with the embedded model; tests/clients/emacs/lsp-mode-driver.el drives it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clients.editor_session import (
    BROKEN_FILES,
    CLIENTS,
    EditorRun,
    assert_server_quiet,
)
from tests.clients.test_emacs import (
    COMPLETE,
    COMPLETION,
    check_diagnostic,
    check_fix,
    run_emacs,
    steps,
)

pytestmark = [pytest.mark.model, pytest.mark.slow]

DRIVER = CLIENTS / "emacs" / "lsp-mode-driver.el"
# Not "emoji": lsp-mode 8.0 counts columns in Emacs characters (code points) while the server,
# offered no positionEncodings, uses UTF-16; past a non-BMP character such as 🐍 its didChange
# positions are one off (emacs-lsp/lsp-mode#2080, a client limitation fixed upstream by
# positionEncoding negotiation; BMP text like "é" counts the same in both).
CASES = ["ascii", "accent"]


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> EditorRun:
    workdir = tmp_path_factory.mktemp("lsp-mode-features")
    for case in CASES:
        broken = BROKEN_FILES[case]
        (workdir / broken.name).write_text(broken.text)
    (workdir / "complete.py").write_text(COMPLETE)
    run = run_emacs(
        workdir,
        "features",
        settings={"completion": COMPLETION, "diagnostics": {"debounceMs": 50}},
        extra_env={"GHOSTLS_TEST_STEPS": steps(CASES)},
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


@pytest.mark.parametrize("case", CASES)
def test_diagnostics_and_quick_fix(features: EditorRun, case: str) -> None:
    check_diagnostic(features, case)
    check_fix(features, case)


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
