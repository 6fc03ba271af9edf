"""``python -m ghostls.bench quality``: suggestion quality on masked CPython stdlib code.

Each task masks one line (single-line) or one block body (multi-line) of a stdlib function; the
masked file goes through the real server over LSP (``ServerSession``), and the suggestion is
scored by exact match and edit similarity. The naive baseline runs in the same process on the
same tasks: the same model through llama-cpp-python's ``create_completion``, prompt = BOS + the
last 1,500 tokens before the cursor, greedy, cut at the first newline.

Step ablations re-run the server with one step off (``GHOSTLS_COMPLETION_DISABLE=step`` for
post-processing, ``GHOSTLS_CONTEXT_EXTRA=0`` for the extra context chunks) on the first
``--ablation-n`` tasks.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import time
from pathlib import Path
from typing import Any

from lsprotocol import types

from ghostls.bench.report import summarize, write_report
from ghostls.bench.tasks import Task, edit_similarity, make_tasks, parses
from ghostls.client_session import ServerSession
from ghostls.completion.postprocess import Steps
from ghostls.positions import Encoding, column_to_index

BASELINE_PROMPT_TOKENS = 1500
BASELINE_MAX_TOKENS = 48
# name -> environment for the server process; each turns one step off.
ABLATIONS: dict[str, dict[str, str]] = {
    "no_extra_context": {"GHOSTLS_CONTEXT_EXTRA": "0"},
    "no_suffix_resume": {"GHOSTLS_COMPLETION_DISABLE": "suffix_resume"},
    "no_suffix_overlap": {"GHOSTLS_COMPLETION_DISABLE": "suffix_overlap"},
    "no_block_end": {"GHOSTLS_COMPLETION_DISABLE": "block_end"},
    "no_blank_line_stop": {"GHOSTLS_COMPLETION_DISABLE": "blank_line_stop"},
    "no_repeats": {"GHOSTLS_COMPLETION_DISABLE": "repeats"},
    "no_syntax_check": {"GHOSTLS_COMPLETION_DISABLE": "syntax_check"},
    "no_alternatives": {"GHOSTLS_COMPLETION_DISABLE": "alternatives"},
    "no_needed_names": {"GHOSTLS_COMPLETION_DISABLE": "needed_names"},
    "no_needed_attributes": {"GHOSTLS_COMPLETION_DISABLE": "needed_attributes"},
    "no_gap_single_line": {"GHOSTLS_COMPLETION_DISABLE": "gap_single_line"},
    "no_statement_start": {"GHOSTLS_COMPLETION_DISABLE": "statement_start"},
}


def apply_item(text: str, item: types.InlineCompletionItem) -> str:
    """The document after the client inserts ``item`` (UTF-16 positions, as VS Code)."""
    insert = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
    lines = text.split("\n")
    assert item.range is not None
    start, end = item.range.start, item.range.end
    line = lines[start.line]
    a = column_to_index(line, start.character, Encoding.UTF16)
    b = column_to_index(lines[end.line], end.character, Encoding.UTF16)
    head = "\n".join([*lines[: start.line], line[:a]])
    tail = "\n".join([lines[end.line][b:], *lines[end.line + 1 :]])
    return head + insert + tail


def filled_region(task: Task, filled: str) -> str:
    """What now stands where the target was: the line's code, or the block's lines."""
    lines = filled.split("\n")
    if task.kind == "single":
        return lines[task.row].strip()
    masked_lines = task.masked.split("\n")
    extra = len(lines) - len(masked_lines)  # lines the suggestion added
    region = lines[task.row : task.row + max(1, extra + 1)]
    return "\n".join(line.rstrip() for line in region).strip("\n")


def score(task: Task, produced: str) -> dict[str, Any]:
    target = task.target.strip() if task.kind == "single" else task.target.strip("\n")
    got = produced.strip() if task.kind == "single" else produced.strip("\n")
    return {
        "exact": got == target,
        "similarity": edit_similarity(got, target),
    }


async def run_server(tasks: list[Task], env: dict[str, str], label: str) -> list[dict[str, Any]]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    results: list[dict[str, Any]] = []
    try:
        # Each task is a new file: the first prompt is evaluated whole, so allow it the time.
        # The model keeps its default threads: more than the free cores makes ggml's spinning
        # threads crawl (37 s a task with 2 threads on 2 busy cores, against ~8 s with one).
        async with ServerSession({"completion": {"timeBudgetMs": 60000}}) as session:
            status = await session.wait_until_ready(300)
            if status.get("state") != "ready":
                raise RuntimeError(f"model not ready: {status}")
            for index, task in enumerate(tasks):
                path = Path(f"/tmp/ghostls-bench/{task.id}/{Path(task.path).name}")
                uri = session.open(path, task.masked)
                started = time.perf_counter()
                items = await session.inline_completion(uri, task.row, task.column)
                latency = (time.perf_counter() - started) * 1000
                session.client.text_document_did_close(
                    types.DidCloseTextDocumentParams(
                        text_document=types.TextDocumentIdentifier(uri=uri)
                    )
                )
                record = await _last_record(session)
                if items:
                    filled = apply_item(task.masked, items[0])
                    produced = filled_region(task, filled)
                    broke = parses(task.masked) and not parses(filled)
                else:
                    produced, broke = "", False
                results.append(
                    {
                        "id": task.id,
                        "kind": task.kind,
                        "produced": produced,
                        "shown": bool(items),
                        "broke_syntax": broke,
                        "latency_ms": latency,
                        "outcome": record.get("outcome"),
                        "notes": record.get("notes"),
                        "raw": record.get("raw"),
                        "engine": record.get("engine"),
                        **score(task, produced),
                    }
                )
                if (index + 1) % 20 == 0:
                    print(f"  [{label}] {index + 1}/{len(tasks)}", flush=True)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return results


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


async def _last_record(session: ServerSession) -> dict[str, Any]:
    """The server's record of the last completion request (outcome, raw text, engine stats)."""
    result = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="ghostls.stats", arguments=[{"recent": 1}])
    )
    recent = _plain(result).get("completion", {}).get("recent", [])
    return dict(recent[-1]) if recent else {}


