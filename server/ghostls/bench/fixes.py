"""``python -m ghostls.bench fixes``: fixes on real code with injected mistakes, and latency.

Part 1 takes functions from CPython's standard library (not its tests), injects one realistic
mistake at a time (a missing colon, a missing closing bracket, a misspelt name, a wrong
indentation, an unused import), and reports per kind: how often the mistake is diagnosed at
its line, how often a fix is offered, how often the first fix restores the original code
exactly, and how long it takes. Deterministic fixes and model fixes (the verified search with
the real model) are reported separately and together ("first fix": deterministic if there is
one, else the best model fix).

Part 2 measures diagnostics latency on the real server over stdio: didChange to
publishDiagnostics with the debounce set to 0, on files of 500, 2,000 and 5,000 lines.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import random
import sys
import sysconfig
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ghostls.bench.report import summarize, write_report
from ghostls.diagnostics.checks import CheckResult, check_text
from ghostls.diagnostics.model_fixes import FixTarget, search
from ghostls.diagnostics.problems import Problem, apply_edits
from ghostls.syntax.errors import LineIndex

KINDS = ("missing-colon", "missing-bracket", "misspelt-name", "wrong-indentation", "unused-import")
HEADER_WORDS: tuple[str, ...] = ("def ", "if ", "elif ", "else", "for ", "while ", "try")
HEADER_WORDS += ("except", "finally", "with ", "class ")
SPARE_MODULES = ("collections", "itertools", "functools", "json", "math", "string", "textwrap")
MAX_FILE_LINES = 1500


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _source_files(root: Path) -> list[Path]:
    skip = {"test", "tests", "idlelib", "lib2to3", "site-packages", "turtledemo", "__pycache__"}
    files = []
    for path in sorted(root.rglob("*.py")):
        parts = set(path.relative_to(root).parts)
        if parts & skip or path.name.startswith("test_"):
            continue
        files.append(path)
    return files


@dataclass(frozen=True)
class Case:
    kind: str
    path: str
    original: str
    broken: str
    row: int  # the row the mistake is on, in the broken text
    note: str  # what was changed


@dataclass
class Sampler:
    rng: random.Random
    files: list[Path]
    _texts: dict[Path, tuple[str, CheckResult, list[ast.FunctionDef]]] = field(default_factory=dict)

    def _load(self, path: Path) -> tuple[str, CheckResult, list[ast.FunctionDef]] | None:
        if path in self._texts:
            return self._texts[path]
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            return None
        if text.count("\n") > MAX_FILE_LINES or "\t" in text:
            return None
        try:
            module = ast.parse(text)
        except SyntaxError:
            return None
        functions = [
            n
            for n in ast.walk(module)
            if isinstance(n, ast.FunctionDef) and 4 <= (n.end_lineno or n.lineno) - n.lineno <= 40
        ]
        base = check_text(text)
        if not functions or base.has_syntax_errors:
            return None
        self._texts[path] = (text, base, functions)
        return self._texts[path]

    def cases(self, kind: str, n: int) -> list[Case]:
        out: list[Case] = []
        attempts = 0
        while len(out) < n and attempts < n * 200:
            attempts += 1
            path = self.rng.choice(self.files)
            loaded = self._load(path)
            if loaded is None:
                continue
            text, base, functions = loaded
            func = self.rng.choice(functions)
            case = INJECTORS[kind](self.rng, text, base, func)
            if case is None:
                continue
            broken, row, note = case
            rel = str(path.relative_to(stdlib_dir()))
            out.append(Case(kind, f"{rel}:{func.lineno}", text, broken, row, note))
        return out


Injected = tuple[str, int, str] | None


def _replace_line(text: str, index: LineIndex, row: int, new: str) -> str:
    start = index.starts[row]
    end = index.offset(row, len(index.line(row)))
    return text[:start] + new + text[end:]


def _function_rows(func: ast.FunctionDef) -> range:
    return range(func.lineno - 1, func.end_lineno or func.lineno)


def inject_missing_colon(rng: random.Random, text: str, base: CheckResult, func: Any) -> Injected:
    index = LineIndex(text)
    rows = [
        r
        for r in _function_rows(func)
        if index.line(r).lstrip().startswith(HEADER_WORDS)
        and index.line(r).rstrip().endswith(":")
        and "#" not in index.line(r)
        and "lambda" not in index.line(r)
    ]
    if not rows:
        return None
    row = rng.choice(rows)
    line = index.line(row).rstrip()
    return _replace_line(text, index, row, line[:-1]), row, f"removed ':' from {line.strip()!r}"


def inject_missing_bracket(rng: random.Random, text: str, base: CheckResult, func: Any) -> Injected:
    """Drop a closing bracket: the last one on a line, or one inside it (harder to place)."""
    index = LineIndex(text)
    rows = []
    for r in _statement_rows(func):
        line = index.line(r)
        code = line.split("#")[0]
        if ("'" in code or '"' in code) or not code.rstrip().endswith((")", "]")):
            continue
        if code.count("(") == code.count(")") and code.count("[") == code.count("]"):
            rows.append(r)
    if not rows:
        return None
    row = rng.choice(rows)
    line = index.line(row).rstrip()
    closers = [i for i, ch in enumerate(line) if ch in ")]"]
    at = closers[-1] if rng.random() < 0.5 else rng.choice(closers)
    where = "at line end" if at == len(line) - 1 else f"at column {at + 1}"
    new = line[:at] + line[at + 1 :]
    return _replace_line(text, index, row, new), row, f"removed {line[at]!r} {where}"


def _statement_rows(func: Any, not_first: bool = False) -> list[int]:
    """Rows where a statement of ``func``'s body starts (optionally not the first of a block)."""
    rows: list[int] = []
    for node in ast.walk(func):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if not isinstance(block, list):
                continue
            for i, stmt in enumerate(block):
                one_line = isinstance(stmt, ast.stmt) and stmt.end_lineno == stmt.lineno
                if one_line and (i > 0 or not not_first):
                    rows.append(stmt.lineno - 1)
    return sorted(set(rows))


