"""``python -m ghostls.bench engine``: decode-loop overhead, high-level API, prompt lookup.

In one run, on prompts cut from real code (the standard library's own files):

* bare ``llama_decode`` of one token (batch prepared once) vs one step of our decode loop
  (argmax, stop checks, text), their ratio (target <= 1.15);
* llama-cpp-python's ``create_completion`` per token on the same model, for comparison;
* prompt-lookup decoding on vs off: tokens per second, draft acceptance, identical output.
"""

from __future__ import annotations

import argparse
import os
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
from ghostls.engine.types import PromptParts

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


@dataclass
class Run:
    """One generation measured on the worker thread."""

    text: str
    tokens: int
    wall_ms: float
    cpu_ms: float
    draft: int
    accepted: int

    @property
    def steps(self) -> int:  # decode steps after the first token (it comes from the prompt)
        return max(1, self.tokens - 1)


def _generate(
    engine: LocalEngine, prompt: list[int], heal: bytes, tokens: int, policy: DraftPolicy | None
) -> Run:
    """Our decode loop, called directly on the worker (no event loop) so that its own
    thread's CPU time can be read; prompt lookup on when ``policy`` is given."""

    def work(_model: LlamaModel, decoder: Decoder) -> Run:
        decoder.prompt_lookup = policy is not None
        if policy is not None:
            decoder.policy = policy
        job = DecodeJob(prompt=prompt, max_tokens=tokens, heal=heal)
        result = decoder.generate(job)
        st = result.stats
        return Run(
            result.text,
            st.generated_tokens,
            st.generation_ms,
            job.generation_cpu_ms,
            st.draft_tokens,
            st.accepted_draft_tokens,
        )

    run: Run = engine.run_on_worker(work)
    return run


def _bare(engine: LocalEngine, prompt: list[int], count: int) -> list[tuple[float, float]]:
    """Bare decodes at the positions the loop used (right after the prompt)."""

    def work(model: LlamaModel, decoder: Decoder) -> list[tuple[float, float]]:
        decoder.generate(DecodeJob(prompt=prompt, max_tokens=1))  # cache holds the prompt
        keep = len(prompt)
        model.remove_from(keep)
        del decoder.evaluated[keep:]
        return model.time_bare_decodes(prompt[-1], keep, count)

    times: list[tuple[float, float]] = engine.run_on_worker(work)
    return times


