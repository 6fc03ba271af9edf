"""The request pipeline's ordering rules, with a scripted engine (one module under test).

The real-model behaviour is covered end to end in tests/e2e/test_completion_inline.py; here a
fake engine makes the timing deterministic: supersede, adoption of a running generation,
debounce, disabled/not-ready answers, the LRU.
"""

from __future__ import annotations

import asyncio
import dataclasses

from ghostls.app import GhostServer
from ghostls.completion.service import CompletionService, Suggestion
from ghostls.engine.types import (
    CancelToken,
    GenerationRequest,
    GenerationResult,
    GenerationStats,
)

URI = "file:///svc.py"
TEXT = "def f(values):\n    total = sum(values)\n    \n"
ROW, COL = 2, 4


class ScriptedEngine:
    """Streams ``answer`` one character per step; each step waits for ``tick``."""

    state = "ready"
    info = None
    error = None

    def __init__(self, answer: str, step_s: float = 0.01) -> None:
        self.answer = answer
        self.step_s = step_s
        self.calls = 0
        self.cancelled = 0
        self.requests: list[GenerationRequest] = []

    async def generate(
        self, request: GenerationRequest, cancel: CancelToken | None = None
    ) -> GenerationResult:
        self.calls += 1
        self.requests.append(request)
        text = ""
        for char in self.answer:
            await asyncio.sleep(self.step_s)
            if cancel is not None and cancel.cancelled:
                self.cancelled += 1
                return GenerationResult(text, GenerationStats(), "superseded")
            text += char
            if request.should_stop and request.should_stop(text):
                break
        return GenerationResult(text, GenerationStats(generated_tokens=len(text)), "stop")

    async def score(self, prompt: object, continuation: str) -> float:
        return 0.0

    async def close(self) -> None:
        return None


def _service(engine: ScriptedEngine, **completion: object) -> tuple[GhostServer, CompletionService]:
    server = GhostServer()
    server.services["engine"] = engine
    if completion:
        server.settings = dataclasses.replace(
            server.settings,
            completion=dataclasses.replace(server.settings.completion, **completion),  # type: ignore[arg-type]
        )
    server.documents.open(URI, TEXT, 1)
    return server, CompletionService(server)


async def _generating(service: CompletionService, start: str) -> None:
    """Wait until the running generation has produced at least ``start``."""
    for _ in range(1000):
        flight = service._inflight.get(URI)
        if flight is not None and flight.partial.startswith(start):
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the generation did not start")


async def test_a_suggestion_and_then_the_prompt_lru() -> None:
    engine = ScriptedEngine("return total / len(values)\n")
    _server, service = _service(engine)
    first = await service.suggest(URI, ROW, COL)
    assert first is not None and first.text == "return total / len(values)"
    assert first.source == "model"
    # Same place again (e.g. after an undo): typed-through answers before the LRU.
    again = await service.suggest(URI, ROW, COL)
    assert again is not None and again.source == "typed-through"
    service.typed.clear()
    third = await service.suggest(URI, ROW, COL)
    assert third is not None and third.source == "lru"
    assert engine.calls == 1


async def _type_while_generating(
    engine: ScriptedEngine, written: str, typed: str
) -> tuple[CompletionService, Suggestion | None, Suggestion | None]:
    """Start a suggestion at the blank line, wait until the model has written ``written``,
    type ``typed`` there and ask again. Returns the service and both answers."""
    server, service = _service(engine)
    old = asyncio.ensure_future(service.suggest(URI, ROW, COL))
    await _generating(service, written)
    line = "    " + typed
    server.documents.change(URI, [f"def f(values):\n    total = sum(values)\n{line}\n"], 2)
    new = await service.suggest(URI, ROW, COL + len(typed))
    return service, await old, new


