"""``python -m ghostls.bench latency``: replay typing real functions through the server over LSP.

A few CPython stdlib functions are removed from their files and typed back character by
character (80-150 ms between keys, seeded; Enter inserts the next line's indentation at once, as
editors auto-indent). Every keystroke sends didChange and an automatic inlineCompletion request
without waiting for the previous answer, as an editor does. Reported: p50/p95 latency of the
answers that carried a suggestion (and of all non-superseded answers), the share served from
the caches, prompt tokens evaluated per model request, and the server's overhead over the
engine's own cost (prompt tokens x prompt time per token + generated tokens x decode time per
token, both measured in the same run from the engine's per-request statistics).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from pathlib import Path
from typing import Any

from lsprotocol import types

from ghostls.bench.quality import _plain
from ghostls.bench.report import summarize, write_report
from ghostls.bench.tasks import Task, make_tasks
from ghostls.client_session import ServerSession


def _replay_plan(task: Task, max_chars: int) -> tuple[str, int, list[tuple[str, int]]]:
    """(start text, row, edits): the file without the function, and the typed insertions.

    Each edit is (text to insert at the cursor, how many characters of the function it covers).
    """
    text = _original(task)
    function = task.function
    start = text.find(function)
    before = text[:start]
    after = text[start + len(function) :]
    row = before.count("\n")
    edits: list[tuple[str, int]] = []
    typed = 0
    i = 0
    while i < len(function) and typed < max_chars:
        char = function[i]
        if char == "\n":
            j = i + 1
            while j < len(function) and function[j] == " ":
                j += 1
            edits.append((function[i:j], j - i))
            typed += 1
            i = j
        else:
            edits.append((char, 1))
            typed += 1
            i += 1
    return before + after, row, edits


def _original(task: Task) -> str:
    lines = task.masked.split("\n")
    if task.kind == "single":
        lines[task.row] = lines[task.row] + task.target
        return "\n".join(lines)
    lines[task.row : task.row + 1] = task.target.split("\n")
    return "\n".join(lines)


async def _replay(
    session: ServerSession, task: Task, max_chars: int, rng: random.Random
) -> list[dict[str, Any]]:
    text, row, edits = _replay_plan(task, max_chars)
    path = Path(f"/tmp/ghostls-latency/{task.id}/{Path(task.path).name}")
    uri = session.open(path, text)
    # Let the first prompt of the file be evaluated (an editor has the file open a while).
    await _request(session, uri, row, 0)
    line, col = row, 0
    version = 1
    pending: list[tuple[int, float, asyncio.Future[tuple[Any, float]]]] = []
    for insert, _ in edits:
        version += 1
        session.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(line=line, character=col),
                            end=types.Position(line=line, character=col),
                        ),
                        text=insert,
                    )
                ],
            )
        )
        if "\n" in insert:
            line += insert.count("\n")
            col = len(insert) - insert.rfind("\n") - 1
        else:
            col += len(insert)
        sent = time.perf_counter()
        future = asyncio.ensure_future(_request(session, uri, line, col))
        pending.append((version, sent, future))
        await asyncio.sleep(rng.uniform(0.080, 0.150))
    results = []
    for version, sent, answer in pending:
        items, done_at = await answer
        results.append(
            {
                "task": task.id,
                "version": version,
                "latency_ms": (done_at - sent) * 1000,
                "shown": bool(items),
            }
        )
    stats = await _stats(session, recent=512)
    records = list(stats.get("completion", {}).get("recent", []))
    timeline = stats.get("engine", {}).get("timeline", [])
    by_version = {r["version"]: r for r in records if r.get("uri") == uri}
    for result in results:
        record = by_version.get(result["version"], {})
        result["outcome"] = record.get("outcome", "?")
        result["source"] = record.get("source", "")
        result["engine"] = record.get("engine", {})
        result["server_ms"] = record.get("latency_ms", 0.0)
        result["notes"] = record.get("notes", [])
    if results:  # the worker's last jobs: what the final keystroke's request queued behind
        results[-1]["worker_timeline"] = timeline[-12:]
    session.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    return results


async def _request(session: ServerSession, uri: str, line: int, col: int) -> tuple[Any, float]:
    result = await session.client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=col),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    )
    items = list(result.items) if isinstance(result, types.InlineCompletionList) else []
    return items, time.perf_counter()


async def _stats(session: ServerSession, recent: int = 0) -> dict[str, Any]:
    """``ghostls.stats`` as plain dicts (with the last ``recent`` request records)."""
    arguments: list[Any] = [{"recent": recent}] if recent else []
    result = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="ghostls.stats", arguments=arguments)
    )
    return dict(_plain(result))


def _rates(results: list[dict[str, Any]]) -> tuple[float, float]:
    """Median prompt ms per evaluated token and decode ms per generated token, this run."""
    prompt = [
        r["engine"]["prompt_ms"] / r["engine"]["evaluated_tokens"]
        for r in results
        if r["engine"].get("evaluated_tokens", 0) >= 4
    ]
    decode = [
        r["engine"]["generation_ms"] / r["engine"]["generated_tokens"]
        for r in results
        if r["engine"].get("generated_tokens", 0) >= 2
    ]
    return (
        statistics.median(prompt) if prompt else 0.0,
        statistics.median(decode) if decode else 0.0,
    )


async def _main(args: argparse.Namespace) -> int:
    candidates = [
        t
        for t in make_tasks(args.functions * 6, seed=args.seed, multi_share=0.0)
        if 200 <= len(t.function) <= 1500
    ]
    chosen = candidates[: args.functions]
    rng = random.Random(args.seed)
    results: list[dict[str, Any]] = []
    async with ServerSession() as session:
        status = await session.wait_until_ready(300)
        if status.get("state") != "ready":
            print(f"model not ready: {status}")
            return 2
        for task in chosen:
            print(f"  replaying {task.path} ({min(len(task.function), args.max_chars)} chars)")
            results.extend(await _replay(session, task, args.max_chars, rng))
        counters = dict((await _stats(session)).get("engine", {}).get("counters", {}))
    shown = [r for r in results if r["shown"]]
    answered = [r for r in results if r["outcome"] not in ("superseded", "stale")]
    from_cache = [r for r in shown if r["source"] in ("typed-through", "lru")]
    model_shown = [r for r in shown if r["source"] == "model"]
    model_requests = [r for r in results if r["engine"]]
    t_prompt, t_decode = _rates(model_requests)
    # Every model-served suggestion; a request with two generations (a refused `name =` start,
    # or an alternative) is compared with the sum of both. (Their summed engine time once
    # exceeded wall time: a failed adoption of an older request's generation was added in.)
    single_generation = [r for r in model_shown if r["engine"].get("generations", 1) == 1]
    overhead_parts = []
    for r in model_shown:
        e = r["engine"]
        cost = e["evaluated_tokens"] * t_prompt + e["generated_tokens"] * t_decode
        measured = e.get("prompt_ms", 0.0) + e.get("generation_ms", 0.0)
        overhead_parts.append((r["latency_ms"], cost, measured))
    total_latency = sum(p[0] for p in overhead_parts)
    overhead = (
        (total_latency - sum(p[1] for p in overhead_parts)) / total_latency
        if total_latency
        else 0.0
    )
    overhead_measured = (
        (total_latency - sum(p[2] for p in overhead_parts)) / total_latency
        if total_latency
        else 0.0
    )
    # Time the server spent outside the engine (cursor, context, post-processing, guard, LSP).
    pipeline_ms = [
        r["server_ms"]
        - r["engine"].get("prompt_ms", 0.0)
        - r["engine"].get("generation_ms", 0.0)
        - r["engine"].get("queue_ms", 0.0)
        for r in model_shown
    ]
    report: dict[str, Any] = {
        "functions": [t.path for t in chosen],
        "server_pipeline_ms_outside_engine": summarize(pipeline_ms),
        "requests": len(results),
        "shown": len(shown),
        "superseded_share": round(
            sum(r["outcome"] in ("superseded", "stale") for r in results) / len(results), 4
        )
        if results
        else 0.0,
        "latency_shown_ms": summarize([r["latency_ms"] for r in shown]),
        "latency_answered_ms": summarize([r["latency_ms"] for r in answered]),
        "latency_model_shown_ms": summarize([r["latency_ms"] for r in model_shown]),
        "latency_cache_shown_ms": summarize([r["latency_ms"] for r in from_cache]),
        "cache_hit_share": round(len(from_cache) / len(shown), 4) if shown else 0.0,
        "evaluated_tokens_per_model_request": summarize(
            [float(r["engine"]["evaluated_tokens"]) for r in model_requests]
        ),
        "generated_tokens_per_model_request": summarize(
            [float(r["engine"]["generated_tokens"]) for r in model_requests]
        ),
        "prompt_ms_per_token": round(t_prompt, 3),
        "decode_ms_per_token": round(t_decode, 3),
        "overhead_requests": len(model_shown),
        "model_requests_with_two_generations": len(model_shown) - len(single_generation),
        "server_overhead_share": round(overhead, 4),
        "server_overhead_share_vs_engine_measured": round(overhead_measured, 4),
        # All the worker's generation time, and the part spent on generations a newer
        # keystroke superseded (what a request may queue behind).
        "engine_busy_ms": round(counters.get("busy_ms", 0.0), 1),
        "engine_superseded_busy_ms": round(counters.get("superseded_busy_ms", 0.0), 1),
        "engine_evaluated_tokens_total": counters.get("evaluated_tokens", 0),
        "results": results,
    }
    s, a = report["latency_shown_ms"], report["latency_answered_ms"]
    print(f"requests {report['requests']}, with a suggestion {report['shown']}")
    print(f"latency (suggestions)  p50 {s['p50']:.0f} ms  p95 {s['p95']:.0f} ms")
    print(f"latency (all answered) p50 {a['p50']:.0f} ms  p95 {a['p95']:.0f} ms")
    m = report["latency_model_shown_ms"]
    print(f"latency (model-served) p50 {m['p50']:.0f} ms  p95 {m['p95']:.0f} ms")
    print(f"cache hit share {report['cache_hit_share']:.2%}")
    print(f"superseded share {report['superseded_share']:.2%}")
    ev = report["evaluated_tokens_per_model_request"]
    print(f"prompt tokens evaluated per model request: mean {ev['mean']:.1f} p50 {ev['p50']:.0f}")
    print(f"engine: {t_prompt:.1f} ms/prompt token, {t_decode:.1f} ms/generated token")
    n_two = report["model_requests_with_two_generations"]
    print(f"server overhead vs engine cost, {len(model_shown)} model-served suggestions ", end="")
    print(f"({n_two} with two generations): ", end="")
    print(f"{overhead:.1%} (vs engine-measured ms: ", end="")
    print(f"{overhead_measured:.1%})")
    print(
        f"engine busy {report['engine_busy_ms'] / 1000:.1f} s, of which superseded "
        f"{report['engine_superseded_busy_ms'] / 1000:.1f} s; "
        f"{report['engine_evaluated_tokens_total']:.0f} prompt tokens evaluated in all"
    )
    queued = [r["engine"].get("queue_ms", 0.0) for r in model_shown]
    report["queue_ms_model_shown"] = summarize(queued)
    pipe = report["server_pipeline_ms_outside_engine"]
    print(f"server time outside the engine per model request: p50 {pipe['p50']:.1f} ms")
    write_report("latency", report)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ghostls.bench latency")
    parser.add_argument("--functions", type=int, default=3)
    parser.add_argument("--max-chars", type=int, default=250, help="keystrokes per function")
    parser.add_argument("--seed", type=int, default=1)
    return asyncio.run(_main(parser.parse_args(argv)))