def _rate(runs: list[Run], cpu: bool = False) -> float:
    ms = sum(r.cpu_ms if cpu else r.wall_ms for r in runs)
    return sum(r.tokens for r in runs) / max(ms, 1e-6) * 1000


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ghostls.bench engine")
    parser.add_argument("--model", default="", help="a GGUF (default: the embedded model)")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=48, help="tokens generated per prompt")
    parser.add_argument("--rounds", type=int, default=2, help="repeats, in alternating order")
    parser.add_argument("--threads", type=int, default=0, help="0 = the engine's default")
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--high-level-prompts", type=int, default=2)
    args = parser.parse_args(argv)

    path = args.model or str(ensure_embedded_model())
    threads = args.threads or default_threads()
    engine = LocalEngine(LocalEngineConfig(path, context_size=args.ctx, threads=threads))
    engine.start_sync()
    model = engine.model
    if engine.error or model is None:
        print(f"engine failed to load: {engine.error}")
        return 1
    model.wait_for_piece_index()
    prompts = code_prompts(args.prompts)
    load_before = os.getloadavg()[0]
    print(
        f"model {args.model or EMBEDDED_MODEL_NAME}, {threads} thread(s), {len(prompts)} prompts "
        f"from the standard library, {args.tokens} tokens each, {args.rounds} rounds; "
        f"load average {load_before:.1f} on {os.cpu_count()} CPUs\n"
    )
    adaptive = DraftPolicy()
    always = DraftPolicy(always=True)
    modes: dict[str, DraftPolicy | None] = {"off": None, "always": always, "adaptive": adaptive}
    runs: dict[str, list[Run]] = {m: [] for m in modes}
    bare: list[tuple[float, float]] = []
    loop_wall: list[float] = []
    loop_cpu: list[float] = []
    same = {m: 0 for m in modes}
    rows: list[dict[str, Any]] = []
    for round_no in range(args.rounds):
        for p in prompts:
            tokens, heal = engine.run_on_worker(
                lambda m, _d, parts=p.parts: engine.layout_prompt(m, parts, args.tokens)
            )
            # Each run starts from the same cache state (prompt cached, its last token
            # re-evaluated), so outputs compare bit for bit; the order alternates per round.
            _generate(engine, tokens, heal, 1, None)
            order = list(modes) if round_no % 2 == 0 else list(modes)[::-1]
            got = {m: _generate(engine, tokens, heal, args.tokens, modes[m]) for m in order}
            plain = got["off"]
            times = _bare(engine, tokens, plain.steps)
            bare += times
            loop_wall.append(plain.wall_ms / plain.steps)
            loop_cpu.append(plain.cpu_ms / plain.steps)
            for m, run in got.items():
                runs[m].append(run)
                same[m] += run.text == plain.text
            bare_wall = statistics.fmean(t[0] for t in times) * 1000
            bare_cpu = statistics.fmean(t[1] for t in times) * 1000
            row = {
                "round": round_no,
                "source": f"{p.source}:{p.line}",
                "prompt_tokens": len(tokens),
                "generated": plain.tokens,
                "bare_ms": round(bare_wall, 2),
                "bare_cpu_ms": round(bare_cpu, 2),
                "loop_ms": round(loop_wall[-1], 2),
                "loop_cpu_ms": round(loop_cpu[-1], 2),
                **{f"{m}_cpu_tok_s": round(_rate([r], cpu=True), 1) for m, r in got.items()},
                **{f"{m}_accepted": f"{r.accepted}/{r.draft}" for m, r in got.items() if r.draft},
                **{f"{m}_same": r.text == plain.text for m, r in got.items() if m != "off"},
            }
            rows.append(row)
            print(
                f"{row['source']:<26} CPU ms/token: bare {bare_cpu:5.2f} loop "
                f"{loop_cpu[-1]:5.2f} ({loop_cpu[-1] / bare_cpu:4.2f}x)  lookup tok/s (CPU) "
                f"off {row['off_cpu_tok_s']:5.1f} always {row['always_cpu_tok_s']:5.1f} "
                f"adaptive {row['adaptive_cpu_tok_s']:5.1f}  accepted "
                f"{got['always'].accepted}/{got['always'].draft}"
            )
    engine.close_sync()

    high: list[dict[str, Any]] = []
    from ghostls.engine.reference import time_create_completion

    for p in prompts[: args.high_level_prompts]:
        for greedy in (True, False):
            timing = time_create_completion(
                path, p.parts.prefix, args.tokens, n_ctx=args.ctx, threads=threads, greedy=greedy
            )
            sampling = "greedy" if greedy else "default sampling"
            high.append(
                {
                    "source": p.source,
                    "sampling": sampling,
                    "ms_per_token": round(timing.ms_per_token, 2),
                    "cpu_ms_per_token": round(timing.cpu_ms_per_token, 2),
                    "tokens": timing.tokens,
                }
            )
            print(
                f"create_completion ({sampling}) {p.source:<20} {timing.ms_per_token:6.1f} "
                f"ms/token wall, {timing.cpu_ms_per_token:6.1f} CPU ({timing.tokens} tokens)"
            )

    bare_wall_ms = statistics.median(t[0] for t in bare) * 1000
    bare_cpu_ms = statistics.median(t[1] for t in bare) * 1000
    loop_wall_ms = statistics.median(loop_wall)
    loop_cpu_ms = statistics.median(loop_cpu)
    greedy_high = [h for h in high if h["sampling"] == "greedy"]
    sampled_high = [h for h in high if h["sampling"] != "greedy"]
    high_wall = statistics.fmean(h["ms_per_token"] for h in greedy_high) if high else 0.0
    high_cpu = statistics.fmean(h["cpu_ms_per_token"] for h in greedy_high) if high else 0.0
    sampled_cpu = statistics.fmean(h["cpu_ms_per_token"] for h in sampled_high) if high else 0.0
    summary: dict[str, Any] = {
        "threads": threads,
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "bare_decode_cpu_ms": round(bare_cpu_ms, 2),
        "loop_cpu_ms_per_token": round(loop_cpu_ms, 2),
        "loop_over_bare_cpu": round(loop_cpu_ms / bare_cpu_ms, 3),
        "bare_decode_wall_ms": round(bare_wall_ms, 2),
        "loop_wall_ms_per_token": round(loop_wall_ms, 2),
        "loop_over_bare_wall": round(loop_wall_ms / bare_wall_ms, 3),
        "create_completion_cpu_ms_per_token": round(high_cpu, 2),
        "create_completion_over_bare_cpu": round(high_cpu / bare_cpu_ms, 2) if high else None,
        "create_completion_wall_ms_per_token": round(high_wall, 2),
        "create_completion_default_sampling_cpu_ms_per_token": round(sampled_cpu, 2),
        "create_completion_default_sampling_over_bare_cpu": (
            round(sampled_cpu / bare_cpu_ms, 2) if high else None
        ),
    }
    for m in modes:
        summary[f"lookup_{m}_cpu_tokens_per_s"] = round(_rate(runs[m], cpu=True), 1)
        summary[f"lookup_{m}_wall_tokens_per_s"] = round(_rate(runs[m]), 1)
    for m in ("always", "adaptive"):
        drafted = sum(r.draft for r in runs[m])
        accepted = sum(r.accepted for r in runs[m])
        summary[f"lookup_{m}_speedup_cpu"] = round(
            _rate(runs[m], cpu=True) / _rate(runs["off"], cpu=True), 3
        )
        summary[f"lookup_{m}_acceptance"] = round(accepted / drafted, 3) if drafted else 0.0
        summary[f"lookup_{m}_accepted_of_drafted"] = f"{accepted}/{drafted}"
        summary[f"lookup_{m}_same_output_as_greedy"] = f"{same[m]}/{len(runs[m])}"
    summary["adaptive_policy"] = {
        "single_ms": round(adaptive.single_ms, 2),
        "row_ms": round(adaptive.row_ms, 2),
        "alpha_by_ngram_and_streak": {
            f"{n}{'+streak' if streak else ''}": round(v, 3)
            for (n, streak), v in sorted(adaptive.alpha.items())
        },
    }
    print()
    for key, value in summary.items():
        print(f"{key:<40} {value}")
    write_report(
        "engine",
        {
            "model": args.model or EMBEDDED_MODEL_NAME,
            "tokens_per_prompt": args.tokens,
            "summary": summary,
            "loop_cpu_ms_per_token": summarize(loop_cpu),
            "bare_cpu_ms": summarize([t[1] * 1000 for t in bare]),
            "prompts": rows,
            "create_completion": high,
        },
    )
    return 0