def run_baseline(tasks: list[Task]) -> list[dict[str, Any]]:
    """The naive baseline, exactly: last 1,500 tokens before the cursor, greedy, first line."""
    import llama_cpp

    from ghostls.engine.llama_model import default_threads
    from ghostls.engine.model_files import ensure_embedded_model

    llm = llama_cpp.Llama(
        str(ensure_embedded_model()),
        n_ctx=2048,
        n_batch=512,
        n_threads=default_threads(),  # as the server: robust when the cores are busy
        verbose=False,
    )
    results = []
    for task in tasks:
        lines = task.masked.split("\n")
        prefix = "\n".join([*lines[: task.row], lines[task.row][: task.column]])
        tokens = llm.tokenize(prefix.encode("utf-8"), add_bos=False, special=False)
        prompt = [llm.token_bos(), *tokens[-BASELINE_PROMPT_TOKENS:]]
        started = time.perf_counter()
        out: Any = llm.create_completion(
            prompt, max_tokens=BASELINE_MAX_TOKENS, temperature=0.0, top_k=1, stop=["\n"]
        )
        latency = (time.perf_counter() - started) * 1000
        text = str(out["choices"][0]["text"]).split("\n", 1)[0]
        produced = text.strip() if task.kind == "single" else (" " * task.column + text).rstrip()
        results.append(
            {"id": task.id, "kind": task.kind, "produced": produced, "latency_ms": latency}
            | score(task, produced)
        )
    llm.close()
    return results


POSTPROCESS_STEPS = (
    "block_end",
    "blank_line_stop",
    "suffix_resume",
    "suffix_overlap",
    "repeats",
    "syntax_check",
)


def refit(task: Task, raw: str, steps: Steps) -> str:
    """The suggestion the server's post-processing makes of ``raw`` with ``steps``.

    Used to measure each post-processing step on the model text recorded in this run. For the
    steps that also stop generation early, the recorded text ends just past their stop point,
    so switching them off here shows at least part of what they remove (a lower bound).
    """
    from ghostls.completion.policy import choose_multiline, fit_context
    from ghostls.completion.postprocess import fit
    from ghostls.completion.syntax_check import SyntaxGuard
    from ghostls.documents import DocumentStore
    from ghostls.syntax.cursor import analyze_cursor

    snapshot = DocumentStore().open(f"file:///refit/{task.id}.py", task.masked, 1)
    offset = snapshot.offset_at(task.row, task.column)
    cursor = analyze_cursor(snapshot, offset)
    multiline = choose_multiline(cursor, "auto", steps)
    if multiline is None:
        return ""
    ctx = fit_context(snapshot, offset, cursor, multiline, steps)
    fitted = fit(raw, ctx)
    if fitted is None:
        return ""
    end = offset + len(ctx.line_after) if fitted.replaces_line_end else offset
    text: str | None = fitted.text
    if steps.syntax_check:
        text, _ = SyntaxGuard().longest_valid(snapshot, offset, end, fitted.text, multiline)
    if text is None:
        return ""
    filled = task.masked[:offset] + text + task.masked[end:]
    return filled_region(task, filled)


