"""Events a run emits, in the past tense, each with a JSON form for ``studio run --json``."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar


@dataclass(slots=True)
class Event:
    kind: ClassVar[str] = "event"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"event": self.kind}
        for f in fields(self):
            data[f.name] = json_value(getattr(self, f.name))
        return data


@dataclass(slots=True)
class NodeStarted(Event):
    kind: ClassVar[str] = "node_started"
    node_id: str
    node_type: str


@dataclass(slots=True)
class NodeCached(Event):
    kind: ClassVar[str] = "node_cached"
    node_id: str
    node_type: str


@dataclass(slots=True)
class Progress(Event):
    kind: ClassVar[str] = "progress"
    node_id: str
    done: int
    total: int


@dataclass(slots=True)
class Status(Event):
    """What a node is doing while it has no progress to show (importing torch, reading a file, …)."""

    kind: ClassVar[str] = "status"
    node_id: str
    text: str


@dataclass(slots=True)
class Preview(Event):
    """A small RGB preview: uint8 ``[height, width, 3]`` or, for video, ``[frames, height, width, 3]``."""

    kind: ClassVar[str] = "preview"
    node_id: str
    image: Any
    step: int | None = None
    total: int | None = None

    def to_json(self) -> dict[str, Any]:
        shape = list(getattr(self.image, "shape", ()))
        return {"event": self.kind, "node_id": self.node_id, "step": self.step, "total": self.total, "shape": shape}


@dataclass(slots=True)
class NodeFinished(Event):
    kind: ClassVar[str] = "node_finished"
    node_id: str
    node_type: str
    seconds: float


@dataclass(slots=True)
class NodeFailed(Event):
    kind: ClassVar[str] = "node_failed"
    node_id: str
    node_type: str
    message: str
    skipped: tuple[str, ...] = field(default=())


@dataclass(slots=True)
class MemoryWarning(Event):
    """Before a run loads anything: the estimate says the graph will not fit (``advice``: settings that would)."""

    kind: ClassVar[str] = "memory_warning"
    message: str
    advice: tuple[str, ...] = field(default=())


@dataclass(slots=True)
class WorkerAssigned(Event):
    """A job went to a worker of a render farm (again, with ``reason``, when the one before died)."""

    kind: ClassVar[str] = "worker_assigned"
    worker: str
    reason: str = ""


@dataclass(slots=True)
class Notice(Event):
    """Something the user should know about where jobs run ("connecting", "unreachable");
    ``level``: "status" (the status bar) or "error" (a banner)."""

    kind: ClassVar[str] = "notice"
    level: str
    text: str


@dataclass(slots=True)
class Done(Event):
    kind: ClassVar[str] = "done"
    report: Any  # RunReport

    def to_json(self) -> dict[str, Any]:
        return {"event": self.kind, **self.report.to_json()}


def json_value(value: Any) -> Any:
    """A JSON-friendly description of a value that travelled on a wire."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return to_json()
    shape = getattr(value, "shape", None)
    if shape is not None:
        return {"type": type(value).__name__, "shape": list(shape)}
    return {"type": type(value).__name__}
