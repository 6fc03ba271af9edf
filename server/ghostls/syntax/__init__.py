"""Syntax helpers over tree-sitter trees: the cursor, scopes, symbols, errors. No LSP types."""