def inject_misspelt_name(rng: random.Random, text: str, base: CheckResult, func: Any) -> Injected:
    loads = [
        n
        for n in ast.walk(func)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and len(n.id) >= 4
    ]
    if not loads:
        return None
    node = rng.choice(loads)
    name = node.id
    words = set(ast_names(text))
    for _ in range(10):
        i = rng.randrange(1, len(name) - 1)
        how = rng.choice(("swap", "drop", "double"))
        if how == "swap":
            typo = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
        elif how == "drop":
            typo = name[:i] + name[i + 1 :]
        else:
            typo = name[:i] + name[i] + name[i:]
        if typo != name and typo not in words and typo.isidentifier():
            break
    else:
        return None
    if not text.isascii():
        return None  # ast columns are UTF-8 bytes; ASCII files keep the arithmetic simple
    index = LineIndex(text)
    row = node.lineno - 1
    start = index.offset(row, node.col_offset)
    broken = text[:start] + typo + text[start + len(name) :]
    return broken, row, f"{name} -> {typo}"


def ast_names(text: str) -> list[str]:
    import re

    return re.findall(r"[A-Za-z_]\w*", text)


def inject_wrong_indentation(
    rng: random.Random, text: str, base: CheckResult, func: Any
) -> Injected:
    """Indent a one-line statement (not the first of its block) 4 more, or 2 less."""
    index = LineIndex(text)
    rows_set = set(_statement_rows(func))
    rows = [r for r in _statement_rows(func, not_first=True) if len(index.line(r)) > 8]
    # The line above must be a statement of the same block: then any change is a mistake.
    rows = [
        r
        for r in rows
        if r - 1 in rows_set and _indent(index.line(r - 1)) == _indent(index.line(r))
    ]
    if not rows:
        return None
    row = rng.choice(rows)
    line = index.line(row)
    if rng.random() < 0.5:
        new, note = "    " + line, "indented 4 more"
    else:
        new, note = line[2:], "dedented by 2"
    return _replace_line(text, index, row, new), row, note


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _complete_statement(line: str) -> bool:
    code = line.split("#")[0]
    return all(code.count(a) == code.count(b) for a, b in ("()", "[]", "{}"))


