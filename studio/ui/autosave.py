"""Autosave and crash recovery: every 30 s an edited graph is written to a recovery file,
removed again when the window closes normally. A recovery file found at start-up means a
session ended without closing, so the app offers to restore it."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from studio.files import atomic_write_bytes
from studio.graph.fileformat import GraphFileError, dumps_graph, load_graph
from studio.graph.model import Graph
from studio.settings import data_dir

INTERVAL_MS = 30_000


def recovery_dir() -> Path:
    return data_dir() / "recovery"


@dataclass
class Recovery:
    graph_path: Path
    source: str  # the file the graph was edited from, "" if never saved
    saved: float

    def load(self) -> Graph:
        return load_graph(self.graph_path)

    def discard(self) -> None:
        for path in (self.graph_path, _info_path(self.graph_path)):
            path.unlink(missing_ok=True)


def _info_path(graph_path: Path) -> Path:
    return graph_path.with_name(graph_path.name.replace(".graph.json", ".info.json"))


def find_recoveries() -> list[Recovery]:
    """Recovery files left by sessions that did not close, newest first (never this process's)."""
    found = []
    folder = recovery_dir()
    if not folder.is_dir():
        return []
    mine = f"recovery-{os.getpid()}-"
    for path in folder.glob("recovery-*.graph.json"):
        if path.name.startswith(mine):
            continue
        try:
            info = json.loads(_info_path(path).read_text("utf-8"))
        except (OSError, ValueError):
            info = {}
        if _alive(info.get("pid")):
            continue  # another studio window is running and owns this file
        found.append(Recovery(path, str(info.get("source", "")), float(info.get("saved", path.stat().st_mtime))))
    return sorted(found, key=lambda r: -r.saved)


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


class Autosaver(QObject):
    """Writes ``graph()`` to this window's recovery file when ``is_dirty()`` says there are changes."""

    _counter = 0

    def __init__(
        self, graph: Callable[[], Graph], is_dirty: Callable[[], bool], source: Callable[[], str], parent: QObject
    ) -> None:
        super().__init__(parent)
        Autosaver._counter += 1
        self.path = recovery_dir() / f"recovery-{os.getpid()}-{Autosaver._counter}.graph.json"
        self._graph, self._is_dirty, self._source = graph, is_dirty, source
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.save_now)
        self.timer.start()
        self.last_saved = 0.0

    def save_now(self) -> Path | None:
        if not self._is_dirty():
            self.discard()  # a saved document needs no recovery copy
            return None
        try:
            atomic_write_bytes(self.path, dumps_graph(self._graph()).encode("utf-8"))
            info = {"source": self._source(), "saved": time.time(), "pid": os.getpid()}
            atomic_write_bytes(_info_path(self.path), json.dumps(info).encode("utf-8"))
        except OSError:
            return None  # a full disk must not interrupt work; the next tick tries again
        self.last_saved = time.time()
        return self.path

    def discard(self) -> None:
        for path in (self.path, _info_path(self.path)):
            path.unlink(missing_ok=True)

    def stop(self) -> None:
        self.timer.stop()
        self.discard()


__all__ = ["Autosaver", "GraphFileError", "Recovery", "find_recoveries", "recovery_dir"]