def postprocess_ablation(tasks: list[Task], results: list[dict[str, Any]]) -> dict[str, Any]:
    by_id = {t.id: t for t in tasks}
    recorded = [r for r in results if r.get("raw")]
    out: dict[str, Any] = {"tasks_with_model_text": len(recorded)}
    all_on = Steps()
    reference = [
        {
            "kind": r["kind"],
            "latency_ms": 0.0,
            **score(by_id[r["id"]], refit(by_id[r["id"]], r["raw"], all_on)),
        }
        for r in recorded
    ]
    out["all_steps"] = _agg_both(reference)
    for step in POSTPROCESS_STEPS:
        steps = dataclasses.replace(all_on, **{step: False})
        rows = []
        broke = 0
        for r in recorded:
            task = by_id[r["id"]]
            produced = refit(task, r["raw"], steps)
            if produced and task.kind == "single":
                lines = task.masked.split("\n")
                lines[task.row] = lines[task.row][: task.column] + produced
                broke += parses(task.masked) and not parses("\n".join(lines))
            rows.append({"kind": r["kind"], "latency_ms": 0.0, **score(task, produced)})
        agg = _agg_both(rows)
        gains = {
            kind: {
                "exact": round(
                    out["all_steps"][kind].get("exact_match", 0) - agg[kind].get("exact_match", 0),
                    4,
                ),
                "edit_similarity": round(
                    out["all_steps"][kind].get("edit_similarity", 0)
                    - agg[kind].get("edit_similarity", 0),
                    4,
                ),
            }
            for kind in ("single", "multi")
        }
        out[f"no_{step}"] = {"gain_of_step": gains, "single_line_syntax_breaks": broke, **agg}
    return out