def inject_unused_import(rng: random.Random, text: str, base: CheckResult, func: Any) -> Injected:
    words = set(ast_names(text))
    spare = [m for m in SPARE_MODULES if m not in words]
    if not spare:
        return None
    module = ast.parse(text)
    row = 0
    for stmt in module.body:
        is_doc = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        is_future = isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
        if is_doc or is_future:
            row = stmt.end_lineno or stmt.lineno
        else:
            break
    index = LineIndex(text)
    name = rng.choice(spare)
    at = index.starts[row] if row < len(index.starts) else len(text)
    return text[:at] + f"import {name}\n" + text[at:], row, f"added 'import {name}'"


INJECTORS: dict[str, Callable[[random.Random, str, CheckResult, Any], Injected]] = {
    "missing-colon": inject_missing_colon,
    "missing-bracket": inject_missing_bracket,
    "misspelt-name": inject_misspelt_name,
    "wrong-indentation": inject_wrong_indentation,
    "unused-import": inject_unused_import,
}


EXPECTED_CODES = {
    "misspelt-name": ("undefined-name", "import-star-usage"),
    "unused-import": ("unused-import",),
}


def problem_for(case: Case, result: CheckResult, base: CheckResult) -> Problem | None:
    """The diagnostic the injected mistake caused: a new one on (or next to) its row."""
    index = LineIndex(case.broken)
    old = {(p.code, p.message) for p in base.problems}
    fresh = [p for p in result.problems if (p.code, p.message) not in old]
    near = [p for p in fresh if abs(index.row_of(p.start) - case.row) <= 1]
    expected = EXPECTED_CODES.get(case.kind, ("syntax-error",))
    near.sort(key=lambda p: (p.code not in expected, abs(index.row_of(p.start) - case.row)))
    return near[0] if near else None


@dataclass
class Outcome:
    kind: str
    detected: bool
    det_offered: bool = False
    det_restores: bool = False
    model_offered: bool = False
    model_restores: bool = False
    check_ms: float = 0.0
    model_ms: float = 0.0
    message: str = ""


async def run_case(case: Case, engine: Any, budget_ms: int, candidates: int) -> Outcome:
    base = check_text(case.original)
    started = time.perf_counter()
    result = check_text(case.broken)
    check_ms = (time.perf_counter() - started) * 1000
    problem = problem_for(case, result, base)
    if problem is None:
        return Outcome(case.kind, False, check_ms=check_ms)
    out = Outcome(case.kind, True, check_ms=check_ms, message=problem.message)
    if problem.fix is not None:
        out.det_offered = True
        out.det_restores = apply_edits(case.broken, problem.fix.edits) == case.original
    if engine is not None:
        index = LineIndex(case.broken)
        row = index.row_of(problem.start)
        target = FixTarget(
            row, row, problem.start, problem.end, problem.code, problem.message, "ghostls"
        )
        found = await search(
            engine, case.broken, target, result, n_candidates=candidates, budget_ms=budget_ms
        )
        out.model_ms = found.elapsed_ms
        if found.fixes:
            out.model_offered = True
            best = found.fixes[0].edit
            patched = case.broken[: best.start] + best.text + case.broken[best.end :]
            out.model_restores = patched == case.original
    return out


def _share(values: list[bool]) -> float:
    return round(sum(values) / len(values), 3) if values else 0.0


