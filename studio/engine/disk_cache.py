"""The on-disk cache: expensive node outputs (the sampler's latent) kept between runs and processes.

A render that runs out of memory in VAE decode, or a second ``studio run`` of the same graph,
resumes from the sampled latent instead of sampling again. Entries are data only: tensors in
safetensors files (never pickle) with the node's cache key and its JSON metadata in the
header; an entry whose key does not match, or that cannot be read, is ignored and removed.
The folder is bounded: the least recently used entries go first.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

from studio.files import atomic_path
from studio.graph.spec import DiskCodec

log = logging.getLogger("studio.engine.disk_cache")

DEFAULT_BUDGET = 4 * 1024**3
_KEY = re.compile(r"^[0-9a-f]{32}$")
SUFFIX = ".safetensors"


class DiskCache:
    """Node outputs by cache key under ``folder``, at most ``byte_budget`` bytes in all."""

    def __init__(self, folder: str | os.PathLike[str], byte_budget: int = DEFAULT_BUDGET) -> None:
        self.folder = Path(folder)
        self.byte_budget = int(byte_budget)
        self._lock = threading.Lock()

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.folder / key[:2] / f"{key}{SUFFIX}"

    def get(self, key: str, codec: DiskCodec) -> dict[str, Any] | None:
        """The outputs stored under ``key``, or None (a damaged or mismatched entry is removed)."""
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            from safetensors import safe_open

            tensors: dict[str, Any] = {}
            with safe_open(str(path), framework="pt") as handle:
                header = handle.metadata() or {}
                if header.get("studio_key") != key:
                    raise ValueError("the entry belongs to another key")
                for name in handle.keys():
                    tensors[name] = handle.get_tensor(name)
            outputs = codec.load(tensors, json.loads(header.get("studio_meta", "{}")))
        except Exception as exc:  # noqa: BLE001 - any damage: ignore the entry and compute again
            log.warning("ignoring damaged disk cache entry %s: %s", path.name, exc)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: evicted last
        return outputs

    def put(self, key: str, outputs: dict[str, Any], codec: DiskCodec) -> None:
        """Store ``outputs``; a failure to write (full disk, read-only cache) is logged, never raised."""
        try:
            from safetensors.torch import save_file

            tensors, meta = codec.dump(outputs)
            tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
            metadata = {"studio_key": key, "studio_meta": json.dumps(meta, allow_nan=False)}
            with self._lock, atomic_path(self._path(key)) as tmp:
                save_file(tensors, str(tmp), metadata=metadata)
        except Exception as exc:  # noqa: BLE001 - the disk cache is an optimisation, never a failure
            log.warning("could not keep %s in the disk cache: %s", key, exc)
            return
        self.evict()

    def entries(self) -> list[Path]:
        return sorted(self.folder.glob(f"??/*{SUFFIX}"))

    @property
    def nbytes(self) -> int:
        return sum(_size(p) for p in self.entries())

    def evict(self) -> None:
        """Remove the least recently used entries until the folder is within its budget."""
        with self._lock:
            stats = [(p, p.stat()) for p in self.entries() if p.exists()]
            total = sum(st.st_size for _, st in stats)
            for path, st in sorted(stats, key=lambda item: item[1].st_mtime):
                if total <= self.byte_budget:
                    break
                with contextlib.suppress(OSError):
                    path.unlink()
                    total -= st.st_size

    def clear(self) -> None:
        for path in self.entries():
            with contextlib.suppress(OSError):
                path.unlink()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
