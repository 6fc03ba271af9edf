"""Load, lighter than `python -m ghostls.bench load`: every request answered, texts exact.

Completion requests with $/cancelRequest for every other one, and a flood of random edits, go
to the real server (embedded model) as fast as the pipe allows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ghostls.bench.load import WireClient, run_completions, run_edits


@pytest.fixture(scope="module")
def client() -> Iterator[WireClient]:
    client = WireClient()
    client.initialize({"completion": {"maxTokens": 4}})
    client.wait_ready()
    yield client
    assert "result" in client.request("ghostls/stats", {})
    client.close()


def test_completions_with_cancellations_are_all_answered(client: WireClient) -> None:
    result = run_completions(client, 200)
    print(f"\ncompletions: {result}")
    assert result["all_answered"]
    assert result["unanswered"] == 0
    # Cancelled or superseded requests answer with RequestCancelled or an empty list; nothing
    # may fail inside the server.
    assert set(result["errors_by_code"]) <= {"-32800"}, result["errors_by_code"]


def test_edit_flood_keeps_the_text_exact_and_memory_flat(client: WireClient) -> None:
    result = run_edits(client, 3000)
    print(f"\nedits: {result}")
    assert result["final_text_exact"]
    assert result["text_mismatches"] == 0
    # A gross-leak detector, not the target (the benchmark reports the figure). Diagnostics
    # tasks holding their snapshots once made this +17 MB; after that fix, +8 to +11 MB was
    # measured over the 2,400 edits after warm-up (about 3 KB an edit, with diagnostics on or
    # off; the cause is not found yet), so a tighter bound was flaky.
    assert result["rss_growth_after_warmup_kb"] < 25_000