def summarize_kind(outcomes: list[Outcome], with_model: bool) -> dict[str, Any]:
    first_offered = [o.det_offered or o.model_offered for o in outcomes]
    first_restores = [o.det_restores if o.det_offered else o.model_restores for o in outcomes]
    row: dict[str, Any] = {
        "cases": len(outcomes),
        "detected": _share([o.detected for o in outcomes]),
        "fix_offered": _share(first_offered),
        "first_fix_restores": _share(first_restores),
        "deterministic_offered": _share([o.det_offered for o in outcomes]),
        "deterministic_restores": _share([o.det_restores for o in outcomes]),
        "check_ms": summarize([o.check_ms for o in outcomes]),
    }
    if with_model:
        row["model_offered"] = _share([o.model_offered for o in outcomes])
        row["model_restores"] = _share([o.model_restores for o in outcomes])
        row["model_ms"] = summarize([o.model_ms for o in outcomes if o.detected])
    return row


async def _engine(use_model: bool) -> Any:
    if not use_model:
        return None
    from ghostls.config import Settings
    from ghostls.engine.factory import create_engine

    engine = create_engine(Settings())
    start = getattr(engine, "start", None)
    if start is not None:
        await start()
    if engine.state != "ready":
        print(f"model not available ({engine.error}); model fixes skipped")
        return None
    return engine


async def fix_benchmark(n: int, seed: int, use_model: bool, budget_ms: int) -> dict[str, Any]:
    sampler = Sampler(random.Random(seed), _source_files(stdlib_dir()))
    engine = await _engine(use_model)
    report: dict[str, Any] = {}
    examples: list[dict[str, Any]] = []
    try:
        for kind in KINDS:
            outcomes = []
            for case in sampler.cases(kind, n):
                outcome = await run_case(case, engine, budget_ms, 4)
                outcomes.append(outcome)
                examples.append(
                    {
                        "kind": kind,
                        "where": case.path,
                        "change": case.note,
                        "message": outcome.message,
                        "deterministic_restores": outcome.det_restores,
                        "model_restores": outcome.model_restores,
                    }
                )
            report[kind] = summarize_kind(outcomes, engine is not None)
            _print_kind(kind, report[kind])
    finally:
        if engine is not None:
            await engine.close()
    return {"kinds": report, "cases": examples, "model": engine is not None}


def _print_kind(kind: str, row: dict[str, Any]) -> None:
    model = ""
    if "model_offered" in row:
        model = (
            f"  model offered {row['model_offered']:.0%} restores {row['model_restores']:.0%}"
            f" p50 {row['model_ms']['p50']:.0f} ms"
        )
    print(
        f"{kind:18} n={row['cases']:3} detected {row['detected']:.0%}  offered "
        f"{row['fix_offered']:.0%}  first fix restores {row['first_fix_restores']:.0%}  "
        f"check p50 {row['check_ms']['p50']:.1f} ms{model}"
    )


# -- latency on the real server -----------------------------------------------------------


def code_of_lines(lines: int) -> str:
    """Real stdlib modules, whole, one after another, cut at a top-level statement boundary
    near ``lines`` (so the result parses and has a realistic number of findings)."""
    out: list[str] = []
    for path in _source_files(stdlib_dir()):
        try:
            text = path.read_text(encoding="utf-8")
            module = ast.parse(text)
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        if "\t" in text or "import *" in text:
            # A star import among thousands of concatenated names makes pyflakes quadratic:
            # not what one real module costs.
            continue
        src = text.split("\n")
        for stmt in module.body:
            start = stmt.lineno - 1
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                start -= len(stmt.decorator_list)
            block = src[start : stmt.end_lineno]
            if len(out) + len(block) > lines:
                continue  # too big for what is left: a smaller statement may fit
            out.extend(block)
            if len(out) >= lines - 10:
                return "\n".join(out) + "\n"
        out.append("")
    return "\n".join(out) + "\n"


