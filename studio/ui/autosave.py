"""Autosave and crash recovery: every 30 s an edited graph is written to a recovery file,
removed again when its document is saved or the window closes normally.

Each window holds a lock (a ``QLockFile``) beside its recovery file while it runs. At start-up
a recovery file whose lock can be taken was left by a session that ended without closing
(a crash, a kill) and is offered; one whose lock is held belongs to a studio still running and
is left alone. The operating system's lock decides, never a process id alone: ids are reused.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, QTimer, Signal
from PySide6.QtWidgets import QMainWindow

from studio.files import atomic_write_bytes
from studio.graph.fileformat import GraphFileError, dumps_graph, load_graph
from studio.graph.model import Graph
from studio.settings import data_dir

INTERVAL_MS = 30_000


def recovery_dir() -> Path:
    return data_dir() / "recovery"


@dataclass
class Recovery:
    """A recovery file left by a session that did not close; holds its lock until released."""

    graph_path: Path
    source: str  # the file the graph was edited from, "" if never saved
    saved: float
    lock: QLockFile | None = field(default=None, repr=False, compare=False)

    def load(self) -> Graph:
        return load_graph(self.graph_path)

    def discard(self) -> None:
        """Delete the recovery file, then give up its lock."""
        for path in (self.graph_path, _info_path(self.graph_path)):
            path.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        """Give up the lock and keep the file: it is offered again at the next start."""
        if self.lock is not None:
            self.lock.unlock()
            self.lock = None


def _info_path(graph_path: Path) -> Path:
    return graph_path.with_name(graph_path.name.replace(".graph.json", ".info.json"))


def _lock_path(graph_path: Path) -> Path:
    return graph_path.with_name(graph_path.name.replace(".graph.json", ".lock"))


def take_lock(path: Path) -> QLockFile | None:
    """The lock at ``path``, taken, if no running process holds it; else None."""
    lock = QLockFile(str(path))
    lock.setStaleLockTime(0)  # a window holds its lock for hours: age says nothing about its owner
    if lock.tryLock(0):
        return lock  # no lock file, or one whose process is gone
    # The recorded process id runs, maybe reused by another program since. Removing the file
    # takes the operating system's lock on it (flock on Unix; on Windows an open file cannot be
    # deleted), which only succeeds if no live process holds it.
    if lock.error() == QLockFile.LockError.LockFailedError and lock.removeStaleLockFile() and lock.tryLock(0):
        return lock
    return None


def find_recoveries() -> list[Recovery]:
    """Recovery files left by sessions that did not close, newest first, each with its lock taken.

    Files whose lock a running studio holds (this one included) are not listed. The caller
    restores, discards or releases each one it gets.
    """
    folder = recovery_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("recovery-*.graph.json")):
        lock = take_lock(_lock_path(path))
        if lock is None:
            continue  # another studio window is running and owns this file
        try:
            info = json.loads(_info_path(path).read_text("utf-8"))
        except (OSError, ValueError):
            info = None
        info = info if isinstance(info, dict) else {}
        saved = info.get("saved")
        if isinstance(saved, bool) or not isinstance(saved, (int, float)):
            saved = _mtime(path)
        found.append(Recovery(path, str(info.get("source", "")), float(saved), lock))
    _remove_orphan_locks(folder)
    return sorted(found, key=lambda r: -r.saved)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _remove_orphan_locks(folder: Path) -> None:
    """Locks of dead sessions that had nothing to recover: taking one and letting go deletes it."""
    for path in folder.glob("recovery-*.lock"):
        if not path.with_name(path.name.replace(".lock", ".graph.json")).exists():
            lock = take_lock(path)
            if lock is not None:
                lock.unlock()


def save_failure_reason(exc: Exception) -> str:
    """Why a save failed, in one short line for the status bar."""
    if isinstance(exc, GraphFileError):
        return "; ".join(exc.problems[:3]) + (f" (and {len(exc.problems) - 3} more)" if len(exc.problems) > 3 else "")
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return f"{type(exc).__name__}: {exc}"


class Autosaver(QObject):
    """Writes ``graph()`` to this window's recovery file when ``is_dirty()`` says there are changes.

    A failure (a full disk, a value JSON cannot hold) never interrupts work: ``save_failed``
    says why, once per streak of failures, and the next tick tries again.
    """

    save_failed = Signal(str)

    _counter = 0

    def __init__(
        self, graph: Callable[[], Graph], is_dirty: Callable[[], bool], source: Callable[[], str], parent: QObject
    ) -> None:
        super().__init__(parent)
        Autosaver._counter += 1
        self.path = recovery_dir() / f"recovery-{os.getpid()}-{Autosaver._counter}.graph.json"
        self._graph, self._is_dirty, self._source = graph, is_dirty, source
        self._lock: QLockFile | None = None  # taken before the first write, held until stop()
        self._adopted: list[Recovery] = []
        self._failure = ""
        if isinstance(parent, QMainWindow):
            self.save_failed.connect(lambda text: parent.statusBar().showMessage(text, 10_000))
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.save_now)
        self.timer.start()
        self.last_saved = 0.0

    def adopt(self, recovery: Recovery) -> None:
        """Keep a restored recovery file, locked, until this window autosaves or its document is
        saved; if this session crashes too, the file is offered again at the next start."""
        self._adopted.append(recovery)

    def save_now(self) -> Path | None:
        if not self._is_dirty():
            self.discard()  # a saved document needs no recovery copy
            return None
        try:
            data = dumps_graph(self._graph()).encode("utf-8")
            self._hold_lock()
            atomic_write_bytes(self.path, data)
            info = {"source": self._source(), "saved": time.time(), "pid": os.getpid()}
            atomic_write_bytes(_info_path(self.path), json.dumps(info).encode("utf-8"))
        except Exception as exc:  # must not interrupt work; the previous recovery file is kept
            reason = f"Autosave failed: {save_failure_reason(exc)}"
            if reason != self._failure:
                self._failure = reason
                self.save_failed.emit(reason)
            return None
        self._failure = ""
        self._drop_adopted()  # this file now holds the newer work
        self.last_saved = time.time()
        return self.path

    def _hold_lock(self) -> None:
        if self._lock is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = take_lock(_lock_path(self.path))
        if lock is None:
            raise OSError(f"cannot lock {_lock_path(self.path)}")
        self._lock = lock

    def _drop_adopted(self) -> None:
        for recovery in self._adopted:
            recovery.discard()
        self._adopted = []

    def discard(self) -> None:
        for path in (self.path, _info_path(self.path)):
            path.unlink(missing_ok=True)
        self._drop_adopted()

    def stop(self) -> None:
        self.timer.stop()
        self.discard()
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None


__all__ = ["Autosaver", "GraphFileError", "Recovery", "find_recoveries", "recovery_dir", "save_failure_reason"]
