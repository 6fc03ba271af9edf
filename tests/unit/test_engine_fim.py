"""The FIM prompt path with a real (tiny, random-weight) GGUF that has FIM tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ghostls.engine.inspect_model import describe_model
from ghostls.engine.llama_model import LlamaModel
from ghostls.engine.local import LocalEngine, LocalEngineConfig
from ghostls.engine.prompt import PREFIX_CUT_STEP, build_prompt, render_chunk
from ghostls.engine.types import ContextChunk, EngineState, GenerationRequest, PromptParts
from tests.fixtures import tiny_fim_model as tiny

PREFIX = "def add(a, b):\n    return"
SUFFIX = "\n\nprint(add(1, 2))\n"
CHUNKS = (
    ContextChunk("zeta.py", "def z():\n    pass"),
    ContextChunk("alpha.py", "ALPHA = 1\n"),
)


@pytest.fixture(scope="module")
def psm_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.build_tiny_fim_model(tmp_path_factory.mktemp("fim") / "psm.gguf")


@pytest.fixture(scope="module")
def repo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fim") / "repo.gguf"
    return tiny.build_tiny_fim_model(path, repo_level=True)


@pytest.fixture(scope="module")
def psm(psm_path: Path) -> Iterator[LlamaModel]:
    model = LlamaModel(str(psm_path), n_ctx=512, n_threads=1)
    yield model
    model.close()


@pytest.fixture(scope="module")
def repo(repo_path: Path) -> Iterator[LlamaModel]:
    model = LlamaModel(str(repo_path), n_ctx=512, n_threads=1)
    yield model
    model.close()


def tok(model: LlamaModel, text: str) -> list[int]:
    return model.tokenize(text)


def test_llama_cpp_reports_the_fim_tokens(psm: LlamaModel, repo: LlamaModel) -> None:
    assert (psm.fim.pre, psm.fim.suf, psm.fim.mid, psm.fim.pad) == (
        tiny.FIM_PRE,
        tiny.FIM_SUF,
        tiny.FIM_MID,
        tiny.FIM_PAD,
    )
    assert psm.fim.sep == -1 and psm.fim.rep == -1
    assert (repo.fim.sep, repo.fim.rep) == (tiny.FILE_SEP, tiny.REPO_NAME)
    assert psm.token_text(tiny.FIM_PRE) == "<|fim_prefix|>"


def test_psm_layout(psm: LlamaModel) -> None:
    built = build_prompt(psm, PromptParts(PREFIX, SUFFIX, CHUNKS, "calc.py"), 400)
    assert built.layout == "psm" and built.fim and not built.truncated
    # Chunks in a stable order (by path), rendered as comment sections inside the prefix.
    chunk_text = render_chunk(CHUNKS[1]) + render_chunk(CHUNKS[0])
    assert chunk_text.startswith("# file: alpha.py\nALPHA = 1\n\n# file: zeta.py\n")
    expected = [
        tiny.BOS,
        tiny.FIM_PRE,
        *tok(psm, chunk_text),
        *tok(psm, PREFIX),
        tiny.FIM_SUF,
        *tok(psm, SUFFIX),
        tiny.FIM_MID,
    ]
    assert built.tokens == expected
    # Exactly one of each FIM control token, in P-S-M order, and the middle comes last.
    for special in (tiny.FIM_PRE, tiny.FIM_SUF, tiny.FIM_MID):
        assert built.tokens.count(special) == 1
    assert (
        built.tokens.index(tiny.FIM_PRE)
        < built.tokens.index(tiny.FIM_SUF)
        < built.tokens.index(tiny.FIM_MID)
        == len(built.tokens) - 1
    )


def test_chunk_order_does_not_change_the_prompt(psm: LlamaModel) -> None:
    a = build_prompt(psm, PromptParts(PREFIX, SUFFIX, CHUNKS, "calc.py"), 400)
    b = build_prompt(psm, PromptParts(PREFIX, SUFFIX, CHUNKS[::-1], "calc.py"), 400)
    assert a.tokens == b.tokens


def test_repo_level_layout(repo: LlamaModel) -> None:
    built = build_prompt(repo, PromptParts(PREFIX, SUFFIX, CHUNKS, "pkg/calc.py"), 400)
    assert built.layout == "repo"
    expected = [
        tiny.BOS,
        tiny.REPO_NAME,
        *tok(repo, "workspace\n"),
        tiny.FILE_SEP,
        *tok(repo, "alpha.py\nALPHA = 1\n"),
        tiny.FILE_SEP,
        *tok(repo, "zeta.py\ndef z():\n    pass\n"),
        tiny.FILE_SEP,
        *tok(repo, "pkg/calc.py\n"),
        tiny.FIM_PRE,
        *tok(repo, PREFIX),
        tiny.FIM_SUF,
        *tok(repo, SUFFIX),
        tiny.FIM_MID,
    ]
    assert built.tokens == expected


def test_control_token_text_in_the_buffer_stays_text(psm: LlamaModel) -> None:
    sneaky = "s = '<|fim_middle|>'\n"
    built = build_prompt(psm, PromptParts(sneaky, ""), 400)
    assert built.tokens.count(tiny.FIM_MID) == 1  # only the one the layout adds
    assert psm.detokenize(built.tokens) == sneaky


def test_over_budget_prefix_is_cut_at_line_boundaries(psm: LlamaModel) -> None:
    lines = [f"value_{i} = {i}\n" for i in range(200)]
    prefix = "".join(lines)
    built = build_prompt(psm, PromptParts(prefix, SUFFIX, CHUNKS, "calc.py"), 300)
    assert built.truncated
    assert len(built.tokens) <= 300
    mid = built.tokens.index(tiny.FIM_SUF)
    kept = psm.detokenize(built.tokens[:mid])
    assert "# file:" not in kept  # chunks go first when the budget is short
    start = built.tokens.index(tiny.FIM_PRE) + 1
    kept_prefix = psm.detokenize(built.tokens[start:mid])
    assert prefix.endswith(kept_prefix)
    dropped = prefix[: len(prefix) - len(kept_prefix)]
    assert dropped.endswith("\n")  # a whole number of lines went
    assert dropped.count("\n") % PREFIX_CUT_STEP == 0  # in steps, so the start stays put
    # The suffix survives whole when it is small.
    assert psm.detokenize(built.tokens[mid + 1 : -1]) == SUFFIX


def test_describe_model_reads_fim_support(psm_path: Path) -> None:
    info = describe_model(str(psm_path))
    assert info["arch"] == "llama"
    assert info["vocab"] == str(len(tiny._vocabulary(False)[0]))
    assert info["fim"].startswith("yes") and "<|fim_prefix|>" in info["fim"]
    assert info["prompt"] == "FIM (PSM)"


async def test_local_engine_uses_fim_and_stops_at_control_tokens(psm_path: Path) -> None:
    engine = LocalEngine(LocalEngineConfig(str(psm_path), context_size=512, threads=1))
    await engine.start()
    try:
        assert engine.state == EngineState.READY, engine.error
        assert engine.info is not None and engine.info.supports_fim
        assert engine.layout == "psm"
        result = await engine.generate(
            GenerationRequest(PromptParts(PREFIX, SUFFIX), max_tokens=12, time_budget_ms=60000)
        )
        assert result.stop_reason in ("length", "stop")
        stats = result.stats
        assert stats.prompt_tokens == stats.reused_tokens + stats.evaluated_tokens
        prompt, cached = engine.run_on_worker(
            lambda model, decoder: (
                build_prompt(model, PromptParts(PREFIX, SUFFIX), 400).tokens,
                list(decoder.evaluated),
            )
        )
        assert stats.prompt_tokens == len(prompt)
        assert cached[: len(prompt)] == prompt
        # A FIM control token ends generation; none is ever fed back as generated text.
        controls = {tiny.FIM_PRE, tiny.FIM_SUF, tiny.FIM_MID, tiny.FIM_PAD}
        assert not controls & set(cached[len(prompt) :])
    finally:
        await engine.close()


def test_one_line_longer_than_the_budget_keeps_its_end(psm: LlamaModel) -> None:
    prefix = "x = " + "a + " * 50_000 + "b"  # 200 KB on the cursor's line
    built = build_prompt(psm, PromptParts(prefix, SUFFIX), 200)
    assert built.truncated and len(built.tokens) <= 200
    start, end = built.tokens.index(tiny.FIM_PRE) + 1, built.tokens.index(tiny.FIM_SUF)
    kept = psm.detokenize(built.tokens[start:end])
    assert prefix.endswith(kept)
    assert len(built.tokens) >= 150  # the budget is used, not thrown away
