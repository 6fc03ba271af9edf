"""Diagnostics and their fixes: syntax errors, pyflakes' findings, verified model fixes.

Nothing in this package except ``service.py`` knows about the server or LSP types.
"""
