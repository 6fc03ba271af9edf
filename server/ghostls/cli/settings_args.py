"""Turn ``--model`` / ``--set KEY=VALUE`` into the settings object sent to the server."""

from __future__ import annotations

import argparse
import json
from typing import Any


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for item in getattr(args, "set", []) or []:
        key, _, raw = item.partition("=")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # a bare word is a string
        group, _, name = key.partition(".")
        settings.setdefault(group, {})[name] = value
    if getattr(args, "model", None):
        settings.setdefault("model", {})["path"] = args.model
    return settings
