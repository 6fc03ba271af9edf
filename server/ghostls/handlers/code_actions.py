"""textDocument/codeAction and codeAction/resolve: quick fixes.

Deterministic fixes are decoded from ``Diagnostic.data`` (computed when the diagnostic was
published). Model fixes ("Fix with ghostls") are a verified search in
``ghostls.diagnostics.model_fixes``; with a client that resolves edits lazily, the model runs
only for the action the user picks.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types

from ghostls.app import GhostServer
from ghostls.diagnostics import model_fixes
from ghostls.diagnostics.model_fixes import FixTarget, ModelFix
from ghostls.documents import Snapshot
from ghostls.handlers.diagnostics import SOURCE, lsp_range, to_diagnostic

log = logging.getLogger(__name__)

FIX_WITH_GHOSTLS = "Fix with ghostls"
RESOLVE_MARK = "ghostls.modelFix"


# -- deterministic fixes (decoded, not recomputed) ----------------------------------------


def _decode_fix(
    uri: str, snapshot: Snapshot, diagnostic: types.Diagnostic
) -> types.CodeAction | None:
    data = diagnostic.data if isinstance(diagnostic.data, dict) else None
    if diagnostic.source != SOURCE or not data or not isinstance(data.get("fix"), dict):
        return None
    if data.get("version") != snapshot.version:
        return None  # published for an older version; its edits would land in the wrong place
    fix = data["fix"]
    try:
        edits = [
            types.TextEdit(
                range=types.Range(types.Position(sl, sc), types.Position(el, ec)), new_text=text
            )
            for sl, sc, el, ec, text in fix["edits"]
        ]
        title = str(fix["title"])
    except (KeyError, TypeError, ValueError):
        log.warning("malformed ghostls fix data ignored: %r", fix)
        return None
    return types.CodeAction(
        title=title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        is_preferred=bool(fix.get("preferred", True)),
        edit=_workspace_edit(uri, snapshot.version, edits),
    )


def _published_in_range(
    ls: GhostServer, snapshot: Snapshot, r: types.Range
) -> list[types.Diagnostic]:
    """Our diagnostics of this version touching ``r``, for clients that send none back in the
    context (some drop empty or edge ranges): the published data, not a new check."""
    service = ls.services.get("diagnostics")
    cached = service.results.get(snapshot.uri) if service is not None else None
    if cached is None or cached[0].version != snapshot.version:
        return []
    start = snapshot.offset_at(r.start.line, r.start.character)
    end = snapshot.offset_at(r.end.line, r.end.character)
    return [
        to_diagnostic(snapshot, p)
        for p in cached[1].problems
        if p.fix is not None and p.start <= end and p.end >= start
    ]


def _workspace_edit(uri: str, version: int, edits: list[types.TextEdit]) -> types.WorkspaceEdit:
    return types.WorkspaceEdit(
        document_changes=[
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=uri, version=version
                ),
                edits=list(edits),
            )
        ]
    )


# -- model fixes ----------------------------------------------------------------------------


def _client_resolves_edits(ls: GhostServer) -> bool:
    try:
        support = ls.client_capabilities.text_document.code_action.resolve_support  # type: ignore[union-attr]
    except AttributeError:
        return False
    return bool(support and "edit" in (support.properties or []))


def _targets(
    snapshot: Snapshot, params: types.CodeActionParams
) -> list[tuple[FixTarget, types.Diagnostic | None]]:
    targets: list[tuple[FixTarget, types.Diagnostic | None]] = []
    for diagnostic in params.context.diagnostics:
        targets.append((_target_of(snapshot, diagnostic.range, diagnostic), diagnostic))
    r = params.range
    if not targets and (r.start.line != r.end.line or r.start.character != r.end.character):
        targets.append((_target_of(snapshot, r, None), None))  # a selection: "Fix with ghostls"
    return targets


def _target_of(
    snapshot: Snapshot, r: types.Range, diagnostic: types.Diagnostic | None
) -> FixTarget:
    start = snapshot.offset_at(r.start.line, r.start.character)
    end = snapshot.offset_at(r.end.line, r.end.character)
    last = max(snapshot.line_count - 1, 0)
    start_row = min(max(r.start.line, 0), last)
    end_row = min(max(r.end.line, 0), last)
    if end_row > start_row and r.end.character == 0 and r.end.line <= last:
        end_row -= 1  # a selection of whole lines ends at the start of the next one
    code = None
    if diagnostic is not None and diagnostic.code is not None:
        code = str(diagnostic.code)
    return FixTarget(
        start_row=start_row,
        end_row=max(end_row, start_row),
        start=start,
        end=max(end, start),
        code=code,
        message=diagnostic.message if diagnostic else "",
        source=(diagnostic.source or "") if diagnostic else "",
        selection=diagnostic is None,
    )


def _target_to_data(target: FixTarget, uri: str, version: int) -> dict[str, Any]:
    return {
        RESOLVE_MARK: True,
        "uri": uri,
        "version": version,
        "target": model_fixes.target_to_json(target),
    }


def _action_for(
    uri: str,
    snapshot: Snapshot,
    fix: ModelFix,
    diagnostic: types.Diagnostic | None,
    title: str | None = None,
) -> types.CodeAction:
    edit = types.TextEdit(
        range=lsp_range(snapshot, fix.edit.start, fix.edit.end), new_text=fix.edit.text
    )
    return types.CodeAction(
        title=title or fix.title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic] if diagnostic else None,
        is_preferred=False,
        edit=_workspace_edit(uri, snapshot.version, [edit]),
    )


def _short(message: str, width: int = 60) -> str:
    message = " ".join(message.split())
    return message if len(message) <= width else message[: width - 1] + "…"


async def _model_actions(
    ls: GhostServer, uri: str, snapshot: Snapshot, params: types.CodeActionParams
) -> list[types.CodeAction]:
    if not model_fixes.available(ls):
        return []
    actions: list[types.CodeAction] = []
    lazy = _client_resolves_edits(ls)
    targets = _targets(snapshot, params)
    if not lazy:
        # Computed now, so only on request (not for a light bulb) and for one target.
        if params.context.trigger_kind == types.CodeActionTriggerKind.Automatic:
            return []
        targets = targets[:1]
    for target, diagnostic in targets[:3]:
        label = (
            f"{FIX_WITH_GHOSTLS}: {_short(target.message)}" if target.message else FIX_WITH_GHOSTLS
        )
        if lazy:
            actions.append(
                types.CodeAction(
                    title=label,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic] if diagnostic else None,
                    data=_target_to_data(target, uri, snapshot.version),
                )
            )
            continue
        outcome = await model_fixes.fixes_for(ls, snapshot, target)
        if not outcome.fixes:
            # Without an edit the action does nothing; its title says why.
            disabled = (
                types.CodeActionDisabled(reason=outcome.reason)
                if _client_shows_disabled(ls)
                else None
            )
            actions.append(
                types.CodeAction(
                    title=f"{label} ({outcome.reason})",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic] if diagnostic else None,
                    disabled=disabled,
                )
            )
        for fix in outcome.fixes[:3]:
            actions.append(_action_for(uri, snapshot, fix, diagnostic))
    return actions


def _covers(requested: str, kind: str) -> bool:
    """Kinds are hierarchical: '' covers all, 'quickfix' covers 'quickfix.x'."""
    return not requested or kind == requested or kind.startswith(requested + ".")


def _client_shows_disabled(ls: GhostServer) -> bool:
    try:
        return bool(ls.client_capabilities.text_document.code_action.disabled_support)  # type: ignore[union-attr]
    except AttributeError:
        return False


# -- handlers -------------------------------------------------------------------------------


async def code_action(
    ls: GhostServer, params: types.CodeActionParams
) -> list[types.CodeAction | types.Command] | None:
    only = params.context.only
    if only and not any(_covers(str(kind), types.CodeActionKind.QuickFix) for kind in only):
        return []
    uri = params.text_document.uri
    snapshot = ls.documents.get(uri)
    if snapshot is None:
        return []
    actions: list[types.CodeAction | types.Command] = []
    diagnostics = list(params.context.diagnostics)
    if not any(d.source == SOURCE for d in diagnostics):
        diagnostics += _published_in_range(ls, snapshot, params.range)
    for diagnostic in diagnostics:
        action = _decode_fix(uri, snapshot, diagnostic)
        if action is not None:
            actions.append(action)
    try:
        actions.extend(await _model_actions(ls, uri, snapshot, params))
    except Exception:
        log.exception("model fixes failed; deterministic fixes are still offered")
    return actions


async def resolve_code_action(ls: GhostServer, params: types.CodeAction) -> types.CodeAction:
    data = params.data if isinstance(params.data, dict) else None
    if not data or not data.get(RESOLVE_MARK) or params.edit is not None:
        return params
    uri = str(data.get("uri", ""))
    snapshot = ls.documents.get(uri)
    if snapshot is None or snapshot.version != data.get("version"):
        params.title = f"{params.title} (the document changed; ask again)"
        return params
    try:
        target = model_fixes.target_from_json(data["target"])
    except (KeyError, TypeError, ValueError):
        return params
    outcome = await model_fixes.fixes_for(ls, snapshot, target)
    diagnostic = params.diagnostics[0] if params.diagnostics else None
    if not outcome.fixes:
        params.title = f"{params.title} ({outcome.reason})"
        ls.show_message(f"ghostls: {outcome.reason}", types.MessageType.Info)
        return params
    best = outcome.fixes[0]
    resolved = _action_for(uri, snapshot, best, diagnostic, title=params.title)
    resolved.data = data
    return resolved
