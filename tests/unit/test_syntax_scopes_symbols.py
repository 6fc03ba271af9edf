"""Enclosing scopes, imports, definitions and name resolution, on standard-library code."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from ghostls.documents import DocumentStore, Snapshot
from ghostls.syntax.scopes import enclosing_scopes
from ghostls.syntax.symbols import (
    definitions,
    find_definitions,
    imports,
    module_imports,
    referenced_names,
    resolve,
)

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def stdlib_snapshot(name: str) -> Snapshot:
    path = STDLIB / name
    if not path.exists():
        pytest.skip(f"{path} not on this machine")
    return DocumentStore().open(f"file:///lib/{name}", path.read_text(encoding="utf-8"), 1)


def offset_after(snap: Snapshot, anchor: str) -> int:
    assert snap.text.count(anchor) == 1, anchor
    return snap.text.index(anchor) + len(anchor)


def test_scopes_inside_a_method() -> None:
    snap = stdlib_snapshot("textwrap.py")
    scopes = enclosing_scopes(snap, offset_after(snap, "chunks = [c for c in chunks if c]"))
    assert [(s.kind, s.name) for s in scopes] == [
        ("module", "textwrap"),
        ("class", "TextWrapper"),
        ("function", "_split"),
    ]
    module, cls, method = scopes
    assert module.summary == "Text wrapping and filling."
    assert cls.signature == "class TextWrapper:"
    assert cls.summary.startswith("Object for wrapping/filling text.")
    assert method.signature == "def _split(self, text):"
    assert method.summary == "_split(text : string) -> [string]"
    assert method.body_indent == "        "
    assert snap.line(method.start_row).strip() == "def _split(self, text):"
    assert module.start_row == 0 and module.end_row == snap.line_count - 1


def test_scopes_on_blank_lines_follow_indentation() -> None:
    snap = stdlib_snapshot("textwrap.py")
    end_of_split = offset_after(
        snap, "        chunks = [c for c in chunks if c]\n        return chunks\n"
    )
    # The blank line after _split (column 0) lies between two methods: inside the class.
    names = [s.name for s in enclosing_scopes(snap, end_of_split)]
    assert names == ["textwrap", "TextWrapper"]
    text = snap.text[:end_of_split] + "        " + snap.text[end_of_split:]
    indented = DocumentStore().open("file:///lib/textwrap.py", text, 2)
    deep = [s.name for s in enclosing_scopes(indented, end_of_split + 8)]
    assert deep == ["textwrap", "TextWrapper", "_split"]
    text = snap.text[:end_of_split] + "    " + snap.text[end_of_split:]
    class_level = DocumentStore().open("file:///lib/textwrap.py", text, 2)
    assert [s.name for s in enclosing_scopes(class_level, end_of_split + 4)] == [
        "textwrap",
        "TextWrapper",
    ]


def test_decorated_scope_and_multiline_signature() -> None:
    snap = stdlib_snapshot("ipaddress.py")
    scopes = enclosing_scopes(
        snap, offset_after(snap, "return self._explode_shorthand_ip_string()")
    )
    assert scopes[-1].name == "exploded" and scopes[-1].decorators == ("@property",)
    assert scopes[-2].name == "_IPAddressBase"
    wrapper = stdlib_snapshot("textwrap.py")
    init = enclosing_scopes(wrapper, offset_after(wrapper, "self.width = width"))[-1]
    assert init.name == "__init__"
    assert init.signature.startswith("def __init__(self,\n")
    assert init.signature.endswith("max_lines=None,\n                 placeholder=' [...]'):")


def test_imports_with_aliases_and_conditional_ones() -> None:
    snap = stdlib_snapshot("_pydecimal.py")
    found = {imp.text: imp for imp in imports(snap)}
    assert found["import math as _math"].names == ("_math",)
    assert found["import math as _math"].module == "math"
    assert found["import sys"].names == ("sys",)
    nested = found["from collections import namedtuple as _namedtuple"]
    assert nested.names == ("_namedtuple",) and nested.module == "collections"
    assert not nested.top_level  # inside the module-level try:
    shlex = {imp.text: imp for imp in imports(stdlib_snapshot("shlex.py"))}
    assert shlex["from collections import deque"].names == ("deque",)
    assert all(imp.top_level for imp in shlex.values())


def test_import_forms() -> None:
    text = (
        "import os.path, json as j\n"
        "from . import sibling\n"
        "from ..pkg.mod import (a as b,\n    c)\n"
        "from star import *\n"
        "from __future__ import annotations\n"
        "def f():\n    import local\n"
    )
    snap = DocumentStore().open("file:///forms.py", text, 1)
    got = [(imp.names, imp.module, imp.top_level) for imp in imports(snap)]
    assert got == [
        (("os", "j"), "", True),
        (("sibling",), ".", True),
        (("b", "c"), "..pkg.mod", True),
        (("*",), "star", True),
        (("annotations",), "__future__", True),
        (("local",), "local", False),
    ]


def test_definitions_of_a_module() -> None:
    snap = stdlib_snapshot("textwrap.py")
    defs = {d.qualname: d for d in definitions(snap)}
    dedent = defs["dedent"]
    assert dedent.kind == "function"
    assert dedent.text == (
        'def dedent(text):\n    """Remove any common leading whitespace from every line in'
        ' `text`."""\n    ...'
    )
    wrapper = defs["TextWrapper"]
    assert wrapper.kind == "class"
    assert wrapper.text.startswith('class TextWrapper:\n    """Object for wrapping/filling text.')
    assert "    def wrap(self, text): ..." in wrapper.text.splitlines()
    split = defs["TextWrapper._split"]
    assert split.kind == "method" and split.name == "_split"
    assert split.owner_header == "class TextWrapper:"
    assert split.member_text.startswith("    def _split(self, text):")
    assert defs["_whitespace"].kind == "variable"
    assert defs["_whitespace"].text == "_whitespace = '\\t\\n\\x0b\\x0c\\r '"
    assert [d.start_row for d in definitions(snap)] == sorted(
        d.start_row for d in definitions(snap)
    )
    # Definitions inside a module-level try: are module-level names too.
    decimal = {d.qualname: d for d in definitions(stdlib_snapshot("_pydecimal.py"))}
    assert decimal["DecimalTuple"].kind == "variable"
    assert decimal["Decimal.compare_total"].kind == "method"


