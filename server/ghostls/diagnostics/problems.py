"""The plain data every check produces: problems with code-point ranges and optional fixes."""

from __future__ import annotations

from dataclasses import dataclass


class Severity:
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    HINT = "hint"


@dataclass(frozen=True)
class Edit:
    """Replace text[start:end] (code points) by ``text``."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Fix:
    title: str
    edits: tuple[Edit, ...]
    preferred: bool = True  # certain: safe to apply without looking (``check --fix``)


@dataclass(frozen=True)
class Problem:
    code: str  # stable kebab-case name: syntax-error, undefined-name, unused-import, ...
    message: str
    severity: str
    start: int
    end: int
    fix: Fix | None = None
    unnecessary: bool = False  # unused code: editors fade it
    kind: str = ""  # finer detail (the syntax error's kind)

    @property
    def key(self) -> tuple[str, str]:
        """What identifies a problem independent of where it moved (for "is it new?")."""
        return (self.code, self.message)


def apply_edits(text: str, edits: tuple[Edit, ...] | list[Edit]) -> str:
    """Apply non-overlapping edits (any order) to ``text``."""
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text