async def test_a_newer_request_supersedes_and_the_old_answer_is_empty() -> None:
    engine = ScriptedEngine("return total / len(values)\n", step_s=0.02)
    # The user types something the model is not writing: the running generation stops.
    service, old, _new = await _type_while_generating(engine, "re", "x")
    assert old is None
    assert engine.cancelled == 1
    outcomes = [r["outcome"] for r in service.recent]
    assert outcomes[0] == "superseded"


async def test_typing_what_the_model_is_writing_adopts_the_running_generation() -> None:
    engine = ScriptedEngine("return total / len(values)\n", step_s=0.02)
    _, old, new = await _type_while_generating(engine, "ret", "re")
    assert old is None  # superseded: empty, never stale
    assert new is not None and new.text == "turn total / len(values)"
    assert new.source == "in-flight"
    assert engine.calls == 1 and engine.cancelled == 0


async def test_typing_ahead_of_the_running_generation_starts_afresh() -> None:
    engine = ScriptedEngine("return total / len(values)\n", step_s=0.05)
    # Three characters typed while the model has written one: it may still disagree, and
    # waiting for it costs more than a new generation (the KV cache keeps the prompt).
    # (This engine ignores prompts, so its new text will not fit; only the calls matter.)
    service, old, _new = await _type_while_generating(engine, "r", "ret")
    assert old is None
    assert engine.calls == 2 and engine.cancelled == 1
    assert not any(note.startswith("adopted") for note in service.recent[-1]["notes"])


async def test_a_blank_line_between_statements_asks_for_one_statement() -> None:
    from ghostls.completion.policy import STATEMENT_OPENERS_TO_AVOID

    engine = ScriptedEngine("if total:\n")
    server, service = _service(engine)
    server.documents.change(
        URI, ["def f(values):\n    total = sum(values)\n    \n    return 0\n"], 2
    )
    # The model's `if total:` opens a block with no body: refused, and no alternatives from
    # this scripted engine (it has no ranks) - but the request asked to avoid it up front.
    assert await service.suggest(URI, ROW, COL) is None
    request = engine.requests[0]
    assert request.avoid_first == STATEMENT_OPENERS_TO_AVOID
    assert request.stop == ("\n",)  # single-line
    assert service.recent[-1]["kind"] == "single_line:blank line between statements"
    # After the block's last statement (TEXT): the same. At an empty body: several lines,
    # and any opener is fine.
    server.documents.change(URI, [TEXT], 3)
    await service.suggest(URI, ROW, COL)
    assert engine.requests[-1].avoid_first == STATEMENT_OPENERS_TO_AVOID
    server.documents.change(URI, ["def f(values):\n    \n"], 4)
    await service.suggest(URI, 1, 4)
    assert engine.requests[-1].avoid_first == ()
    assert engine.requests[-1].stop != ("\n",)


async def test_debounce_drops_requests_overtaken_while_waiting() -> None:
    engine = ScriptedEngine("return total\n")
    _server, service = _service(engine, debounceMs=50)
    first = asyncio.ensure_future(service.suggest(URI, ROW, COL))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(service.suggest(URI, ROW, COL))
    assert await first is None
    assert (await second) is not None
    assert engine.calls == 1


async def test_disabled_or_not_ready_answers_nothing_without_the_model() -> None:
    engine = ScriptedEngine("return total\n")
    server, service = _service(engine, enable=False)
    assert await service.suggest(URI, ROW, COL) is None
    assert service.recent[-1]["outcome"] == "disabled"
    server.settings = dataclasses.replace(
        server.settings, completion=dataclasses.replace(server.settings.completion, enable=True)
    )
    engine.state = "loading"
    assert await service.suggest(URI, ROW, COL) is None
    assert service.recent[-1]["outcome"] == "not-ready"
    assert engine.calls == 0


async def test_a_suggestion_that_breaks_the_parse_is_not_shown() -> None:
    engine = ScriptedEngine("return (total +\n")
    _, service = _service(engine)
    assert await service.suggest(URI, ROW, COL) is None
    assert "syntax-rejected" in service.recent[-1]["notes"]


