"""LocalEngine with the real embedded model through llama.cpp (few tokens per test)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ghostls.engine.decoder import DecodeJob, Decoder, common_prefix_length
from ghostls.engine.local import LocalEngine, LocalEngineConfig
from ghostls.engine.lookup import DraftPolicy, PromptLookup
from ghostls.engine.model_files import ensure_embedded_model
from ghostls.engine.prompt import build_prompt
from ghostls.engine.types import CancelToken, EngineState, GenerationRequest, PromptParts

CODE = (
    "import os\n"
    "\n"
    "\n"
    "def list_python_files(root):\n"
    '    """Return the paths of the Python files under root."""\n'
    "    found = []\n"
)

# Long enough that a cancelled or superseded request is stopped long before it would end.
LONG = 200


def _request(parts: PromptParts, **kwargs: object) -> GenerationRequest:
    # No wall-clock budget: the machine is shared, and these tests check behaviour, not speed.
    kwargs.setdefault("time_budget_ms", 600_000)
    return GenerationRequest(parts, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def engine() -> Iterator[LocalEngine]:
    eng = LocalEngine(LocalEngineConfig(str(ensure_embedded_model()), context_size=1024))
    eng.start_sync()
    assert eng.state == EngineState.READY, eng.error
    model = eng.model
    assert model is not None
    model.wait_for_piece_index()  # token healing is on from the first request in these tests
    yield eng
    eng.close_sync()


def _prompt_tokens(engine: LocalEngine, parts: PromptParts, max_tokens: int = 2) -> list[int]:
    """The token ids the engine decodes for ``parts`` (after token healing)."""
    return engine.run_on_worker(lambda model, _d: engine.layout_prompt(model, parts, max_tokens)[0])


class FirstTokenSeen:
    """A should_stop predicate that reports (thread-safely) how often it was called."""

    def __init__(self) -> None:
        self.calls = 0
        self.started = threading.Event()

    def __call__(self, text: str) -> bool:
        self.calls += 1
        self.started.set()
        return False

    async def wait(self) -> None:
        assert await asyncio.to_thread(self.started.wait, 60), "generation never started"


def test_load_reports_model_info(engine: LocalEngine) -> None:
    info = engine.info
    assert info is not None
    assert info.supports_fim is False  # gemma-3-270m has no FIM tokens
    assert info.context_size == 1024
    assert engine.layout == "prefix"
    assert engine.error is None


async def test_completion_produces_text_and_stats(engine: LocalEngine) -> None:
    result = await engine.generate(_request(PromptParts(CODE), max_tokens=6))
    assert result.stop_reason in ("length", "stop")
    assert result.text.strip()
    stats = result.stats
    assert 1 <= stats.generated_tokens <= 6
    assert stats.prompt_tokens == stats.reused_tokens + stats.evaluated_tokens
    assert stats.prompt_ms > 0 and stats.generation_ms > 0


async def test_stop_string_cuts_text(engine: LocalEngine) -> None:
    parts = PromptParts("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n")
    free = await engine.generate(_request(parts, max_tokens=12))
    assert "\n" in free.text.rstrip("\n") or free.text.count("\n") >= 1
    cut = await engine.generate(_request(parts, max_tokens=12, stop=("\n",)))
    assert cut.stop_reason == "stop"
    assert "\n" not in cut.text
    assert free.text.startswith(cut.text)


async def test_cancel_mid_generation_stops_within_one_step(engine: LocalEngine) -> None:
    engine.prompt_lookup = False  # one decode step = one token, so counts are exact
    try:
        seen = FirstTokenSeen()
        cancel = CancelToken()
        task = asyncio.create_task(
            engine.generate(
                _request(PromptParts(CODE), max_tokens=LONG, should_stop=seen),
                cancel,
            )
        )
        await seen.wait()
        calls_at_cancel = seen.calls
        cancel.cancel()
        result = await asyncio.wait_for(task, 30)
    finally:
        engine.prompt_lookup = True
    assert result.stop_reason == "cancelled"
    assert result.cancelled
    # The token being decoded when we cancelled may still be emitted; nothing after it.
    assert result.stats.generated_tokens <= calls_at_cancel + 1
    assert result.stats.generated_tokens < LONG


async def test_newer_request_supersedes_running_one(engine: LocalEngine) -> None:
    seen = FirstTokenSeen()
    first = asyncio.create_task(
        engine.generate(_request(PromptParts(CODE), max_tokens=LONG, key="doc", should_stop=seen))
    )
    await seen.wait()
    second = await engine.generate(_request(PromptParts(CODE + "    for"), max_tokens=3, key="doc"))
    old = await asyncio.wait_for(first, 30)
    assert old.stop_reason == "superseded"
    assert old.stats.generated_tokens < LONG
    assert second.stop_reason in ("length", "stop")
    assert second.stats.generated_tokens >= 1


async def test_superseded_queued_request_never_runs(engine: LocalEngine) -> None:
    # Keep the worker busy with another document, queue B, then supersede it with C.
    busy = asyncio.create_task(
        engine.generate(_request(PromptParts(CODE), max_tokens=4, key="other"))
    )
    b = asyncio.create_task(
        engine.generate(_request(PromptParts(CODE + "    x"), max_tokens=4, key="doc"))
    )
    await asyncio.sleep(0)  # let B submit
    c = await engine.generate(_request(PromptParts(CODE + "    y"), max_tokens=4, key="doc"))
    b_result = await b
    await busy
    assert b_result.stop_reason == "superseded"
    assert b_result.stats.prompt_tokens == 0  # returned before touching the model
    assert b_result.stats.generated_tokens == 0
    assert c.stop_reason in ("length", "stop")


async def test_cache_reuse_evaluates_only_changed_tail(engine: LocalEngine) -> None:
    base = PromptParts(CODE * 4)
    await engine.generate(_request(base, max_tokens=2))
    edited = PromptParts(CODE * 4 + "    for name in os.listdir(root):\n")
    result = await engine.generate(_request(edited, max_tokens=2))
    old_tokens, new_tokens = _prompt_tokens(engine, base), _prompt_tokens(engine, edited)
    shared = common_prefix_length(old_tokens, new_tokens)
    stats = result.stats
    assert stats.prompt_tokens == len(new_tokens)
    assert stats.reused_tokens >= shared
    assert stats.evaluated_tokens == stats.prompt_tokens - stats.reused_tokens
    assert stats.evaluated_tokens <= len(new_tokens) - shared
    assert stats.evaluated_tokens < stats.prompt_tokens // 4

    # An edit near the start invalidates everything after it.
    early = PromptParts("import sys\n" + CODE * 4)
    result = await engine.generate(_request(early, max_tokens=1))
    assert result.stats.reused_tokens <= 2  # <bos> and maybe "import"
    assert result.stats.evaluated_tokens >= result.stats.prompt_tokens - 2


async def test_identical_prompt_needs_no_evaluation(engine: LocalEngine) -> None:
    parts = PromptParts(CODE)
    first = await engine.generate(_request(parts, max_tokens=2))
    again = await engine.generate(_request(parts, max_tokens=2))
    assert again.stats.evaluated_tokens == 0  # the last position's logits were kept
    assert again.text == first.text
    # Another prompt in between (the cache drops its tail): evaluated again.
    await engine.generate(_request(PromptParts("import os\n"), max_tokens=2))
    later = await engine.generate(_request(parts, max_tokens=2))
    assert later.stats.evaluated_tokens > 0 and later.text == first.text


def _generated_tokens(engine: LocalEngine, parts: PromptParts) -> list[int]:
    """Tokens the last generation fed back into the cache (all but the final one)."""
    prompt = _prompt_tokens(engine, parts, 16)
    cached: list[int] = engine.run_on_worker(lambda _m, d: list(d.evaluated))
    assert cached[: len(prompt)] == prompt
    return cached[len(prompt) :]


def _top2_margin(engine: LocalEngine, tokens: list[int]) -> float:
    """Logit gap between the two best next tokens after ``tokens``."""

    def work(_model: Any, decoder: Decoder) -> float:
        rows: list[Any] = []
        job = DecodeJob(prompt=tokens, max_tokens=1)
        decoder._sync(tokens, len(tokens) - 1, lambda _i, row: rows.append(row.copy()), job)
        best2 = np.sort(rows[-1])[-2:]
        return float(best2[1] - best2[0])

    margin: float = engine.run_on_worker(work)
    return margin


async def test_prompt_lookup_output_equals_plain_greedy(engine: LocalEngine) -> None:
    prompts = [
        "def area(w, h):\n    return w * h\n\n\ndef perimeter(w, h):\n    return",
        "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n\n"
        "    def __repr__(self):\n        return",
        "import os\nimport sys\nimport json\nimport time\nimport",
    ]
    drafted = accepted = identical = 0
    decoder = engine.run_on_worker(lambda _m, d: d)
    adaptive = decoder.policy
    decoder.policy = DraftPolicy(always=True)  # verify every draft, however costly
    try:
        for text in prompts:
            parts = PromptParts(text)
            # Both runs start from the same cache state (prompt cached).
            await engine.generate(_request(parts, max_tokens=1))
            engine.prompt_lookup = False
            plain = await engine.generate(_request(parts, max_tokens=16))
            plain_tokens = _generated_tokens(engine, parts)
            engine.prompt_lookup = True
            fast = await engine.generate(_request(parts, max_tokens=16))
            fast_tokens = _generated_tokens(engine, parts)
            drafted += fast.stats.draft_tokens
            accepted += fast.stats.accepted_draft_tokens
            if fast.text == plain.text:
                identical += 1
                continue
            # llama.cpp's batched evaluation rounds differently from one-token steps; that
            # may only flip a near-tie, never a clear choice.
            k = common_prefix_length(plain_tokens, fast_tokens)
            prompt = _prompt_tokens(engine, parts, 16)
            assert _top2_margin(engine, prompt + plain_tokens[:k]) < 1.0, (plain.text, fast.text)
    finally:
        decoder.policy = adaptive
        engine.prompt_lookup = True
    assert identical >= 2
    assert drafted > 0 and accepted > 0
    assert accepted < drafted  # some drafts were rejected and rolled back, too


async def test_candidates_and_score(engine: LocalEngine) -> None:
    parts = PromptParts("def greet(name):\n    return")
    greedy = await engine.generate(_request(parts, max_tokens=5))
    result = await engine.generate(_request(parts, max_tokens=5, n_candidates=3))
    assert result.text == greedy.text
    assert len(result.candidates) == 3
    assert len({c.text for c in result.candidates}) == 3
    logprobs = [c.logprob for c in result.candidates]
    assert logprobs == sorted(logprobs, reverse=True)
    assert all(lp < 0 for lp in logprobs)

    # Skipping the greedy first token gives the next ones, labelled with their ranks.
    later = await engine.generate(_request(parts, max_tokens=5, n_candidates=2, first_rank=1))
    assert sorted(c.rank for c in later.candidates) == [1, 2]
    by_rank = {c.rank: c.text for c in result.candidates}
    assert {c.text for c in later.candidates} == {by_rank[1], by_rank[2]}
    second = await engine.generate(_request(parts, max_tokens=5, first_rank=1))
    assert [c.rank for c in second.candidates] == [1]
    assert second.text == by_rank[1]

    likely = await engine.score(parts, greedy.text)
    unlikely = await engine.score(parts, " zebra umbrella quantum")
    assert likely < 0 and unlikely < likely - 5
    assert await engine.score(parts, "") == 0.0


@pytest.mark.parametrize("kind", ["missing", "truncated", "not-gguf"])
async def test_broken_model_file_gives_clear_error(kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"{kind}.gguf"
    if kind == "truncated":
        with ensure_embedded_model().open("rb") as src:
            path.write_bytes(src.read(200_000))
    elif kind == "not-gguf":
        path.write_bytes(b"PK\x03\x04" + b"\0" * 4096)
    eng = LocalEngine(LocalEngineConfig(str(path)))
    await eng.start()
    assert eng.state == EngineState.ERROR
    assert eng.error is not None and str(path) in eng.error
    expected = {"missing": "does not exist", "truncated": "could not be loaded", "not-gguf": "GGUF"}
    assert expected[kind] in eng.error
    result = await eng.generate(_request(PromptParts("x = "), max_tokens=4))
    assert result.text == "" and result.stop_reason == "error"
    assert await eng.score(PromptParts("x = "), "1") == float("-inf")
    await eng.close()


def test_prompt_lookup_drafts_what_followed_the_last_ngram() -> None:
    lookup = PromptLookup([1, 2, 3, 4, 5, 9, 1, 2, 3], max_draft=3)
    assert lookup.draft() == [4, 5, 9]
    assert lookup.last_match == 3
    lookup.append(7)  # "2 3 7" never happened, "3 7" neither
    assert lookup.draft() == []
    assert PromptLookup([1, 2], max_draft=4).draft() == []


def test_draft_policy_stops_drafting_when_rows_cost_more_than_they_save() -> None:
    policy = DraftPolicy(max_draft=8)
    policy.record_step(1, 10.0)
    policy.record_step(3, 30.0)  # each extra row costs as much as a whole step
    for _ in range(30):
        policy.record_draft(2, 4, 1)  # mostly rejected
    assert policy.length(2, 8) in (0, 1)  # nothing, or a rare one-token probe
    cheap = DraftPolicy(max_draft=8)
    cheap.record_step(1, 10.0)
    cheap.record_step(9, 18.0)  # 1 ms per extra row
    for _ in range(30):
        cheap.record_draft(4, 8, 8)  # always right
    assert cheap.length(4, 8) == 8


async def test_token_healing_respells_the_last_token(engine: LocalEngine) -> None:
    # "return " ends on a lone space token; healing lets the first token be " a", " None"...
    parts = PromptParts("def add(a, b):\n    return ")
    healed_tokens, heal = engine.run_on_worker(lambda m, _d: engine.layout_prompt(m, parts, 8))
    plain_tokens = engine.run_on_worker(lambda m, _d: build_prompt(m, parts, 900).tokens)
    assert heal == b" "
    assert healed_tokens == plain_tokens[:-1]
    result = await engine.generate(_request(parts, max_tokens=6))
    assert result.stats.prompt_tokens == len(healed_tokens)
    assert not result.text.startswith(" ")  # the healed space is not returned again
    assert result.text.startswith("a + b")

    # Mid-word: the first token may complete the word.
    word = await engine.generate(_request(PromptParts("for i in ra"), max_tokens=3))
    assert word.text.startswith("nge(")


async def test_close_cancels_work_and_later_requests_are_empty() -> None:
    eng = LocalEngine(LocalEngineConfig(str(ensure_embedded_model()), context_size=512))
    await eng.start()
    seen = FirstTokenSeen()
    running = asyncio.create_task(
        eng.generate(_request(PromptParts(CODE), max_tokens=LONG, should_stop=seen))
    )
    await seen.wait()
    await eng.close()
    result = await asyncio.wait_for(running, 30)
    assert result.stop_reason == "cancelled"
    late = await eng.generate(_request(PromptParts(CODE), max_tokens=2))
    assert late.stop_reason == "error" and late.text == ""
    await eng.close()  # a second close is harmless


def test_line_cached_tokens_equal_whole_text_tokens(engine: LocalEngine) -> None:
    model = engine._model
    assert model is not None and model._segments.enabled
    text = Path(os.__file__).read_text(encoding="utf-8")[:30_000]
    assert model.tokenize(text) == model._tokenize_raw(text, False, False)
    assert model.count_tokens(text) == len(model._tokenize_raw(text, False, False))


def test_count_tokens_matches_the_tokenizer(engine: LocalEngine) -> None:
    model = engine.model
    assert model is not None
    for text in ("", "x", CODE, "a + " * 2000):
        assert engine.count_tokens(text) == len(model.tokenize(text))


async def test_avoid_first_steers_the_opening_word(engine: LocalEngine) -> None:
    openers = ("if", "elif", "else", "for", "while", "with", "try", "def", "class", "#", "@")
    model = engine.model
    assert model is not None and model.wait_for_piece_index(60)
    ids = model.tokens_opening_with(openers)
    assert ids is not None and ids.size
    pieces = {model.piece(int(t)) for t in ids}
    assert {b"if", b" if", b"for", b"#", b" #"} <= pieces
    assert not any(p.lstrip().startswith((b"iff", b"form", b"forc", b"import")) for p in pieces)

    # The prompt ends on the indentation (token healing re-spells it first): the ban must
    # hold for the first token with text, not only for the first token.
    parts = PromptParts("def total(lines):\n    count = 0\n    ")
    greedy = await engine.generate(_request(parts, max_tokens=12, stop=("\n",)))
    assert greedy.text.lstrip().startswith("for"), greedy.text
    steered = await engine.generate(
        _request(parts, max_tokens=12, stop=("\n",), avoid_first=openers)
    )
    first_word = steered.text.split()[0] if steered.text.split() else ""
    assert first_word and not first_word.startswith(openers), steered.text
    # Alternatives (no healing, a later first rank) keep to the same rule.
    later = await engine.generate(
        _request(
            parts,
            max_tokens=12,
            stop=("\n",),
            avoid_first=openers,
            first_rank=1,
            token_healing=False,
        )
    )
    assert later.candidates and not later.text.lstrip().startswith(openers), later.text


async def test_a_prompt_held_in_the_cache_needs_no_evaluation(engine: LocalEngine) -> None:
    # "    retu" and "    retur" both heal to the same prompt (the last token is taken off),
    # so the second keystroke's prompt is already in the KV cache with its logits kept.
    first = await engine.generate(_request(PromptParts("def f(x):\n    y = x + 1\n    retu")))
    second = await engine.generate(_request(PromptParts("def f(x):\n    y = x + 1\n    retur")))
    assert first.stats.evaluated_tokens > 0
    assert second.stats.prompt_tokens == first.stats.prompt_tokens  # the same healed prompt
    assert second.stats.evaluated_tokens == 0
    assert second.text.startswith("n")  # healed: the rest of "return"
