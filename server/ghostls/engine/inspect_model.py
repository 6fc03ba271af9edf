"""Read a GGUF's prompt capabilities (FIM tokens) for `ghostls model`."""

from __future__ import annotations

from ghostls.engine.model_files import describe_model_file_problem


def describe_model(path: str) -> dict[str, str]:
    """Architecture, vocabulary, context length and the prompt layout the engine will use."""
    problem = describe_model_file_problem(path)
    if problem:
        return {"error": problem}
    from ghostls.engine.llama_model import summarize_model

    try:
        summary = summarize_model(path)
    except Exception as exc:
        return {"error": f"model file '{path}' could not be read by llama.cpp: {exc}"}
    fim = summary.fim
    if fim.supported:
        tokens = ", ".join(f"{k}={v!r}" for k, v in summary.fim_texts.items())
        layout = "repo-level FIM" if fim.sep >= 0 else "FIM (PSM)"
        fim_text = f"yes ({tokens})"
    else:
        layout = "prefix prompt (no FIM tokens in the vocabulary)"
        fim_text = "no"
    return {
        "arch": summary.architecture or "unknown",
        "name": summary.name or summary.description,
        "vocab": str(summary.n_vocab),
        "ctx": f"{summary.n_ctx_train} tokens (trained)" if summary.n_ctx_train else "unknown",
        "fim": fim_text,
        "prompt": layout,
    }
