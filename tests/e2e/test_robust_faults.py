"""Model faults against the real server: the model file deleted, replaced, truncated under a
loaded model, and a model that only ever produces a stop token. Completions degrade with a
clear message; diagnostics and text sync go on.

The models are real GGUFs (the tiny llama-architecture test model, loaded by llama.cpp).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gguf

from tests.e2e.test_robust_wire import RawServer
from tests.fixtures.tiny_fim_model import build_tiny_fim_model

SETTINGS: dict[str, Any] = {"completion": {"maxTokens": 4}}


def _model_settings(path: Path, context: int) -> dict[str, Any]:
    return {**SETTINGS, "model": {"path": str(path), "contextSize": context}}


def _status_after(srv: RawServer, index: int, *states: str) -> dict[str, Any]:
    """The first ghostls/status notification after ``index`` with one of ``states``."""

    def match(message: dict[str, Any]) -> bool:
        return message["method"] == "ghostls/status" and message["params"]["state"] in states

    return srv.wait_notification(match, timeout=120, start=index)["params"]


def _complete(srv: RawServer, uri: str, line: int, character: int) -> dict[str, Any]:
    reply = srv.request(
        "textDocument/inlineCompletion",
        {
            "textDocument": {"uri": uri},
            "position": {"line": line, "character": character},
            "context": {"triggerKind": 1},
        },
        timeout=60,
    )
    assert "result" in reply, reply
    return dict(reply["result"] or {"items": []})


def _diagnosed(srv: RawServer, uri: str, text: str) -> list[dict[str, Any]]:
    srv.open(uri, text)
    published = srv.wait_notification(
        lambda m: m["method"] == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri,
        timeout=60,
    )
    return list(published["params"]["diagnostics"])


def _reconfigure(srv: RawServer, settings: dict[str, Any]) -> int:
    index = len(srv.seen)
    srv.notify("workspace/didChangeConfiguration", {"settings": {"ghostls": settings}})
    return index


def test_model_file_deleted_replaced_and_restored(tmp_path: Path) -> None:
    model = build_tiny_fim_model(tmp_path / "model.gguf")
    srv = RawServer()
    try:
        srv.initialize(_model_settings(model, 512))
        assert _status_after(srv, 0, "ready", "error")["state"] == "ready"
        uri = "file:///tmp/ghostls_fault_doc.py"
        srv.open(uri, "def add(a, b):\n    return ")
        _complete(srv, uri, 1, 11)

        # Deleted while loaded: the model in memory keeps working.
        model.unlink()
        _complete(srv, uri, 1, 11)

        # A reload now fails with a clear error; completions degrade to none, the rest goes on.
        mark = _reconfigure(srv, _model_settings(model, 1024))
        status = _status_after(srv, mark, "error")
        assert "could not be loaded" in status["message"], status
        shown = srv.wait_notification(
            lambda m: m["method"] == "window/showMessage" and m["params"]["type"] == 1,
            start=mark,
        )
        assert "does not exist" in shown["params"]["message"], shown
        assert _complete(srv, uri, 1, 11)["items"] == []
        assert _diagnosed(srv, "file:///tmp/ghostls_fault_diag.py", "import os\n")
        srv.change(uri, 2, [{"range": _at(1, 11), "text": "a + b\n"}])
        assert srv.text(uri) == "def add(a, b):\n    return a + b\n"

        # Replaced by something that is not a GGUF: an error again, still serving.
        model.write_bytes(b"this is not a model\n" * 100)
        mark = _reconfigure(srv, _model_settings(model, 768))
        assert _status_after(srv, mark, "error", "ready")["state"] == "error"
        assert _complete(srv, uri, 1, 11)["items"] == []

        # Restored: the next reload brings completions back.
        build_tiny_fim_model(model)
        mark = _reconfigure(srv, _model_settings(model, 512))
        assert _status_after(srv, mark, "ready", "error")["state"] == "ready"
        _complete(srv, uri, 2, 0)
        assert srv.alive()
    finally:
        srv.close()


def test_model_truncated_in_place_under_a_loaded_model(tmp_path: Path) -> None:
    """Overwriting the file a loaded model was read from must not take the server down."""
    model = build_tiny_fim_model(tmp_path / "model.gguf")
    srv = RawServer()
    try:
        srv.initialize(_model_settings(model, 512))
        assert _status_after(srv, 0, "ready", "error")["state"] == "ready"
        uri = "file:///tmp/ghostls_fault_truncate.py"
        srv.open(uri, "def add(a, b):\n    return ")
        _complete(srv, uri, 1, 11)
        with model.open("r+b") as handle:
            handle.truncate(16)
        for i in range(3):
            srv.change(uri, i + 2, [{"range": _at(1, 11 + i), "text": "a"}])
            _complete(srv, uri, 1, 12 + i)
        assert srv.proc.poll() is None, srv.stderr_text()[-2000:]
        assert srv.alive()
    finally:
        srv.close()


def stop_only_model(path: Path) -> Path:
    """The tiny model made to predict only its end-of-text token.

    With the final norm's weights zero every logit is 0 and greedy decoding takes token 0;
    declaring token 0 the EOS token makes that a stop.
    """
    build_tiny_fim_model(path)
    reader = gguf.GGUFReader(str(path), "r+")
    field = reader.fields["tokenizer.ggml.eos_token_id"]
    field.parts[field.data[0]][0] = 0
    for tensor in reader.tensors:
        if tensor.name == "output_norm.weight":
            tensor.data[...] = 0
    del reader
    return path


def test_model_that_only_stops_gives_no_suggestion_and_no_error(tmp_path: Path) -> None:
    model = stop_only_model(tmp_path / "stop.gguf")
    srv = RawServer()
    try:
        srv.initialize(_model_settings(model, 512))
        assert _status_after(srv, 0, "ready", "error")["state"] == "ready"
        uri = "file:///tmp/ghostls_fault_stop.py"
        srv.open(uri, "def add(a, b):\n    return ")
        for _ in range(3):
            assert _complete(srv, uri, 1, 11)["items"] == []
        stats = srv.request("ghostls/stats", {})["result"]
        recent = stats["completion"]["recent"]
        assert recent and all(r["outcome"] != "shown" for r in recent), recent
        assert _diagnosed(srv, "file:///tmp/ghostls_fault_stop_diag.py", "import os\n")
        assert srv.alive()
    finally:
        srv.close()


def _at(line: int, character: int) -> dict[str, Any]:
    pos = {"line": line, "character": character}
    return {"start": pos, "end": pos}
