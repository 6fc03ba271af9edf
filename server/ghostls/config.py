"""Typed, fully defaulted settings.

Settings arrive as nested JSON (``{"model": {"path": ...}}``) from ``initializationOptions`` or
``workspace/configuration`` (section ``ghostls``); dotted keys (``{"model.path": ...}``) are
accepted too. A bad value never raises: it is replaced by the default and reported as a
warning naming the key, which the server shows to the user.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

MULTILINE_MODES = ("auto", "always", "never")
BACKEND_KINDS = ("local", "openai", "llama-server")


@dataclass(frozen=True)
class ModelSettings:
    path: str = ""  # a GGUF file; empty means the embedded default model
    gpuLayers: int = 0
    threads: int = 0  # 0 = choose from the CPU count
    contextSize: int = 4096


@dataclass(frozen=True)
class CompletionSettings:
    enable: bool = True
    maxTokens: int = 64
    debounceMs: int = 0
    multiline: str = "auto"
    timeBudgetMs: int = 1500


@dataclass(frozen=True)
class DiagnosticsSettings:
    enable: bool = True
    debounceMs: int = 200


@dataclass(frozen=True)
class FixesSettings:
    model: bool = True  # allow model-proposed (verified) fixes
    timeBudgetMs: int = 4000
    candidates: int = 4


@dataclass(frozen=True)
class BackendSettings:
    kind: str = "local"
    url: str = ""
    model: str = ""
    apiKeyEnv: str = ""
    timeoutMs: int = 5000
    fallbackToLocal: bool = False


@dataclass(frozen=True)
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    diagnostics: DiagnosticsSettings = field(default_factory=DiagnosticsSettings)
    fixes: FixesSettings = field(default_factory=FixesSettings)
    backend: BackendSettings = field(default_factory=BackendSettings)


# Extra checks beyond the type: key -> (predicate, description of valid values).
_CONSTRAINTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "model.gpuLayers": (lambda v: v >= -1, "an integer >= -1 (-1 offloads all layers)"),
    "model.threads": (lambda v: 0 <= v <= 512, "an integer from 0 to 512"),
    "model.contextSize": (lambda v: 256 <= v <= 131072, "an integer from 256 to 131072"),
    "completion.maxTokens": (lambda v: 1 <= v <= 1024, "an integer from 1 to 1024"),
    "completion.debounceMs": (lambda v: 0 <= v <= 5000, "an integer from 0 to 5000"),
    "completion.multiline": (lambda v: v in MULTILINE_MODES, "one of auto, always, never"),
    "completion.timeBudgetMs": (lambda v: 50 <= v <= 60000, "an integer from 50 to 60000"),
    "diagnostics.debounceMs": (lambda v: 0 <= v <= 5000, "an integer from 0 to 5000"),
    "fixes.timeBudgetMs": (lambda v: 100 <= v <= 120000, "an integer from 100 to 120000"),
    "fixes.candidates": (lambda v: 1 <= v <= 16, "an integer from 1 to 16"),
    "backend.kind": (lambda v: v in BACKEND_KINDS, "one of local, openai, llama-server"),
    "backend.timeoutMs": (lambda v: 100 <= v <= 600000, "an integer from 100 to 600000"),
}


@dataclass(frozen=True)
class SettingsResult:
    settings: Settings
    warnings: tuple[str, ...]


def _nest_dotted(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Turn ``{"model.path": x}`` into ``{"model": {"path": x}}``, merging with nested keys."""
    nested: dict[str, Any] = {}
    for key, value in raw.items():
        if "." in key:
            group, _, name = key.partition(".")
            target = nested.setdefault(group, {})
            if isinstance(target, dict):
                target[name] = value
        elif isinstance(value, Mapping) and isinstance(nested.get(key), dict):
            nested[key].update(value)
        else:
            nested[key] = value
    return nested


def _coerce(value: Any, default: Any) -> tuple[bool, Any]:
    """Accept a value of the default's type; ints for floats; nothing else (no str->int)."""
    if isinstance(default, bool):
        return (isinstance(value, bool), value)
    if isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok and isinstance(value, float) and value.is_integer():
            return (True, int(value))
        return (ok, value)
    if isinstance(default, str):
        return (isinstance(value, str), value)
    return (False, value)


def _type_name(default: Any) -> str:
    return {bool: "true or false", int: "an integer", str: "a string"}.get(type(default), "?")


def parse_settings(raw: object) -> SettingsResult:
    """Build Settings from client JSON; never raises."""
    warnings: list[str] = []
    if raw is None or raw == []:  # Lua clients encode an empty table as []
        return SettingsResult(Settings(), ())
    if not isinstance(raw, Mapping):
        return SettingsResult(
            Settings(), (f"ghostls settings must be an object, got {type(raw).__name__}",)
        )
    data = _nest_dotted(raw)
    groups: dict[str, Any] = {}
    for group_field in dataclasses.fields(Settings):
        group_default = getattr(Settings(), group_field.name)
        group_raw = data.pop(group_field.name, {})
        if group_raw is None:
            group_raw = {}
        if not isinstance(group_raw, Mapping):
            warnings.append(
                f"ghostls setting '{group_field.name}' must be an object; using defaults"
            )
            group_raw = {}
        values: dict[str, Any] = {}
        known = {f.name for f in dataclasses.fields(group_default)}
        for unknown in sorted(set(group_raw) - known):
            warnings.append(f"unknown ghostls setting '{group_field.name}.{unknown}' (ignored)")
        for f in dataclasses.fields(group_default):
            if f.name not in group_raw or group_raw[f.name] is None:
                continue
            key = f"{group_field.name}.{f.name}"
            default = getattr(group_default, f.name)
            ok, value = _coerce(group_raw[f.name], default)
            if not ok:
                warnings.append(
                    f"ghostls setting '{key}' should be {_type_name(default)}, "
                    f"got {group_raw[f.name]!r}; using the default {default!r}"
                )
                continue
            constraint = _CONSTRAINTS.get(key)
            if constraint and not constraint[0](value):
                warnings.append(
                    f"ghostls setting '{key}' should be {constraint[1]}, got {value!r}; "
                    f"using the default {default!r}"
                )
                continue
            values[f.name] = value
        groups[group_field.name] = dataclasses.replace(group_default, **values)
    for unknown in sorted(data):
        warnings.append(f"unknown ghostls setting '{unknown}' (ignored)")
    return SettingsResult(Settings(**groups), tuple(warnings))


def settings_table() -> list[tuple[str, str, object]]:
    """(key, type, default) for every setting, for docs and the VS Code manifest check."""
    rows: list[tuple[str, str, object]] = []
    defaults = Settings()
    for group_field in dataclasses.fields(Settings):
        group = getattr(defaults, group_field.name)
        for f in dataclasses.fields(group):
            value = getattr(group, f.name)
            kind = {bool: "boolean", int: "integer", str: "string"}[type(value)]
            rows.append((f"{group_field.name}.{f.name}", kind, value))
    return rows
