"""Hand freed heap memory back to the operating system now and then (glibc only).

Under a flood of edits with the model loaded the server's RSS grew ~6 KB per edit while the
Python heap (tracemalloc) did not grow at all: glibc keeps the pages of freed blocks inside
its arenas (one per thread that allocates: the event loop, executor threads, llama.cpp's)
and only gives back the top of a heap by itself. ``malloc_trim(0)`` releases every free page;
measured once by hand, it took the server from 733 MB back to 681 MB, under its RSS after
warm-up. A daemon thread calls it every TRIM_INTERVAL_SECONDS.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

TRIM_INTERVAL_SECONDS = 10.0


def find_malloc_trim() -> Callable[[], int] | None:
    """glibc's ``malloc_trim(0)``, or None where there is no such call (macOS, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # The running process' own symbols (libc among them). Not ctypes.util.find_library:
        # that spawns /sbin/ldconfig, and the server starts no processes.
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def trim_all() -> int:
        return int(trim(0))

    return trim_all


def start_heap_trimmer(interval: float = TRIM_INTERVAL_SECONDS) -> threading.Thread | None:
    """Trim the heap every ``interval`` seconds on a daemon thread; None if unsupported."""
    trim = find_malloc_trim()
    if trim is None or interval <= 0:
        return None

    def run() -> None:
        while True:
            time.sleep(interval)
            started = time.perf_counter()
            try:
                trim()
            except Exception:  # never let housekeeping take the server down
                log.exception("malloc_trim failed; heap trimming stops")
                return
            log.debug("heap trimmed in %.1f ms", (time.perf_counter() - started) * 1000)

    thread = threading.Thread(target=run, name="ghostls-heap-trim", daemon=True)
    thread.start()
    return thread