async def latency_benchmark(sizes: list[int], trials: int) -> dict[str, Any]:

    from ghostls.client_session import ServerSession

    settings = {"diagnostics": {"debounceMs": 0}, "fixes": {"model": False}}
    results: dict[str, Any] = {}
    async with ServerSession(settings) as session:
        await session.wait_until_ready(60)  # the model load must not compete with the timing
        for size in sizes:
            text = code_of_lines(size)
            path = Path(f"/tmp/ghostls_bench_latency_{size}.py")
            uri = session.open(path, text)
            await session.wait_for(lambda s, u=uri: s.diagnostics_version.get(u) == 1, 60)
            clean: list[float] = []
            broken: list[float] = []
            check_clean: list[float] = []  # the server's own check time (no IPC, no queueing)
            check_broken: list[float] = []
            version = 1
            lines = text.split("\n")
            for trial in range(trials * 2):
                version += 1
                row = (trial * 37) % max(1, len(lines) - 1)
                # Alternate: a harmless edit, then one that leaves an unclosed '('.
                insert = "  # x" if trial % 2 == 0 else "("
                col = len(lines[row])
                started = time.perf_counter()
                session.change(uri, version, (row, col), (row, col), insert)
                ok = await session.wait_for(
                    lambda s, u=uri, v=version: s.diagnostics_version.get(u) == v, 60
                )
                elapsed = (time.perf_counter() - started) * 1000
                if ok:
                    (clean if trial % 2 == 0 else broken).append(elapsed)
                    spent = await _server_check_ms(session)
                    if spent is not None:
                        (check_clean if trial % 2 == 0 else check_broken).append(spent)
                # Undo so every trial starts from clean code.
                version += 1
                session.change(uri, version, (row, col), (row, col + len(insert)), "")
                await session.wait_for(
                    lambda s, u=uri, v=version: s.diagnostics_version.get(u) == v, 60
                )
            actual = text.count("\n")
            results[str(size)] = {
                "lines": actual,
                "clean_edit_ms": summarize(clean),
                "syntax_error_edit_ms": summarize(broken),
                "server_check_clean_ms": summarize(check_clean),
                "server_check_syntax_error_ms": summarize(check_broken),
            }
            print(
                f"{actual:6} lines: didChange -> publishDiagnostics p50 "
                f"{summarize(clean)['p50']:.1f} ms (clean edit), "
                f"{summarize(broken)['p50']:.1f} ms (edit leaving a syntax error); "
                f"p95 {summarize(clean)['p95']:.1f} / {summarize(broken)['p95']:.1f} ms; "
                f"server check p50 {summarize(check_clean)['p50']:.1f} / "
                f"{summarize(check_broken)['p50']:.1f} ms"
            )
    return results


async def _server_check_ms(session: Any) -> float | None:
    """The server's last check time (ghostls/stats counters), to split it from IPC."""
    try:
        result = await session.client.protocol.send_request_async("ghostls/stats", {})
    except Exception:
        return None
    extra = result.get("extra", {}) if isinstance(result, dict) else getattr(result, "extra", {})
    if isinstance(extra, dict):
        value = extra.get("diagnostics_ms")
    else:  # pygls turns JSON objects into namedtuple-like objects
        value = getattr(extra, "diagnostics_ms", None)
    return float(value) if isinstance(value, (int, float)) else None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ghostls.bench fixes", description=__doc__)
    parser.add_argument("--n", type=int, default=6, help="cases per mistake kind (default 6)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-model", action="store_true", help="deterministic fixes only")
    parser.add_argument("--budget-ms", type=int, default=4000, help="model fix time budget")
    parser.add_argument("--trials", type=int, default=8, help="latency edits per file size")
    parser.add_argument("--sizes", default="500,2000,5000", help="latency file sizes (lines)")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-fixes", action="store_true")
    args = parser.parse_args(argv)
    data: dict[str, Any] = {"n": args.n, "seed": args.seed, "budget_ms": args.budget_ms}
    if not args.skip_fixes:
        print(f"fixes on stdlib functions with one injected mistake ({args.n} per kind)")
        data["fixes"] = asyncio.run(
            fix_benchmark(args.n, args.seed, not args.no_model, args.budget_ms)
        )
    if not args.skip_latency:
        print("\ndiagnostics latency on the real server (debounce 0)")
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        data["latency"] = asyncio.run(latency_benchmark(sizes, args.trials))
    write_report("fixes", data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
