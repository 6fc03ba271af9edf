"""Prints the server's view of the settings the VS Code manifest contributes, as JSON.

Run with the server's Python: ``.venv/bin/python settings_truth.py package.json``. For each server
setting: its type and default (config.settings_table), the enums, and whether the manifest's
minimum/maximum/enum values are exactly the edges the server accepts (config.parse_settings).
"""

import json
import sys

from ghostls.config import BACKEND_KINDS, MULTILINE_MODES, parse_settings, settings_table


def accepted(key: str, value: object) -> bool:
    return not parse_settings({key: value}).warnings


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        properties = json.load(f)["contributes"]["configuration"]["properties"]
    table = [{"key": k, "type": t, "default": d} for k, t, d in settings_table()]
    edges: dict[str, dict[str, bool]] = {}
    for row in table:
        prop = properties.get("ghostls." + row["key"], {})
        verdicts: dict[str, bool] = {}
        if "minimum" in prop:
            verdicts["minimum accepted"] = accepted(row["key"], prop["minimum"])
            verdicts["below minimum rejected"] = not accepted(row["key"], prop["minimum"] - 1)
        elif row["type"] == "integer":
            verdicts["no lower bound"] = accepted(row["key"], -(10**9))
        if "maximum" in prop:
            verdicts["maximum accepted"] = accepted(row["key"], prop["maximum"])
            verdicts["above maximum rejected"] = not accepted(row["key"], prop["maximum"] + 1)
        elif row["type"] == "integer":
            verdicts["no upper bound"] = accepted(row["key"], 10**9)
        if "enum" in prop:
            verdicts["every enum value accepted"] = all(
                accepted(row["key"], v) for v in prop["enum"]
            )
        elif row["type"] == "string":
            verdicts["any string accepted"] = accepted(row["key"], "x-not-an-enum-value")
        edges[row["key"]] = verdicts
    enums = {"completion.multiline": list(MULTILINE_MODES), "backend.kind": list(BACKEND_KINDS)}
    print(json.dumps({"table": table, "enums": enums, "edges": edges}))


if __name__ == "__main__":
    main()
