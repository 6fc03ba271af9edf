"""A thin, synchronous wrapper over llama.cpp's low-level C API (the only llama_cpp importer).

We do not use ``llama_cpp.Llama``: with ``verbose=False`` it redirects the whole process's
stdout/stderr file descriptors to /dev/null while loading, which in a stdio language server
swallows protocol messages sent meanwhile from the event loop thread. Instead llama.cpp's own
logging is routed into Python logging through ``llama_log_set``.

Not thread-safe: one worker thread owns a ``LlamaModel`` for its whole life.
"""

from __future__ import annotations

import bisect
import ctypes
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import llama_cpp
import numpy as np
import numpy.typing as npt

from ghostls.engine.token_cache import SegmentTokenizer

# Outside the "ghostls" hierarchy on purpose: these records come from the worker thread, and
# ghostls loggers forward to the client, which must only happen on the event loop.
log = logging.getLogger("llama_cpp.native")

# ggml_log_level (NONE, DEBUG, INFO, WARN, ERROR, CONT = continue the previous line) ->
# Python levels: loading chatter to DEBUG, its warnings (mostly vocabulary quirks) to INFO.
_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.DEBUG, 3: logging.INFO, 4: logging.ERROR}
_log_state = {"level": logging.DEBUG}
_backend_lock = threading.Lock()
_backend_ready = False


@llama_cpp.llama_log_callback
def _log_callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    py_level = _log_state["level"] if level == 5 else _LEVELS.get(level, logging.DEBUG)
    _log_state["level"] = py_level
    try:
        message = text.decode("utf-8", errors="replace").rstrip("\n")
    except Exception:  # never let a log line raise into C
        return
    if message and log.isEnabledFor(py_level):
        log.log(py_level, "%s", message)


def install_log_callback() -> None:
    """Route llama.cpp/ggml logging into Python logging (never to stdout/stderr)."""
    llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


def _ensure_backend() -> None:
    global _backend_ready
    with _backend_lock:
        install_log_callback()
        if not _backend_ready:
            llama_cpp.llama_backend_init()
            _backend_ready = True


