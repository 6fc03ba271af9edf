"""Inline completion: the path from a cursor to a suggestion worth showing.

``service`` runs the per-request pipeline (debounce, cancel-previous, caches, engine call);
``policy`` decides single- vs multi-line and when generation should stop; ``postprocess`` makes
raw model text fit the cursor; ``syntax_check`` rejects suggestions that break the parse;
``cache`` holds the typed-through and prompt caches. Nothing here knows LSP types.
"""
