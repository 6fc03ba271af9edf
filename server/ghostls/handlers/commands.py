"""workspace/executeCommand targets."""

from __future__ import annotations

from typing import Any

from ghostls.app import GhostServer


def document_text(ls: GhostServer, uri: Any = None, *rest: Any) -> str | None:
    """The server's copy of a document: lets tests and bug reports compare texts exactly."""
    snapshot = ls.documents.get(str(uri))
    return snapshot.text if snapshot else None


def toggle_completions(ls: GhostServer, *args: Any) -> bool:
    """Flip completion.enable for this session; returns the new value."""
    import dataclasses

    completion = dataclasses.replace(
        ls.settings.completion, enable=not ls.settings.completion.enable
    )
    ls.settings = dataclasses.replace(ls.settings, completion=completion)
    return completion.enable
