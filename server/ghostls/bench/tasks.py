"""Completion tasks from real code: a masked line or block of a CPython standard-library function.

Used by the quality and latency benchmarks. Tasks are chosen deterministically (a seeded
shuffle) from files that parse cleanly, skipping the stdlib's own tests.
"""

from __future__ import annotations

import ast
import random
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import tree_sitter

from ghostls.completion.syntax_check import count_errors
from ghostls.documents import new_parser

SKIP_PARTS = {"test", "tests", "idle_test", "site-packages", "lib2to3", "__pycache__"}
SIMPLE_STATEMENTS = {
    "expression_statement",
    "return_statement",
    "raise_statement",
    "assert_statement",
    "delete_statement",
}
BLOCK_OWNERS = {"if_statement", "for_statement", "while_statement", "with_statement"}


@dataclass(frozen=True)
class Task:
    id: str
    path: str  # stdlib-relative
    kind: str  # "single" | "multi"
    masked: str  # the file with the line's code (or the block's body) removed
    row: int  # cursor line (0-based)
    column: int  # cursor column in code points (= the indentation kept)
    target: str  # what was removed: the line's code, or the block's lines joined by "\n"
    function: str  # the enclosing function's text (the latency replay types it)


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def stdlib_files(root: Path | None = None) -> list[Path]:
    root = root or stdlib_dir()
    files = []
    for path in sorted(root.rglob("*.py")):
        parts = set(path.relative_to(root).parts[:-1])
        if parts & SKIP_PARTS or path.name.startswith("test_"):
            continue
        files.append(path)
    return files


def _functions(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "function_definition":
            yield current
        stack.extend(reversed(current.children))


def _is_docstring(stmt: tree_sitter.Node) -> bool:
    return (
        stmt.type == "expression_statement"
        and stmt.named_child_count == 1
        and stmt.named_children[0].type == "string"
    )


def _single_line_tasks(lines: list[str], func: tree_sitter.Node) -> Iterator[tuple[int, int, str]]:
    body = func.child_by_field_name("body")
    if body is None:
        return
    stmts = [s for s in body.named_children if s.type != "comment"]
    for index, stmt in enumerate(stmts):
        if index == 0 or stmt.type not in SIMPLE_STATEMENTS or _is_docstring(stmt):
            continue  # keep the first statement: a body must not become empty
        if stmt.start_point[0] != stmt.end_point[0]:
            continue
        line = lines[stmt.start_point[0]]
        code = line.strip()
        if not 6 <= len(code) <= 100 or "#" in code:
            continue
        yield stmt.start_point[0], len(line) - len(line.lstrip()), code


def _block_tasks(lines: list[str], func: tree_sitter.Node) -> Iterator[tuple[int, int, int, str]]:
    """(first body row, last body row, indent, body text) of small compound-statement bodies."""
    stack = [func]
    while stack:
        node = stack.pop()
        stack.extend(node.named_children)
        if node.type not in BLOCK_OWNERS:
            continue
        body = node.child_by_field_name("body") or node.child_by_field_name("consequence")
        if body is None or body.type != "block":
            continue
        first, last = body.start_point[0], body.end_point[0]
        if body.end_point[1] == 0:
            last -= 1  # the block's end point is the start of the next line
        if not 2 <= last - first + 1 <= 6 or first == node.start_point[0]:
            continue
        block = lines[first : last + 1]
        if any("#" in line for line in block) or any(not line.strip() for line in block):
            continue
        indent = len(block[0]) - len(block[0].lstrip())
        yield first, last, indent, "\n".join(line.rstrip() for line in block)


def make_tasks(n: int, seed: int = 0, multi_share: float = 0.3) -> list[Task]:
    """``n`` tasks (about ``multi_share`` of them multi-line), at most one per function."""
    rng = random.Random(seed)
    files = stdlib_files()
    rng.shuffle(files)
    parser = new_parser()
    want_multi = round(n * multi_share)
    want_single = n - want_multi
    singles: list[Task] = []
    multis: list[Task] = []
    root = stdlib_dir()
    for path in files:
        if len(singles) >= want_single and len(multis) >= want_multi:
            break
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if len(text) > 150_000 or "\r" in text or "\t" in text:
            continue
        tree = parser.parse(text.encode("utf-8"))
        if count_errors(tree.root_node):
            continue
        lines = text.split("\n")
        rel = str(path.relative_to(root))
        funcs = list(_functions(tree.root_node))
        rng.shuffle(funcs)
        per_file = 0
        for func in funcs:
            if per_file >= 2:  # spread the tasks over many files
                break
            ftext = "\n".join(lines[func.start_point[0] : func.end_point[0] + 1])
            if not ftext.isascii():
                continue
            if len(singles) < want_single:
                options = list(_single_line_tasks(lines, func))
                if options:
                    row, col, code = rng.choice(options)
                    masked = [*lines[:row], lines[row][:col], *lines[row + 1 :]]
                    singles.append(
                        Task(
                            f"s{len(singles)}",
                            rel,
                            "single",
                            "\n".join(masked),
                            row,
                            col,
                            code,
                            ftext,
                        )
                    )
                    per_file += 1
                    continue
            if len(multis) < want_multi:
                blocks = list(_block_tasks(lines, func))
                if blocks:
                    first, last, indent, body = rng.choice(blocks)
                    masked = [*lines[:first], " " * indent, *lines[last + 1 :]]
                    multis.append(
                        Task(
                            f"m{len(multis)}",
                            rel,
                            "multi",
                            "\n".join(masked),
                            first,
                            indent,
                            body,
                            ftext,
                        )
                    )
                    per_file += 1
    return singles + multis


def parses(text: str) -> bool:
    """CPython's verdict (tree-sitter accepts some code CPython refuses, e.g. an empty block).

    ``ast.parse`` only parses: nothing in ``text`` is executed.
    """
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def edit_similarity(a: str, b: str) -> float:
    """1 - Levenshtein distance / the longer length (1.0 for two empty strings)."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return 1.0 - previous[-1] / max(len(a), len(b))
