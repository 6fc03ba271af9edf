"""Inline completions end to end: the real server over stdio with the real embedded model."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from ghostls.completion.syntax_check import count_errors
from ghostls.documents import DocumentStore
from tests.lsp_helpers import capabilities, change_document, lsp_client, open_document

pytestmark = pytest.mark.model

# A generous time budget: these tests check what is suggested, not how fast (the latency
# benchmark does that), and a loaded CI machine must not turn a suggestion into none.
SETTINGS = {"completion": {"timeBudgetMs": 30000}}

BODY = (
    "def average(values):\n"
    '    """Return the arithmetic mean of a list of numbers."""\n'
    "    total = sum(values)\n"
    "    \n"
)
EMPTY_BODY = (
    "def fibonacci(n):\n"
    '    """Return the n-th Fibonacci number, computed iteratively."""\n'
    "    \n"
    "\n"
    "\n"
    "print(fibonacci(10))\n"
)


def _plain(value: Any) -> Any:
    """Custom-method results arrive as pygls objects: turn them into dicts and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_asdict"):
        return [_plain(v) for v in value]
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    return value


async def stats(client: LanguageClient) -> dict[str, Any]:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="ghostls.stats", arguments=[])
    )
    return dict(_plain(result))


async def wait_ready(client: LanguageClient) -> None:
    state = ""
    for _ in range(600):
        state = (await stats(client)).get("engine", {}).get("state", "")
        if state in ("ready", "error"):
            break
        await asyncio.sleep(0.1)
    assert state == "ready", f"engine did not become ready: {state}"


async def inline(client: LanguageClient, uri: str, line: int, character: int) -> list[Any]:
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    )
    assert isinstance(result, types.InlineCompletionList)
    return list(result.items)


def _insert(text: str, item: types.InlineCompletionItem) -> str:
    lines = text.split("\n")
    assert item.range is not None, "an item without a range makes VS Code replace a word"
    start, end = item.range.start, item.range.end
    assert start.line == end.line
    line = lines[start.line]
    insert = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
    lines[start.line] = line[: start.character] + insert + line[end.character :]
    return "\n".join(lines)


def _errors(text: str) -> int:
    return count_errors(DocumentStore().open("file:///x.py", text, 1).tree.root_node)


async def test_inline_completion_in_a_function_body_parses_when_inserted() -> None:
    async with lsp_client(init_options=SETTINGS) as client:
        uri = open_document(client, "/tmp/ghostls_inline_body.py", BODY)
        await wait_ready(client)
        items = await inline(client, uri, 3, 4)
        assert len(items) == 1
        item = items[0]
        assert item.range is not None
        assert (item.range.start.line, item.range.start.character) == (3, 4)
        assert isinstance(item.insert_text, str) and item.insert_text.strip()
        assert item.command is not None and item.command.command == "ghostls.didAccept"
        assert _errors(_insert(BODY, item)) == 0
        # Taking it is counted locally through the item's command.
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command=item.command.command, arguments=list(item.command.arguments or [])
            )
        )
        assert (await stats(client))["accepted"] == 1


async def test_no_suggestion_inside_a_comment() -> None:
    text = "def f(x):\n    # the value we compute here is \n    return x\n"
    async with lsp_client(init_options=SETTINGS) as client:
        uri = open_document(client, "/tmp/ghostls_inline_comment.py", text)
        await wait_ready(client)
        items = await inline(client, uri, 1, len("    # the value we compute here is "))
        assert items == []
        last = (await stats(client))["completion"]["recent"][-1]
        assert last["outcome"] == "kind-none"  # not "not-ready": the model was there
        assert last["engine"] == {}  # the model was not asked


async def test_multi_line_suggestion_for_an_empty_body() -> None:
    async with lsp_client(init_options=SETTINGS) as client:
        uri = open_document(client, "/tmp/ghostls_inline_multi.py", EMPTY_BODY)
        await wait_ready(client)
        items = await inline(client, uri, 2, 4)
        assert len(items) == 1
        insert = items[0].insert_text
        assert isinstance(insert, str)
        assert "\n" in insert.strip(), f"expected several lines, got {insert!r}"
        assert _errors(_insert(EMPTY_BODY, items[0])) == 0
        # It stopped at the end of the body: nothing at the module's indentation leaked in.
        for line in insert.split("\n")[1:]:
            assert not line.strip() or line.startswith("    ")


async def test_completion_fallback_for_clients_without_ghost_text() -> None:
    # Neovim 0.11's built-in client: completion, no inline completion.
    async with lsp_client(init_options=SETTINGS, caps=capabilities("neovim")) as client:
        uri = open_document(client, "/tmp/ghostls_fallback.py", BODY)
        await wait_ready(client)
        result = await client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=3, character=4),
            )
        )
        assert isinstance(result, types.CompletionList)
        assert result.is_incomplete is True
        assert len(result.items) == 1
        item = result.items[0]
        assert item.sort_text == "0000"
        assert isinstance(item.text_edit, types.TextEdit)
        assert item.text_edit.range.start == types.Position(line=3, character=4)
        assert item.label and item.label in item.text_edit.new_text.replace("\n", " ") + " …"
        assert isinstance(item.documentation, types.MarkupContent)
        assert item.text_edit.new_text in item.documentation.value


