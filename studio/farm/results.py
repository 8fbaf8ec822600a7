"""A cluster job's results on the driver: its files placed in the output folder as a local run
would write them (numbered, atomic, never overwriting), and the report pointing at them."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from studio.files import atomic_path, numbered_path
from studio.graph.model import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.types import MODEL

_NUMBERED = re.compile(r"(?P<prefix>.+)_\d+(?P<suffix>\.[^./]*)?")


def place_file(output_dir: Path, relative: str, data: bytes) -> Path:
    """Write ``data`` as the next free ``<prefix>_NNNNN<suffix>`` under ``output_dir``, where the
    worker wrote ``relative`` (``clips/starter_00001.mp4`` → ``clips/starter_<next>.mp4``).

    Raises :class:`~studio.files.UnsafePathError` for a name that would leave the folder.
    """
    match = _NUMBERED.fullmatch(relative)
    prefix, suffix = (match["prefix"], match["suffix"] or "") if match else (relative, "")
    for _attempt in range(100):
        target = numbered_path(output_dir, prefix, suffix)
        try:
            with atomic_path(target, overwrite=False) as tmp:
                tmp.write_bytes(data)
        except FileExistsError:  # another writer took the number in between
            continue
        return target
    raise FileExistsError(f"no free file name for {prefix!r} in {output_dir}")


def repoint(report: Any, moved: dict[str, Path]) -> None:
    """Make the report's outputs name the driver's files (``moved``: worker path → driver path)."""
    for values in report.outputs.values():
        for name, value in values.items():
            path = getattr(value, "path", value)
            if isinstance(path, Path) and str(path) in moved:
                new = moved[str(path)]
                values[name] = dataclasses.replace(value, path=new) if value is not path else new


def model_signature(graph: Graph, registry: NodeRegistry) -> frozenset[str]:
    """What a job's models are: the type and parameters of each node that outputs a MODEL.

    Jobs with equal signatures reuse the models a worker holds, so they go to that worker.
    """
    found = set()
    for node in graph.nodes:
        spec = registry.get(node.type)
        if spec is not None and any(out.type == MODEL for out in spec.outputs):
            found.add(json.dumps([node.type, node.params], sort_keys=True, default=str))
    return frozenset(found)
