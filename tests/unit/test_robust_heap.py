"""heap.py: freed memory that glibc keeps inside its heap is handed back by the trimmer."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ghostls.heap import find_malloc_trim, start_heap_trimmer

pytestmark = pytest.mark.skipif(find_malloc_trim() is None, reason="no glibc malloc_trim")


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fragment_heap() -> list[bytes]:
    """~120 MB in 2 KB blocks (malloc, not pymalloc), then all but every 64th freed: the
    survivors pin the heap, so glibc cannot shrink it by itself."""
    blocks = [bytes(2048) + bytes([i % 251]) for i in range(60_000)]
    return blocks[::64]


def test_the_trimmer_hands_fragmented_free_memory_back() -> None:
    trim = find_malloc_trim()
    assert trim is not None
    trim()
    base = rss_kb()
    kept = fragment_heap()
    held = rss_kb()
    assert held - base > 60_000, "the freed blocks should still count in RSS before a trim"
    thread = start_heap_trimmer(interval=0.05)
    assert thread is not None and thread.daemon
    deadline = time.monotonic() + 10
    while rss_kb() > held - 50_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rss_kb() <= held - 50_000, (base, held, rss_kb())
    assert len(kept) == 938  # the survivors are intact


def test_no_trimmer_when_turned_off() -> None:
    assert start_heap_trimmer(interval=0) is None
