"""The node output cache: least recently used, bounded by byte budgets (DESIGN.md §4).

Two pools with budgets of their own: loaded models (values that say ``cache_pool = "models"``),
which are big and expensive to reload, and every other output. By default each pool gets a
share of the machine's memory, so a long session neither grows without bound on a small
machine nor throws away work on a big one.
"""

from __future__ import annotations

import os
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


OUTPUTS, MODELS = "outputs", "models"
OUTPUT_SHARE = 0.10  # of physical memory, for node outputs (latents, frames, embeddings)
MODEL_SHARE = 0.50  # for loaded models kept between runs


def physical_memory() -> int:
    """Bytes of physical memory, or 8 GiB when the platform does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return 8 * 1024**3


def pool_of(outputs: dict[str, Any]) -> str:
    """``models`` if any output is a loaded model (it says ``cache_pool = "models"``), else ``outputs``."""
    return MODELS if any(getattr(v, "cache_pool", OUTPUTS) == MODELS for v in outputs.values()) else OUTPUTS


class NodeCache:
    """Node outputs by cache key. Entries a run still uses are protected from eviction.

    ``byte_budget`` bounds node outputs and ``model_budget`` loaded models; None takes a share
    of physical memory (``OUTPUT_SHARE``, ``MODEL_SHARE``).
    """

    def __init__(self, byte_budget: int | None = None, model_budget: int | None = None) -> None:
        memory = physical_memory()
        self.byte_budget = int(memory * OUTPUT_SHARE) if byte_budget is None else int(byte_budget)
        self.model_budget = int(memory * MODEL_SHARE) if model_budget is None else int(model_budget)
        self._entries: OrderedDict[str, tuple[dict[str, Any], int, str]] = OrderedDict()
        self._bytes = {OUTPUTS: 0, MODELS: 0}
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
        pool = pool_of(outputs)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes[old[2]] -= old[1]
            self._entries[key] = (outputs, size, pool)
            self._bytes[pool] += size
        self.evict(protect={key, *protect})

    def evict(self, protect: Iterable[str] = ()) -> list[str]:
        """Drop least recently used entries until each pool is under its budget, never those in ``protect``."""
        keep = set(protect)
        budgets = {OUTPUTS: self.byte_budget, MODELS: self.model_budget}
        dropped = []
        with self._lock:
            for key, (_, size, pool) in list(self._entries.items()):
                if all(self._bytes[p] <= budgets[p] for p in budgets):
                    break
                if key in keep or self._bytes[pool] <= budgets[pool]:
                    continue
                del self._entries[key]
                self._bytes[pool] -= size
                dropped.append(key)
        return dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = {OUTPUTS: 0, MODELS: 0}

    @property
    def nbytes(self) -> int:
        """Bytes held in both pools."""
        return sum(self._bytes.values())

    def pool_nbytes(self, pool: str) -> int:
        return self._bytes[pool]

    def __len__(self) -> int:
        return len(self._entries)
