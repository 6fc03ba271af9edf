"""``python -m ghostls.bench engine``: decode-loop overhead, high-level API, prompt lookup.

In one run, on prompts cut from real code (the standard library's own files):

* bare ``llama_decode`` of one token (batch prepared once) vs one step of our decode loop
  (argmax, stop checks, text), their ratio (target <= 1.15);
* llama-cpp-python's ``create_completion`` per token on the same model, for comparison;
* prompt-lookup decoding on vs off: tokens per second, draft acceptance, identical output.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ghostls.bench.report import summarize, write_report
from ghostls.engine.decoder import DecodeJob, Decoder
from ghostls.engine.llama_model import LlamaModel, default_threads
from ghostls.engine.local import LocalEngine, LocalEngineConfig
from ghostls.engine.lookup import DraftPolicy
from ghostls.engine.model_files import EMBEDDED_MODEL_NAME, ensure_embedded_model
from ghostls.engine.prompt import build_prompt
from ghostls.engine.types import GenerationRequest, GenerationResult, PromptParts

STDLIB_FILES = (
    "argparse.py",
    "dataclasses.py",
    "json/encoder.py",
    "textwrap.py",
    "csv.py",
    "shutil.py",
    "pathlib.py",
    "logging/__init__.py",
    "ast.py",
    "configparser.py",
    "difflib.py",
    "inspect.py",
)
PREFIX_LINES = 80


@dataclass(frozen=True)
class CodePrompt:
    source: str
    line: int
    parts: PromptParts


def code_prompts(count: int, seed: int = 7) -> list[CodePrompt]:
    """Cut prompts at the indentation of a random code line inside an indented block."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    rng = random.Random(seed)
    prompts: list[CodePrompt] = []
    files = [stdlib / name for name in STDLIB_FILES if (stdlib / name).is_file()]
    while files and len(prompts) < count:
        path = files[len(prompts) % len(files)]
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        candidates = [
            i
            for i in range(PREFIX_LINES, len(lines))
            if lines[i].startswith("        ")
            and lines[i].strip()
            and not lines[i].strip().startswith(("#", '"', "'"))
        ]
        if not candidates:
            files.remove(path)
            continue
        i = rng.choice(candidates)
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        prefix = "".join(lines[max(0, i - PREFIX_LINES) : i]) + indent
        prompts.append(CodePrompt(f"{path.relative_to(stdlib)}", i + 1, PromptParts(prefix)))
    return prompts


def _prompt_tokens(model: LlamaModel, parts: PromptParts, n_ctx: int, tokens: int) -> list[int]:
    return build_prompt(model, parts, n_ctx - tokens - 16).tokens


def _bare(model: LlamaModel, decoder: Decoder, prompt: list[int], count: int) -> list[float]:
    """Bare decodes at the positions the loop used (right after the prompt)."""
    decoder.generate(DecodeJob(prompt=prompt, max_tokens=1))  # cache holds the prompt
    keep = len(prompt)
    model.remove_from(keep)
    del decoder.evaluated[keep:]
    return model.time_bare_decodes(prompt[-1], keep, count)


