"""textDocument/publishDiagnostics: problems -> LSP diagnostics, fixes packed into ``data``.

The fix travels with the diagnostic (as LSP edits computed for the published version), so the
code-action handler only decodes it.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from ghostls.app import GhostServer
from ghostls.diagnostics.problems import Fix, Problem, Severity
from ghostls.documents import Snapshot

SOURCE = "ghostls"
DATA_FORMAT = 1

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
    Severity.HINT: types.DiagnosticSeverity.Hint,
}


def lsp_range(snapshot: Snapshot, start: int, end: int) -> types.Range:
    sl, sc = snapshot.position_at(start)
    el, ec = snapshot.position_at(end)
    return types.Range(types.Position(sl, sc), types.Position(el, ec))


def encode_fix(snapshot: Snapshot, fix: Fix) -> dict[str, Any]:
    edits = []
    for edit in fix.edits:
        r = lsp_range(snapshot, edit.start, edit.end)
        edits.append(
            [r.start.line, r.start.character, r.end.line, r.end.character, edit.text],
        )
    return {"title": fix.title, "preferred": fix.preferred, "edits": edits}


def to_diagnostic(snapshot: Snapshot, problem: Problem) -> types.Diagnostic:
    data: dict[str, Any] = {"format": DATA_FORMAT, "version": snapshot.version}
    if problem.kind:
        data["kind"] = problem.kind
    if problem.fix is not None:
        data["fix"] = encode_fix(snapshot, problem.fix)
    return types.Diagnostic(
        range=lsp_range(snapshot, problem.start, problem.end),
        message=problem.message,
        severity=_SEVERITY.get(problem.severity, types.DiagnosticSeverity.Warning),
        code=problem.code,
        source=SOURCE,
        tags=[types.DiagnosticTag.Unnecessary] if problem.unnecessary else None,
        data=data,
    )


def publish(ls: GhostServer, snapshot: Snapshot, problems: tuple[Problem, ...]) -> None:
    diagnostics = [to_diagnostic(snapshot, p) for p in problems]
    ls.notify_client(
        types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
        types.PublishDiagnosticsParams(
            uri=snapshot.uri, diagnostics=diagnostics, version=snapshot.version
        ),
    )


def clear(ls: GhostServer, uri: str) -> None:
    ls.notify_client(
        types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
        types.PublishDiagnosticsParams(uri=uri, diagnostics=[]),
    )