def default_threads() -> int:
    """Half the logical CPUs (about the physical cores), at most 8.

    ggml's worker threads spin while waiting for each other; with more threads than free
    cores (an editor, a build and this server on one laptop) decoding slows down by 5-10x,
    measured here on 2 shared cores, while one thread fewer costs little when the CPU is idle.
    """
    return max(1, min(8, (os.cpu_count() or 2) // 2))


class ModelLoadError(RuntimeError):
    pass


class DecodeError(RuntimeError):
    pass


@dataclass(frozen=True)
class FimTokens:
    """FIM token ids from the vocabulary; -1 when the model lacks one."""

    pre: int = -1
    suf: int = -1
    mid: int = -1
    pad: int = -1
    rep: int = -1
    sep: int = -1

    @property
    def supported(self) -> bool:
        return self.pre >= 0 and self.suf >= 0 and self.mid >= 0


class LlamaModel:
    """A loaded model plus one context (sequence 0) and a reusable batch."""

    def __init__(
        self,
        path: str,
        *,
        n_ctx: int = 4096,
        n_threads: int = 0,
        n_gpu_layers: int = 0,
        n_batch: int = 512,
        flash_attn: bool = False,
    ) -> None:
        _ensure_backend()
        self.path = path
        mparams = llama_cpp.llama_model_default_params()
        mparams.n_gpu_layers = 999 if n_gpu_layers < 0 else n_gpu_layers
        # Read the weights instead of mapping them: a model file truncated or rewritten in
        # place while mapped kills the process with SIGBUS (issue 10); same RSS once loaded.
        mparams.load_mode = llama_cpp.LLAMA_LOAD_MODE_NONE
        mparams.lazy_mode = llama_cpp.LLAMA_LAZY_MODE_OFF
        model = llama_cpp.llama_model_load_from_file(path.encode("utf-8"), mparams)
        if not model:
            raise ModelLoadError(f"llama.cpp could not load the model file '{path}'")
        self._model: Any = model
        self._ctx: Any = None
        self._batch: Any = None
        try:
            self._vocab = llama_cpp.llama_model_get_vocab(model)
            self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
            self._segments = SegmentTokenizer(self._tokenize_text)
            self.n_ctx_train = int(llama_cpp.llama_model_n_ctx_train(model))
            threads = n_threads if n_threads > 0 else default_threads()
            cparams = llama_cpp.llama_context_default_params()
            cparams.n_ctx = min(n_ctx, self.n_ctx_train) if self.n_ctx_train > 0 else n_ctx
            cparams.n_batch = n_batch
            cparams.n_ubatch = n_batch
            cparams.n_seq_max = 1
            cparams.n_threads = threads
            cparams.n_threads_batch = threads
            cparams.no_perf = True
            # A full-size sliding-window cache lets us remove any tail of the sequence (prefix
            # reuse, rolling back rejected draft tokens) on SWA models such as Gemma 3.
            cparams.swa_full = True
            # Flash attention off: on the CPU its batched kernel rounds differently from the
            # one-token path (logit gaps of ~1 measured here), which breaks the equality of
            # prompt-lookup and plain greedy output on near-ties, and it was not faster.
            cparams.flash_attn_type = 1 if flash_attn else 0
            ctx = llama_cpp.llama_init_from_model(model, cparams)
            if not ctx:
                raise ModelLoadError(f"llama.cpp could not create a context for '{path}'")
            self._ctx = ctx
            self.n_ctx = int(llama_cpp.llama_n_ctx(ctx))
            self.n_batch = n_batch
            self._memory = llama_cpp.llama_get_memory(ctx)
            self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        except BaseException:
            self.close()
            raise
        v = self._vocab
        self.fim = FimTokens(
            pre=int(llama_cpp.llama_vocab_fim_pre(v)),
            suf=int(llama_cpp.llama_vocab_fim_suf(v)),
            mid=int(llama_cpp.llama_vocab_fim_mid(v)),
            pad=int(llama_cpp.llama_vocab_fim_pad(v)),
            rep=int(llama_cpp.llama_vocab_fim_rep(v)),
            sep=int(llama_cpp.llama_vocab_fim_sep(v)),
        )
        self.bos = int(llama_cpp.llama_vocab_bos(v))
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(v)) and self.bos >= 0
        self._piece_cache: dict[int, bytes] = {}
        self._piece_index: tuple[list[bytes], npt.NDArray[np.int64]] | None = None
        self._prefix_cache: dict[bytes, npt.NDArray[np.int64]] = {}
        self._opening_cache: dict[tuple[str, ...], npt.NDArray[np.int64]] = {}
        self._index_thread: threading.Thread | None = None
        self._closing = False

    @property
    def fim_ids(self) -> tuple[int, int, int, int, int]:
        return (self.fim.pre, self.fim.suf, self.fim.mid, self.fim.rep, self.fim.sep)

    # -- metadata ---------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        buf = ctypes.create_string_buffer(512)
        n = llama_cpp.llama_model_meta_val_str(self._model, key.encode("utf-8"), buf, len(buf))
        if n < 0:
            return None
        return buf.value.decode("utf-8", errors="replace")

    def description(self) -> str:
        buf = ctypes.create_string_buffer(256)
        llama_cpp.llama_model_desc(self._model, buf, len(buf))
        return buf.value.decode("utf-8", errors="replace")

    # -- tokens -----------------------------------------------------------------------------

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = False) -> list[int]:
        """Token ids of ``text``; user text is tokenized with ``special=False`` so that a
        literal "<|fim_prefix|>" in a buffer stays text. Plain text goes through the
        per-line cache (see token_cache)."""
        if not add_bos and not special:
            return self._segments.tokenize(text)
        return self._tokenize_raw(text, add_bos, special)

    def _tokenize_text(self, text: str) -> list[int]:
        return self._tokenize_raw(text, False, False)

    def _tokenize_raw(self, text: str, add_bos: bool, special: bool) -> list[int]:
        data = text.encode("utf-8")
        if not data and not add_bos:
            return []
        cap = len(data) + 8
        buf = (llama_cpp.llama_token * cap)()
        n = llama_cpp.llama_tokenize(self._vocab, data, len(data), buf, cap, add_bos, special)
        if n < 0:
            cap = -n
            buf = (llama_cpp.llama_token * cap)()
            n = llama_cpp.llama_tokenize(self._vocab, data, len(data), buf, cap, add_bos, special)
        return list(buf[:n])

    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` is, without building the token list (llama.cpp returns
        minus the count when the output buffer is too small)."""
        if self._segments.enabled:
            return self._segments.count(text)
        data = text.encode("utf-8")
        if not data:
            return 0
        buf = (llama_cpp.llama_token * 1)()
        n = llama_cpp.llama_tokenize(self._vocab, data, len(data), buf, 0, False, False)
        return -n if n < 0 else n

    def piece(self, token: int) -> bytes:
        """The bytes a token stands for (control tokens render as nothing)."""
        cached = self._piece_cache.get(token)
        if cached is not None:
            return cached
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        out = buf.raw[:n]
        self._piece_cache[token] = out
        return out

    def start_piece_index(self) -> None:
        """Build the sorted piece index (for token healing) on a helper thread: 262k tokens
        take a second or more, which should not delay loading. Until it is ready,
        ``tokens_with_prefix`` returns None."""
        if self._index_thread is None:
            self._index_thread = threading.Thread(
                target=self._build_piece_index, name="ghostls-vocab-index", daemon=True
            )
            self._index_thread.start()

    def wait_for_piece_index(self, timeout: float | None = None) -> bool:
        if self._index_thread is not None:
            self._index_thread.join(timeout)
        return self._piece_index is not None

    def _build_piece_index(self) -> None:
        # Only reads the vocabulary (as llama.cpp's server does from its HTTP threads).
        buf = ctypes.create_string_buffer(256)
        size = len(buf)
        to_piece = llama_cpp.llama_token_to_piece
        vocab = self._vocab
        pairs: list[tuple[bytes, int]] = []
        for t in range(self.n_vocab):
            if t % 8192 == 0 and self._closing:
                return
            n = to_piece(vocab, t, buf, size, 0, False)
            if n > 0:  # control tokens render as nothing with special=False
                pairs.append((buf.raw[:n], t))
        pairs.sort()
        ids = np.fromiter((t for _, t in pairs), dtype=np.int64, count=len(pairs))
        self._piece_index = ([p for p, _ in pairs], ids)

    def tokens_with_prefix(self, prefix: bytes) -> npt.NDArray[np.int64] | None:
        """Ids of the text tokens whose bytes start with ``prefix``; None while the index is
        still being built."""
        cached = self._prefix_cache.get(prefix)
        if cached is not None:
            return cached
        index = self._piece_index
        if index is None:
            return None
        pieces, ids = index
        lo = bisect.bisect_left(pieces, prefix)
        # The first byte string after every string that starts with prefix.
        stem = prefix.rstrip(b"\xff")
        hi = (
            bisect.bisect_left(pieces, stem[:-1] + bytes([stem[-1] + 1]), lo)
            if stem
            else len(pieces)
        )
        found = ids[lo:hi]
        if len(self._prefix_cache) > 256:
            self._prefix_cache.clear()
        self._prefix_cache[prefix] = found
        return found

    def tokens_opening_with(self, words: tuple[str, ...]) -> npt.NDArray[np.int64] | None:
        """Ids of the text tokens whose first non-blank text is one of ``words`` (a whole
        word: ``if`` matches ``if`` and `` if(`` but not ``iffy``; ``#`` matches any comment
        start), after up to four spaces or a tab. None while the piece index is being built."""
        cached = self._opening_cache.get(words)
        if cached is not None:
            return cached
        if self._piece_index is None:
            return None
        found: set[int] = set()
        for word in words:
            encoded = word.encode("utf-8")
            for blank in _LEADING_BLANKS:
                candidates = self.tokens_with_prefix(blank + encoded)
                if candidates is None:
                    return None
                found.update(int(t) for t in candidates if _opens_with(self.piece(int(t)), encoded))
        ids = np.fromiter(sorted(found), dtype=np.int64, count=len(found))
        self._opening_cache[words] = ids  # callers use one or two word lists
        return ids

    def detokenize(self, tokens: list[int]) -> str:
        return b"".join(self.piece(t) for t in tokens).decode("utf-8", errors="replace")

    def is_eog(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    def is_control(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_control(self._vocab, token))

    def token_text(self, token: int) -> str:
        raw = llama_cpp.llama_vocab_get_text(self._vocab, token)
        return raw.decode("utf-8", errors="replace") if raw else ""

    # -- evaluation -------------------------------------------------------------------------

    def remove_from(self, pos: int) -> None:
        """Forget KV entries at positions >= pos."""
        if not llama_cpp.llama_memory_seq_rm(self._memory, 0, pos, -1):
            # A partial removal can fail on some cache types; start the sequence over.
            llama_cpp.llama_memory_seq_rm(self._memory, 0, -1, -1)
            raise DecodeError("the KV cache could not drop a tail; it was cleared")

    def clear(self) -> None:
        llama_cpp.llama_memory_clear(self._memory, True)

    def decode(
        self,
        tokens: list[int],
        start_pos: int,
        outputs: Sequence[int] = (),
        on_row: Callable[[int, npt.NDArray[np.float32]], None] | None = None,
        should_abort: Callable[[], bool] | None = None,
        chunk: int = 0,
    ) -> int:
        """Evaluate ``tokens`` at positions start_pos, start_pos+1, ...

        For each index in ``outputs`` (indices into ``tokens``, ascending) ``on_row(index,
        logits)`` is called with a view of that token's logits, valid only during the call.
        Tokens go in chunks of ``chunk`` (at most n_batch; 0 = n_batch); ``should_abort`` is
        checked between chunks. Returns how many tokens were decoded (fewer than given only
        when aborted; those stay cached)."""
        want = set(outputs)
        batch = self._batch
        size = min(chunk, self.n_batch) if chunk > 0 else self.n_batch
        for chunk_start in range(0, len(tokens), size):
            if chunk_start and should_abort is not None and should_abort():
                return chunk_start
            part = tokens[chunk_start : chunk_start + size]
            batch.n_tokens = len(part)
            rows: list[int] = []
            for i, tok in enumerate(part):
                batch.token[i] = tok
                batch.pos[i] = start_pos + chunk_start + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                out = (chunk_start + i) in want
                batch.logits[i] = 1 if out else 0
                if out:
                    rows.append(i)
            rc = llama_cpp.llama_decode(self._ctx, batch)
            if rc != 0:
                raise DecodeError(f"llama_decode failed with code {rc}")
            if on_row is not None:
                for i in rows:
                    ptr = llama_cpp.llama_get_logits_ith(self._ctx, i)
                    on_row(chunk_start + i, np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)))
        return len(tokens)

    def decode_one(self, token: int, pos: int) -> npt.NDArray[np.float32]:
        """Evaluate one token; return a view of its logits (valid until the next decode)."""
        batch = self._batch
        batch.n_tokens = 1
        batch.token[0] = token
        batch.pos[0] = pos
        batch.n_seq_id[0] = 1
        batch.seq_id[0][0] = 0
        batch.logits[0] = 1
        rc = llama_cpp.llama_decode(self._ctx, batch)
        if rc != 0:
            raise DecodeError(f"llama_decode failed with code {rc}")
        ptr = llama_cpp.llama_get_logits_ith(self._ctx, 0)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def time_bare_decodes(
        self, token: int, start_pos: int, count: int
    ) -> list[tuple[float, float]]:
        """Benchmark reference: (wall, thread CPU) seconds per bare one-token ``llama_decode``
        (batch prepared once, only the position changes, no logits read) at positions
        start_pos...; the tokens are removed from the cache afterwards. With one thread ggml
        computes on the calling thread, so CPU time is immune to other processes."""
        batch = self._batch
        batch.n_tokens = 1
        batch.token[0] = token
        batch.n_seq_id[0] = 1
        batch.seq_id[0][0] = 0
        batch.logits[0] = 1
        times: list[tuple[float, float]] = []
        clock, cpu = time.perf_counter, time.thread_time
        for i in range(count):
            batch.pos[0] = start_pos + i
            t0, c0 = clock(), cpu()
            rc = llama_cpp.llama_decode(self._ctx, batch)
            times.append((clock() - t0, cpu() - c0))
            if rc != 0:
                raise DecodeError(f"llama_decode failed with code {rc}")
        self.remove_from(start_pos)
        return times

    def close(self) -> None:
        self._closing = True
        if self._index_thread is not None:
            self._index_thread.join()  # it reads the vocabulary we are about to free
            self._index_thread = None
        if self._batch is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            llama_cpp.llama_free(self._ctx)
            self._ctx = None
        if self._model is not None:
            llama_cpp.llama_model_free(self._model)
            self._model = None


@dataclass(frozen=True)
class ModelSummary:
    architecture: str
    name: str
    description: str
    n_vocab: int
    n_ctx_train: int
    fim: FimTokens
    fim_texts: dict[str, str]


_LEADING_BLANKS = (b"", b" ", b"  ", b"   ", b"    ", b"\t")


def _opens_with(piece: bytes, word: bytes) -> bool:
    text = piece.lstrip(b" \t")
    if not text.startswith(word):
        return False
    rest = text[len(word) : len(word) + 1]
    return not word[-1:].isalnum() or not rest or not _word_byte(rest[0])


def _word_byte(byte: int) -> bool:
    # Bytes of non-ASCII characters count as letters: " forças" is not the keyword "for".
    return byte >= 0x80 or chr(byte).isalnum() or byte == ord("_")


def summarize_model(path: str) -> ModelSummary:
    """Read a GGUF's vocabulary and metadata without loading its weights."""
    _ensure_backend()
    mparams = llama_cpp.llama_model_default_params()
    mparams.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(path.encode("utf-8"), mparams)
    if not model:
        raise ModelLoadError(f"llama.cpp could not read the model file '{path}'")
    try:
        vocab = llama_cpp.llama_model_get_vocab(model)

        def meta(key: str) -> str:
            buf = ctypes.create_string_buffer(512)
            n = llama_cpp.llama_model_meta_val_str(model, key.encode("utf-8"), buf, len(buf))
            return buf.value.decode("utf-8", errors="replace") if n >= 0 else ""

        desc = ctypes.create_string_buffer(256)
        llama_cpp.llama_model_desc(model, desc, len(desc))
        fim = FimTokens(
            pre=int(llama_cpp.llama_vocab_fim_pre(vocab)),
            suf=int(llama_cpp.llama_vocab_fim_suf(vocab)),
            mid=int(llama_cpp.llama_vocab_fim_mid(vocab)),
            pad=int(llama_cpp.llama_vocab_fim_pad(vocab)),
            rep=int(llama_cpp.llama_vocab_fim_rep(vocab)),
            sep=int(llama_cpp.llama_vocab_fim_sep(vocab)),
        )
        texts = {}
        for label, tok in (
            ("pre", fim.pre),
            ("suf", fim.suf),
            ("mid", fim.mid),
            ("pad", fim.pad),
            ("rep", fim.rep),
            ("sep", fim.sep),
        ):
            if tok >= 0:
                raw = llama_cpp.llama_vocab_get_text(vocab, tok)
                texts[label] = raw.decode("utf-8", errors="replace") if raw else ""
        arch = meta("general.architecture")
        ctx_train = meta(f"{arch}.context_length") if arch else ""
        return ModelSummary(
            architecture=arch,
            name=meta("general.name"),
            description=desc.value.decode("utf-8", errors="replace"),
            n_vocab=int(llama_cpp.llama_vocab_n_tokens(vocab)),
            n_ctx_train=int(ctx_train) if ctx_train.isdigit() else 0,
            fim=fim,
            fim_texts=texts,
        )
    finally:
        llama_cpp.llama_model_free(model)