def test_find_definitions_builds_only_what_is_asked() -> None:
    snap = stdlib_snapshot("textwrap.py")
    found = find_definitions(snap, ["dedent", "nothing_like_this"])
    assert list(found) == ["dedent"]
    assert found["dedent"][0].text == {d.name: d for d in definitions(snap)}["dedent"].text


def test_referenced_names_are_nearest_first_without_the_word_being_typed() -> None:
    snap = stdlib_snapshot("textwrap.py")
    offset = offset_after(snap, "    text = _whitespace_only_re.sub('', text)\n    indents = _lead")
    names = referenced_names(snap, offset, window=20)
    assert "_lead" not in names
    assert names.index("indents") < names.index("_whitespace_only_re") < names.index("margin")
    assert "_whitespace" not in names  # used 20+ lines above only
    assert "dedent" not in names  # the def's own name is a definition, not a use


def test_resolve_prefers_the_first_snapshot_and_keeps_name_order() -> None:
    textwrap = stdlib_snapshot("textwrap.py")
    user = DocumentStore().open(
        "file:///work/user.py", "def indent(x):\n    return x\n\nprint(dedent(indent(s)))\n", 1
    )
    found = resolve(["dedent", "indent", "missing"], [user, textwrap])
    assert [(name, d.uri.rsplit("/", 1)[-1]) for name, d in found] == [
        ("dedent", "textwrap.py"),
        ("indent", "user.py"),
        ("indent", "textwrap.py"),
    ]


def test_blank_line_after_the_last_method_leaves_the_class_at_column_zero() -> None:
    text = "class A:\n    def m(self):\n        return 1\n\n"
    snap = DocumentStore().open("file:///a.py", text, 1)
    assert [s.name for s in enclosing_scopes(snap, len(text))] == ["a"]
    indented = DocumentStore().open("file:///a.py", text + "    ", 1)
    assert [s.name for s in enclosing_scopes(indented, len(text) + 4)] == ["a", "A"]


def test_definitions_stay_exact_across_incremental_edits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The statement index is cached by content across versions: it must match a cold index."""
    from ghostls.documents import TextEdit
    from ghostls.syntax import symbols

    text = (STDLIB / "textwrap.py").read_text(encoding="utf-8")
    store = DocumentStore()
    snap = store.open("file:///lib/textwrap.py", text, 1)
    definitions(snap)
    row = snap.text[: snap.text.index("def dedent(text):")].count("\n")
    split_row = snap.text[: snap.text.index("    def _split(self, text):")].count("\n")
    edits = [
        TextEdit(row, 4, row, 10, "undent"),  # rename a function
        TextEdit(split_row, 0, split_row, 0, "    def added(self, n):\n        return n\n\n"),
        TextEdit(0, 0, 5, 0, ""),  # delete the module docstring and the copyright lines
        TextEdit(3, 0, 3, 0, "LIMIT = 10\n"),  # after `import re`: shifts all below
        TextEdit(row, 0, row, 0, "def solo(): pass\n"),  # a one-line def, same as a method's
        TextEdit(10, 0, 10, 0, "class Box:\n    def solo(): pass\n"),
    ]
    for version, edit in enumerate(edits, start=2):
        new = store.change(snap.uri, [edit], version)
        assert new is not None
        snap = new
        warm = [(d.qualname, d.kind, d.start_row, d.text) for d in definitions(snap)]
        monkeypatch.setattr(symbols, "_content_cache", symbols._ContentCache())
        monkeypatch.setattr(symbols, "_class_cache", symbols._ContentCache())
        cold_snap = DocumentStore().open(snap.uri, snap.text, 1)
        cold = [(d.qualname, d.kind, d.start_row, d.text) for d in definitions(cold_snap)]
        assert warm == cold
    names = {q for q, *_ in warm}
    assert {"undent", "TextWrapper.added", "LIMIT", "solo", "Box.solo"} <= names
    assert "dedent" not in names


def test_module_imports_are_the_top_level_ones() -> None:
    snap = stdlib_snapshot("_pydecimal.py")
    fast = [(i.text, i.names, i.top_level) for i in module_imports(snap)]
    full = [(i.text, i.names, i.top_level) for i in imports(snap)]
    assert fast == [entry for entry in full if entry in fast]
    assert ("import sys", ("sys",), True) in fast
    assert ("from collections import namedtuple as _namedtuple", ("_namedtuple",), False) in fast
