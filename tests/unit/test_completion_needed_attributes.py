"""attributes_needed_by_class on crafted buffers: which self attributes __init__ lacks."""

from __future__ import annotations

from ghostls.completion.needed_attributes import attributes_needed_by_class
from tests.unit.cursor_marker import CURSOR, snapshot_at_cursor


def needed(text: str) -> tuple[str, ...]:
    return attributes_needed_by_class(*snapshot_at_cursor(text))


EVENT = (
    "class Event:\n"
    "    LIMIT = 3\n"
    "\n"
    "    def __init__(self, *, ctx):\n"
    "        self._cond = ctx.Condition()\n"
    f"        {CURSOR}\n"
    "\n"
    "    def is_set(self):\n"
    "        with self._cond:\n"
    "            self._helper()\n"
    "            return self._flag.acquire(False) and self.LIMIT and self.size\n"
    "\n"
    "    def _helper(self):\n"
    "        self.later = 1\n"
    "\n"
    "    @property\n"
    "    def size(self):\n"
    "        return self._count\n"
)


def test_an_attribute_only_read_is_needed_at_the_end_of_init() -> None:
    # _cond is assigned, _helper() is called (a method), LIMIT and size are class-level,
    # later is assigned in a method; _flag and _count are read and never assigned.
    assert needed(EVENT) == ("self._flag", "self._count")


def test_only_in_init_of_a_class_without_bases() -> None:
    assert needed(EVENT.replace("class Event:", "class Event(Base):")) == ()
    assert needed(EVENT.replace("class Event:", "class Event(object):")) == (
        "self._flag",
        "self._count",
    )
    assert needed(EVENT.replace("def __init__", "def setup")) == ()
    at_module = f"x = 1\n{CURSOR}\n"
    assert needed(at_module) == ()


def test_a_file_that_does_not_parse_gives_nothing() -> None:
    broken = EVENT.replace("def is_set(self):", "def is_set(self:")
    assert needed(broken) == ()
