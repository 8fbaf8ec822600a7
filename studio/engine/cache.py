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
RAM, VRAM = "ram", "vram"  # where a loaded model's weights sit
OUTPUT_SHARE = 0.10  # of physical memory, for node outputs (latents, frames, embeddings)
MODEL_SHARE = 0.50  # of physical memory, for loaded models' weights kept in RAM between runs
VRAM_SHARE = 0.80  # of the GPU's memory, for models' weights on it (the rest is for activations)


def physical_memory() -> int:
    """Bytes of physical memory, or 8 GiB when the platform does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return 8 * 1024**3


def pool_of(outputs: dict[str, Any]) -> str:
    """``models`` if any output is a loaded model (it says ``cache_pool = "models"``), else ``outputs``."""
    return MODELS if any(getattr(v, "cache_pool", OUTPUTS) == MODELS for v in outputs.values()) else OUTPUTS


def placement(outputs: dict[str, Any]) -> dict[str, int]:
    """Bytes an entry holds, by budget: ``outputs`` for plain values; for models, where their weights
    sit (``ram``/``vram``, from the value's ``cache_placement()``; offloaded parts count where they are)."""
    sizes: dict[str, int] = {}
    for value in outputs.values():
        where = getattr(value, "cache_placement", None)
        if getattr(value, "cache_pool", OUTPUTS) != MODELS:
            placed = {OUTPUTS: value_nbytes(value)}
        else:
            placed = where() if callable(where) else {RAM: value_nbytes(value)}
        for place, size in placed.items():
            sizes[place] = sizes.get(place, 0) + int(size)
    return sizes


class NodeCache:
    """Node outputs by cache key. Entries a run still uses are protected from eviction.

    Budgets: ``byte_budget`` for node outputs; ``model_budget`` for loaded models' weights in RAM;
    ``vram_budget`` for weights on the GPU (unbounded until the engine knows the device). None
    takes a share of physical memory (``OUTPUT_SHARE``, ``MODEL_SHARE``). Entries are evicted
    whole, least recently used first, from whichever budget is over.
    """

    def __init__(self, byte_budget: int | None = None, model_budget: int | None = None) -> None:
        memory = physical_memory()
        self.budgets = {
            OUTPUTS: int(memory * OUTPUT_SHARE) if byte_budget is None else int(byte_budget),
            RAM: int(memory * MODEL_SHARE) if model_budget is None else int(model_budget),
            VRAM: 2**62,
        }
        self._entries: OrderedDict[str, tuple[dict[str, Any], dict[str, int], str]] = OrderedDict()
        self._bytes = dict.fromkeys(self.budgets, 0)
        self._lock = threading.Lock()

    @property
    def byte_budget(self) -> int:
        return self.budgets[OUTPUTS]

    @byte_budget.setter
    def byte_budget(self, value: int) -> None:
        self.budgets[OUTPUTS] = int(value)

    @property
    def model_budget(self) -> int:
        return self.budgets[RAM]

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
        sizes = placement(outputs)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._forget(old[1])
            self._entries[key] = (outputs, sizes, pool_of(outputs))
            for place, size in sizes.items():
                self._bytes[place] = self._bytes.get(place, 0) + size
        self.evict(protect={key, *protect})

    def _forget(self, sizes: dict[str, int]) -> None:
        for place, size in sizes.items():
            self._bytes[place] -= size

    def _over(self) -> set[str]:
        return {place for place, used in self._bytes.items() if used > self.budgets.get(place, 2**62)}

    def evict(self, protect: Iterable[str] = ()) -> list[str]:
        """Drop least recently used entries until every budget holds, never those in ``protect``."""
        keep = set(protect)
        dropped = []
        with self._lock:
            for key, (_, sizes, _pool) in list(self._entries.items()):
                over = self._over()
                if not over:
                    break
                if key in keep or not over & sizes.keys():
                    continue
                del self._entries[key]
                self._forget(sizes)
                dropped.append(key)
        return dropped

    def drop(self, pool: str) -> list[str]:
        """Remove every entry of ``pool`` (``models``: "Unload models"); returns their keys."""
        with self._lock:
            keys = [k for k, (_, _, p) in self._entries.items() if p == pool]
            for key in keys:
                self._forget(self._entries.pop(key)[1])
        return keys

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = dict.fromkeys(self.budgets, 0)

    @property
    def nbytes(self) -> int:
        """Bytes held in all budgets."""
        return sum(self._bytes.values())

    def pool_nbytes(self, pool: str) -> int:
        """Bytes held by ``outputs`` or by ``models`` (their RAM and VRAM together)."""
        return self._bytes[OUTPUTS] if pool == OUTPUTS else sum(v for k, v in self._bytes.items() if k != OUTPUTS)

    def place_nbytes(self, place: str) -> int:
        return self._bytes.get(place, 0)

    def __len__(self) -> int:
        return len(self._entries)