def aggregate(results: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    chosen = [r for r in results if r["kind"] == kind]
    if not chosen:
        return {"n": 0}
    return {
        "n": len(chosen),
        "exact_match": round(sum(r["exact"] for r in chosen) / len(chosen), 4),
        "edit_similarity": round(statistics.fmean(r["similarity"] for r in chosen), 4),
        "shown": round(sum(r.get("shown", True) for r in chosen) / len(chosen), 4),
        "broke_syntax": sum(bool(r.get("broke_syntax")) for r in chosen),
        "latency_ms": summarize([r["latency_ms"] for r in chosen]),
    }


def _line(name: str, agg: dict[str, Any]) -> str:
    if not agg.get("n"):
        return f"  {name:<22} (no tasks)"
    return (
        f"  {name:<22} n={agg['n']:<4} exact={agg['exact_match']:.3f}  "
        f"edit_sim={agg['edit_similarity']:.3f}  shown={agg['shown']:.2f}  "
        f"broke={agg['broke_syntax']}  p50={agg['latency_ms']['p50']:.0f}ms"
    )


def _refit_only(args: argparse.Namespace, tasks: list[Task]) -> int:
    """Re-run only the post-processing ablation on the model text of an earlier report."""
    import json

    earlier = json.loads(Path(args.refit_from).read_text(encoding="utf-8"))
    report = postprocess_ablation(tasks, earlier["results"])
    gains = {k: v.get("gain_of_step", v) if isinstance(v, dict) else v for k, v in report.items()}
    print(json.dumps(gains, indent=1))
    write_report("quality_postprocess_ablation", report)
    return 0


async def _main(args: argparse.Namespace) -> int:
    tasks = make_tasks(args.n, seed=args.seed, multi_share=args.multi_share)
    if args.refit_from:
        return _refit_only(args, tasks)
    print(f"quality: {len(tasks)} tasks from the CPython stdlib (seed {args.seed})")
    if args.ablations_only:
        return await _ablations_only(args, tasks)
    # One after the other: side by side on a small machine, the two would oversubscribe the
    # cores (ggml's threads spin) and both crawl.
    server = await run_server(tasks, {}, "server")
    report: dict[str, Any] = {"tasks": len(tasks), "seed": args.seed}
    report["server"] = {k: aggregate(server, k) for k in ("single", "multi")}
    print("ghostls (LSP):")
    for kind in ("single", "multi"):
        print(_line(kind, report["server"][kind]))
    report["postprocess_ablation"] = postprocess_ablation(tasks, server)
    print("post-processing steps, re-applied to this run's model text (gain = on - off):")
    for step in POSTPROCESS_STEPS:
        gain = report["postprocess_ablation"][f"no_{step}"]["gain_of_step"]
        print(
            f"  {step:<16} exact single {gain['single']['exact']:+.3f} "
            f"multi {gain['multi']['exact']:+.3f}  edit-sim single "
            f"{gain['single']['edit_similarity']:+.3f} "
            f"multi {gain['multi']['edit_similarity']:+.3f}"
        )
    report["results"] = server
    write_report("quality", report)  # partial: the baseline has not run yet
    if not args.no_baseline:
        baseline = await asyncio.to_thread(run_baseline, tasks)
        report["baseline_results"] = baseline
        report["baseline"] = {k: aggregate(baseline, k) for k in ("single", "multi")}
        print("naive baseline (create_completion, last 1500 tokens, first line):")
        for kind in ("single", "multi"):
            print(_line(kind, report["baseline"][kind]))
        b = report["baseline"]["single"].get("exact_match", 0)
        s = report["server"]["single"].get("exact_match", 0)
        report["single_line_ratio"] = round(s / b, 3) if b else None
        print(f"single-line exact match ratio ghostls/baseline: {report['single_line_ratio']}")
    subset = _ablation_subset(tasks, args.ablation_n)
    if _ablation_names(args):
        ids = {t.id for t in subset}
        report["ablations"] = await _ablations(args, subset, [r for r in server if r["id"] in ids])
    report["results"] = server
    write_report("quality", report)
    return 0


def _ablation_names(args: argparse.Namespace) -> list[str]:
    names = [a for a in (args.ablate.split(",") if args.ablate else []) if a]
    return list(ABLATIONS) if names == ["all"] else names


def _ablation_subset(tasks: list[Task], n: int) -> list[Task]:
    """The first ``n`` tasks (single-line ones come first) and ``n // 3`` multi-line ones."""
    subset = tasks[:n] + [t for t in tasks if t.kind == "multi"][: n // 3]
    return list({t.id: t for t in subset}.values())


async def _ablations(
    args: argparse.Namespace, subset: list[Task], reference: list[dict[str, Any]]
) -> dict[str, Any]:
    """Each named step switched off in its own server run on ``subset``."""
    out: dict[str, Any] = {"tasks": len(subset), "all_steps": _agg_both(reference)}
    print(f"ablations on {len(subset)} tasks (gain = all steps minus step off):")
    for name in _ablation_names(args):
        if name not in ABLATIONS:
            print(f"  unknown ablation {name!r}")
            continue
        off = await run_server(subset, ABLATIONS[name], name)
        agg = _agg_both(off)
        out[name] = agg
        ref = out["all_steps"]
        gains = {
            kind: round(ref[kind].get("exact_match", 0) - agg[kind].get("exact_match", 0), 4)
            for kind in ("single", "multi")
        }
        agg["exact_match_gain_of_step"] = gains
        print(f"  {name:<22} gain single={gains['single']:+.3f} multi={gains['multi']:+.3f}")
    return out


async def _ablations_only(args: argparse.Namespace, tasks: list[Task]) -> int:
    """Only the ablations: all steps on the subset as the reference, then each step off (to
    run beside the main run, which then needs no ``--ablate``)."""
    subset = _ablation_subset(tasks, args.ablation_n)
    reference = await run_server(subset, {}, "all steps")
    report: dict[str, Any] = {"tasks": len(tasks), "seed": args.seed}
    report["ablations"] = await _ablations(args, subset, reference)
    report["results"] = reference
    write_report("quality_ablations", report)
    return 0


def _agg_both(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {k: aggregate(results, k) for k in ("single", "multi")}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ghostls.bench quality")
    parser.add_argument("--n", type=int, default=120, help="number of tasks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--multi-share", type=float, default=0.3)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--ablate",
        default="",
        help="comma-separated steps to switch off one at a time: " + ",".join(ABLATIONS),
    )
    parser.add_argument("--ablation-n", type=int, default=40)
    parser.add_argument(
        "--ablations-only", action="store_true", help="only the --ablate runs (and a reference)"
    )
    parser.add_argument(
        "--refit-from",
        default="",
        help="a quality.json of the same --n/--seed: only re-run the post-processing ablation",
    )
    return asyncio.run(_main(parser.parse_args(argv)))
