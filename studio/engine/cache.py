"""The node output cache: least recently used, bounded by a byte budget (DESIGN.md §4)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any


def value_nbytes(value: Any, _depth: int = 0) -> int:
    """Approximate memory held by a wire value (arrays, tensors, models, containers)."""
    if _depth > 8:
        return 64
    sizer = getattr(value, "cache_nbytes", None)
    if callable(sizer):
        return int(sizer())
    if isinstance(value, dict):
        return sum(value_nbytes(v, _depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(value_nbytes(v, _depth + 1) for v in value)
    numel = getattr(value, "numel", None)
    element_size = getattr(value, "element_size", None)
    if callable(numel) and callable(element_size):  # a torch tensor, without importing torch
        return int(numel()) * int(element_size())
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    return 64


class NodeCache:
    """Node outputs by cache key. Entries a run still uses are protected from eviction."""

    def __init__(self, byte_budget: int = 8 * 1024**3) -> None:
        self.byte_budget = byte_budget
        self._entries: OrderedDict[str, tuple[dict[str, Any], int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def put(self, key: str, outputs: dict[str, Any], protect: Iterable[str] = ()) -> None:
        size = value_nbytes(outputs)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (outputs, size)
            self._bytes += size
        self.evict(protect={key, *protect})

    def evict(self, protect: Iterable[str] = ()) -> list[str]:
        """Drop least recently used entries until under budget, never those in ``protect``."""
        keep = set(protect)
        dropped = []
        with self._lock:
            for key in list(self._entries):
                if self._bytes <= self.byte_budget:
                    break
                if key in keep:
                    continue
                _, size = self._entries.pop(key)
                self._bytes -= size
                dropped.append(key)
        return dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