class BudgetEngine(ScriptedEngine):
    """Runs out of time after ``per_call`` characters, continuing from the prompt's end."""

    def __init__(self, answer: str, per_call: int) -> None:
        super().__init__(answer, step_s=0.0)
        self.per_call = per_call
        self.prefixes: list[str] = []

    async def generate(
        self, request: GenerationRequest, cancel: CancelToken | None = None
    ) -> GenerationResult:
        self.calls += 1
        self.prefixes.append(request.prompt.prefix)
        done = len(request.prompt.prefix) - len(self.prefixes[0])
        chunk = self.answer[done : done + self.per_call]
        finished = done + self.per_call >= len(self.answer)
        return GenerationResult(chunk, GenerationStats(), "stop" if finished else "budget")


async def test_a_generation_cut_by_the_time_budget_is_resumed_not_restarted() -> None:
    engine = BudgetEngine("return total / len(values)\n", per_call=10)
    _, service = _service(engine)
    first = await service.suggest(URI, ROW, COL)
    assert first is not None and first.text == "return tot"  # what there was time for
    service.typed.clear()
    second = await service.suggest(URI, ROW, COL)
    assert second is None  # "return total / len(v" does not parse: not shown
    third = await service.suggest(URI, ROW, COL)
    assert third is not None and third.text == "return total / len(values)"
    assert engine.prefixes[1].endswith("return tot")
    assert engine.prefixes[2].endswith("return total / len(v")
    assert service.totals["resumed"] == 2


class BrokenEngine(ScriptedEngine):
    async def generate(
        self, request: GenerationRequest, cancel: CancelToken | None = None
    ) -> GenerationResult:
        raise RuntimeError("boom")


async def test_a_failure_inside_the_pipeline_is_an_empty_answer_not_an_error() -> None:
    _, service = _service(BrokenEngine(""))
    assert await service.suggest(URI, ROW, COL) is None
    assert service.recent[-1]["outcome"] == "error"


def test_a_budget_cut_multi_line_suggestion_loses_its_partial_last_line() -> None:
    from ghostls.completion.postprocess import FitContext, Fitted
    from ghostls.completion.service import _Answer, _ends_mid_line

    multi = FitContext(line_before="    ", multiline=True, block_indent=4)
    cut = Fitted("a = 1\n    b = TK.", False)
    assert _ends_mid_line(_Answer(cut.text, "length"), cut, multi)
    assert _ends_mid_line(_Answer(cut.text, "budget"), cut, multi)
    assert not _ends_mid_line(_Answer(cut.text, "stop"), cut, multi)
    at_block_end = Fitted("a = 1\n    b = 2", False, ("block-end",))
    assert not _ends_mid_line(_Answer(at_block_end.text, "length"), at_block_end, multi)
    single = FitContext(line_before="    ")
    one = Fitted("a = TK.", False)
    assert not _ends_mid_line(_Answer(one.text, "length"), one, single)


class LengthCutEngine(ScriptedEngine):
    """Answers at once, as a generation that ran into its token cap."""

    async def generate(
        self, request: GenerationRequest, cancel: CancelToken | None = None
    ) -> GenerationResult:
        self.calls += 1
        self.requests.append(request)
        return GenerationResult(self.answer, GenerationStats(), "length")


async def test_the_guard_checks_the_suggestion_without_its_cut_partial_line() -> None:
    # An empty body (multi-line) whose generation hit the cap mid-word: "retur" parses as a
    # name, so only the partial-line rule removes it - the guard must see the cut text.
    engine = LengthCutEngine("total = sum(values)\n    retur")
    server, service = _service(engine)
    server.documents.change(URI, ["def f(values):\n    \n"], 2)
    shown = await service.suggest(URI, 1, 4)
    assert shown is not None and shown.text == "total = sum(values)"
    assert "cut-partial-line" in service.recent[-1]["notes"]