async def test_typing_through_a_suggestion_is_served_from_the_cache() -> None:
    async with lsp_client(init_options=SETTINGS) as client:
        uri = open_document(client, "/tmp/ghostls_typed.py", BODY)
        await wait_ready(client)
        items = await inline(client, uri, 3, 4)
        assert items
        first = items[0].insert_text
        assert isinstance(first, str) and len(first) >= 3
        before = await stats(client)
        typed = first[:2]
        change_document(client, uri, 2, (3, 4), (3, 4), typed)
        items = await inline(client, uri, 3, 4 + len(typed))
        assert items and items[0].insert_text == first[2:]
        assert items[0].range is not None and items[0].range.start.character == 4 + len(typed)
        after = await stats(client)
        done = after["completion"]["totals"]
        assert done["generations"] == before["completion"]["totals"]["generations"]
        assert after["completion"]["recent"][-1]["source"] == "typed-through"
        assert after["completions_from_cache"] == before["completions_from_cache"] + 1


async def test_a_superseded_request_is_answered_empty() -> None:
    async with lsp_client(init_options=SETTINGS) as client:
        uri = open_document(client, "/tmp/ghostls_superseded.py", EMPTY_BODY)
        await wait_ready(client)
        first = asyncio.ensure_future(inline(client, uri, 2, 4))
        for _ in range(600):  # until the model is working on the first request
            if (await stats(client))["completion"]["in_flight"]:
                break
            await asyncio.sleep(0.05)
        change_document(client, uri, 2, (2, 4), (2, 4), "a")
        second = asyncio.ensure_future(inline(client, uri, 2, 5))
        old, new = await asyncio.gather(first, second)
        recent = (await stats(client))["completion"]["recent"]
        outcomes = {r["version"]: (r["outcome"], r["notes"]) for r in recent}
        assert old == [], outcomes
        assert outcomes[1][0] in ("superseded", "stale"), outcomes
        assert outcomes[2][0] != "superseded", outcomes
        assert isinstance(new, list)


# The greedy line here is a block opener with no body (`if message:`), which CPython refuses.
REFUSED_GREEDY = (
    "import os\n"
    "\n"
    "\n"
    "def read_config(path):\n"
    "    if not os.path.exists(path):\n"
    "        return {}\n"
    "    with open(path) as handle:\n"
    "        text = handle.read()\n"
    "    \n"
    "    return parse(text)\n"
    "\n"
    "\n"
    "def describe(error):\n"
    "    message = str(error)\n"
    "    \n"
    "    return message\n"
)
REFUSED_AT = (14, 4)
SINGLE_LINE = {"completion": {"timeBudgetMs": 30000, "multiline": "never"}}


async def test_a_refused_greedy_line_gives_way_to_the_next_likeliest_one() -> None:
    import ast

    # Steering the first word away from block openers would avoid `if message:` up front.
    steering_off = {"GHOSTLS_COMPLETION_DISABLE": "statement_start"}
    async with lsp_client(init_options=SINGLE_LINE, env=steering_off) as client:
        uri = open_document(client, "/tmp/ghostls_inline_alternative/a.py", REFUSED_GREEDY)
        await wait_ready(client)
        items = await inline(client, uri, *REFUSED_AT)
        assert len(items) == 1, (await stats(client))["completion"]["recent"][-1]
        ast.parse(_insert(REFUSED_GREEDY, items[0]))  # CPython accepts the file with it
        record = (await stats(client))["completion"]["recent"][-1]
        assert any(note.startswith("alternative:") for note in record["notes"]), record
        assert not record["raw"].startswith(record["text"]), "the shown line is not the greedy"
    env = {"GHOSTLS_COMPLETION_DISABLE": "alternatives,statement_start"}
    async with lsp_client(init_options=SINGLE_LINE, env=env) as client:
        uri = open_document(client, "/tmp/ghostls_inline_alternative/a.py", REFUSED_GREEDY)
        await wait_ready(client)
        assert await inline(client, uri, *REFUSED_AT) == []


async def test_a_blank_line_between_statements_gets_one_simple_statement() -> None:
    import ast

    from ghostls.completion.policy import STATEMENT_OPENERS_TO_AVOID

    async with lsp_client(init_options=SETTINGS) as client:  # multiline "auto"
        uri = open_document(client, "/tmp/ghostls_inline_gap/a.py", REFUSED_GREEDY)
        await wait_ready(client)
        items = await inline(client, uri, *REFUSED_AT)
        record = (await stats(client))["completion"]["recent"][-1]
        assert len(items) == 1, record
        text = items[0].insert_text
        assert isinstance(text, str) and "\n" not in text.strip()
        assert not text.lstrip().startswith(STATEMENT_OPENERS_TO_AVOID), text
        ast.parse(_insert(REFUSED_GREEDY, items[0]))
        assert record["kind"] == "single_line:blank line between statements", record
        # The greedy choice under the steering was shown: no refusal, no second generation.
        assert not any(note.startswith("alternative:") for note in record["notes"]), record
        assert record["engine"].get("generations", 1) == 1, record


# Below the blank line, `saved_main` is read but nothing binds it: the line should define it.
NEEDS_A_DEFINITION = (
    "import sys\n"
    "\n"
    "\n"
    "def run_main(main_name, code):\n"
    "    \n"
    "    try:\n"
    "        exec(code, sys.modules[main_name].__dict__)\n"
    "    finally:\n"
    "        sys.modules[main_name] = saved_main\n"
)


async def test_a_blank_line_above_code_reading_an_unbound_name_defines_it() -> None:
    import ast

    async with lsp_client(init_options=SINGLE_LINE) as client:
        uri = open_document(client, "/tmp/ghostls_inline_defines/b.py", NEEDS_A_DEFINITION)
        await wait_ready(client)
        items = await inline(client, uri, 4, 4)
        assert len(items) == 1
        assert isinstance(items[0].insert_text, str)
        assert items[0].insert_text.startswith("saved_main =")
        ast.parse(_insert(NEEDS_A_DEFINITION, items[0]))
        record = (await stats(client))["completion"]["recent"][-1]
        assert "defines:saved_main =" in record["notes"], record