def _generate(engine: LocalEngine, parts: PromptParts, tokens: int, lookup: bool) -> Any:
    import asyncio

    engine.prompt_lookup = lookup

    async def run() -> GenerationResult:
        return await engine.generate(
            GenerationRequest(parts, max_tokens=tokens, time_budget_ms=600_000)
        )

    return asyncio.run(run())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ghostls.bench engine")
    parser.add_argument("--model", default="", help="a GGUF (default: the embedded model)")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=48, help="tokens generated per prompt")
    parser.add_argument("--threads", type=int, default=0, help="0 = the engine's default")
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--high-level-prompts", type=int, default=2)
    args = parser.parse_args(argv)

    path = args.model or str(ensure_embedded_model())
    threads = args.threads or default_threads()
    engine = LocalEngine(
        LocalEngineConfig(path, context_size=args.ctx, threads=threads, prompt_lookup=False)
    )
    engine.start_sync()
    if engine.error:
        print(f"engine failed to load: {engine.error}")
        return 1
    prompts = code_prompts(args.prompts)
    print(
        f"model {args.model or EMBEDDED_MODEL_NAME}, {threads} thread(s), {len(prompts)} "
        f"prompts from the standard library, {args.tokens} tokens each\n"
    )

    _generate(engine, prompts[0].parts, 4, False)  # warm up

    decoder = engine.run_on_worker(lambda _m, d: d)
    adaptive_policy = decoder.policy
    always_policy = DraftPolicy(always=True)
    bare_ms: list[float] = []
    loop_step_ms: list[float] = []
    ratios: list[float] = []
    modes = ("off", "always", "adaptive")
    totals = {m: {"tokens": 0, "ms": 0.0, "draft": 0, "accepted": 0, "same": 0} for m in modes}
    rows: list[dict[str, Any]] = []
    for p in prompts:
        # Every run starts from the same cache state (prompt cached, last token re-evaluated)
        # so that outputs are comparable bit for bit.
        _generate(engine, p.parts, 1, lookup=False)
        plain = _generate(engine, p.parts, args.tokens, lookup=False)
        steps = max(1, plain.stats.generated_tokens - 1)
        step_ms = plain.stats.generation_ms / steps
        tokens = engine.run_on_worker(
            lambda model, _d, parts=p.parts: _prompt_tokens(model, parts, args.ctx, args.tokens)
        )
        bare = engine.run_on_worker(
            lambda model, decoder, t=tokens, n=steps: _bare(model, decoder, t, n)
        )
        bare_mean = statistics.fmean(bare) * 1000
        results = {"off": plain}
        decoder.policy = always_policy
        results["always"] = _generate(engine, p.parts, args.tokens, lookup=True)
        decoder.policy = adaptive_policy
        results["adaptive"] = _generate(engine, p.parts, args.tokens, lookup=True)
        bare_ms.append(bare_mean)
        loop_step_ms.append(step_ms)
        ratios.append(step_ms / bare_mean)
        row: dict[str, Any] = {
            "source": f"{p.source}:{p.line}",
            "prompt_tokens": plain.stats.prompt_tokens,
            "generated": plain.stats.generated_tokens,
            "bare_decode_ms": round(bare_mean, 2),
            "loop_ms_per_token": round(step_ms, 2),
            "ratio": round(step_ms / bare_mean, 3),
        }
        for mode, result in results.items():
            st, tot = result.stats, totals[mode]
            tot["tokens"] += st.generated_tokens
            tot["ms"] += st.generation_ms
            tot["draft"] += st.draft_tokens
            tot["accepted"] += st.accepted_draft_tokens
            tot["same"] += result.text == plain.text
            row[f"{mode}_tok_s"] = round(st.generated_tokens / max(st.generation_ms, 1e-6) * 1e3, 1)
            row[f"{mode}_accepted"] = f"{st.accepted_draft_tokens}/{st.draft_tokens}"
            row[f"{mode}_same_output"] = result.text == plain.text
        rows.append(row)
        print(
            f"{row['source']:<28} bare {bare_mean:6.2f} ms  loop {step_ms:6.2f} ms/tok  "
            f"ratio {row['ratio']:5.3f}  tok/s off {row['off_tok_s']:5.1f} always "
            f"{row['always_tok_s']:5.1f} ({row['always_accepted']}) adaptive "
            f"{row['adaptive_tok_s']:5.1f} ({row['adaptive_accepted']})"
        )
    engine.close_sync()

    high: list[dict[str, Any]] = []
    for p in prompts[: args.high_level_prompts]:
        from ghostls.engine.reference import time_create_completion

        timing = time_create_completion(
            path, p.parts.prefix, args.tokens, n_ctx=args.ctx, threads=threads
        )
        high.append(
            {"source": p.source, "ms_per_token": timing.ms_per_token, "tokens": timing.tokens}
        )
        print(
            f"create_completion {p.source:<20} {timing.ms_per_token:6.1f} ms/token "
            f"({timing.tokens} tokens)"
        )

    bare_mean_all = statistics.fmean(bare_ms)
    loop_mean_all = statistics.fmean(loop_step_ms)
    rate = {m: t["tokens"] / max(t["ms"], 1e-6) * 1000 for m, t in totals.items()}
    high_ms = statistics.fmean(h["ms_per_token"] for h in high) if high else 0.0
    summary: dict[str, Any] = {
        "threads": threads,
        "bare_decode_ms": round(bare_mean_all, 2),
        "loop_ms_per_token": round(loop_mean_all, 2),
        "loop_over_bare": round(loop_mean_all / bare_mean_all, 3),
        "loop_over_bare_median_of_prompts": round(statistics.median(ratios), 3),
        "create_completion_ms_per_token": round(high_ms, 1),
        "create_completion_over_bare": round(high_ms / bare_mean_all, 2) if high else None,
        "lookup_off_tokens_per_s": round(rate["off"], 1),
    }
    for mode in ("always", "adaptive"):
        t = totals[mode]
        summary[f"lookup_{mode}_tokens_per_s"] = round(rate[mode], 1)
        summary[f"lookup_{mode}_speedup"] = round(rate[mode] / rate["off"], 3)
        summary[f"lookup_{mode}_acceptance"] = (
            round(t["accepted"] / t["draft"], 3) if t["draft"] else 0.0
        )
        summary[f"lookup_{mode}_drafted_accepted"] = f"{t['accepted']}/{t['draft']}"
        summary[f"lookup_{mode}_same_output"] = f"{t['same']}/{len(prompts)}"
    summary["adaptive_policy"] = {
        "single_ms": round(adaptive_policy.single_ms, 2),
        "row_ms": round(adaptive_policy.row_ms, 2),
        "alpha_by_ngram": {k: round(v, 3) for k, v in sorted(adaptive_policy.alpha.items())},
    }
    print()
    for key, value in summary.items():
        print(f"{key:<36} {value}")
    write_report(
        "engine",
        {
            "model": args.model or EMBEDDED_MODEL_NAME,
            "tokens_per_prompt": args.tokens,
            "summary": summary,
            "ratio_per_prompt": summarize(ratios),
            "prompts": rows,
            "create_completion": high,
        },
    )
    return 0
