"""Two caches: suggestions being typed through, and model answers keyed by their prompt."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Shown:
    """A suggestion as it was shown: the document around it and what it proposed."""

    before: str  # document text before the suggestion's start
    tail: str  # document text from the suggestion's start (incl. the replaced line end)
    replaced: int  # code points after the start the suggestion replaces (the line's end)
    text: str  # the suggestion
    item_id: str
    multiline: bool


@dataclass(frozen=True)
class TypedThrough:
    """What is left of a shown suggestion after the user typed its first characters."""

    remaining: str
    replaced: int
    shown: Shown
    typed: str


class TypedThroughCache:
    """Recent suggestions per document; answers when the user types what one proposed.

    The user typed ``t`` where ``before + tail`` was: the document is now
    ``before + t + tail`` with the cursor after ``t``; if the suggestion starts with ``t``,
    its remainder is the answer, with no model call.
    """

    def __init__(self, per_document: int = 4) -> None:
        self.per_document = per_document
        self._entries: dict[str, list[Shown]] = {}

    def remember(self, uri: str, shown: Shown) -> None:
        entries = self._entries.setdefault(uri, [])
        entries.insert(0, shown)
        del entries[self.per_document :]

    def lookup(self, uri: str, text: str, offset: int) -> TypedThrough | None:
        for shown in self._entries.get(uri, ()):
            typed_len = offset - len(shown.before)
            if typed_len < 0 or typed_len >= len(shown.text):
                continue
            if len(text) != len(shown.before) + typed_len + len(shown.tail):
                continue
            if not text.startswith(shown.before) or not text.endswith(shown.tail):
                continue
            typed = text[len(shown.before) : offset]
            if not shown.text.startswith(typed):
                continue
            remaining = shown.text[typed_len:]
            if not remaining.strip():
                continue
            return TypedThrough(remaining, shown.replaced, shown, typed)
        return None

    def forget(self, uri: str) -> None:
        self._entries.pop(uri, None)

    def clear(self) -> None:
        self._entries.clear()


class LRU(Generic[K, V]):
    """A small least-recently-used map."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
