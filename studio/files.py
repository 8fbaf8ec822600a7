"""Safe file writing: atomic replacement, clean-up after killed writers, confinement to an output folder."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def _creation_mode() -> int:
    """The permission bits ``open()`` gives a new file under the process's umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# Read once at import: os.umask can only be read by setting it, which is not thread-safe later.
_NEW_FILE_MODE = _creation_mode()


# Temporary files are ``.<stem>.partial.<pid>.<random><suffix>``: whose they are, at a glance.
PARTIAL_MARK = ".partial."
_PARTIAL_NAME = re.compile(r"\..*\.partial\.\d+\.[a-z0-9_]{8}(\.[^.]*)?")
_WINDOWS_GRACE_S = 600.0


class UnsafePathError(ValueError):
    """A name that would write outside the folder it is meant for."""


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` so readers see either the old file or the whole new one."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    return Path(path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds.

    On an exception (a failed or cancelled render, KeyboardInterrupt, SystemExit) the temporary
    file is removed and ``path`` is untouched. With ``overwrite=False`` an existing ``path`` is
    never replaced. What Python never gets to run after (SIGKILL, a signal with no handler, a
    daemon thread stopped at exit) leaves the temporary file: it is named for this process and
    locked while written, so :func:`remove_stale_partials` can tell it from a live writer's.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp: Path | None = None
    lock: int | None = None
    try:
        tmp, lock = _claim_partial(target)
        yield tmp
        # mkstemp makes the file private (0600); the finished file gets the mode of the file it
        # replaces, or what a plain open() would have given it, so other users and apps can read it.
        try:
            mode = target.stat().st_mode & 0o7777 if overwrite else _NEW_FILE_MODE
        except FileNotFoundError:
            mode = _NEW_FILE_MODE
        os.chmod(tmp, mode)
        if fcntl is None:
            # Windows cannot rename a file that is open; the lock ends here.
            os.close(lock)
            lock = None
        if overwrite:
            os.replace(tmp, target)
        else:
            # link() fails if the target exists, so a concurrent writer can never be clobbered.
            os.link(tmp, target)
            tmp.unlink()
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        raise
    finally:
        if lock is not None:
            os.close(lock)


def _claim_partial(target: Path) -> tuple[Path, int]:
    """Create ``.<stem>.partial.<pid>.<random><suffix>`` beside ``target``, locked by the open descriptor returned.

    The lock is ``flock`` on the file itself (per open file, so it holds against this process's
    other descriptors too, and the kernel drops it when the process dies, however it dies).
    """
    while True:
        fd, name = tempfile.mkstemp(
            prefix=f".{target.stem}{PARTIAL_MARK}{os.getpid()}.", suffix=target.suffix, dir=target.parent
        )
        tmp = Path(name)
        if fcntl is None:
            return tmp, fd  # Windows: an open file cannot be deleted, which protects it as well
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            return tmp, fd  # a file system without locks: sweeps cannot lock it either, so they skip it
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        if _names_open_file(tmp, fd):
            return tmp, fd
        # A sweep removed the file in the instant between its creation and the lock: take another name.
        os.close(fd)


def remove_stale_partials(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files that writers which died mid-write left in ``folder``; return them.

    A partial whose writer is still running (in this process or another) holds its lock and is
    left alone; so is anything that is not a regular file or cannot be opened.
    """
    removed = []
    try:
        candidates = sorted(Path(folder).glob(f".*{PARTIAL_MARK}*"))
    except OSError:
        return []
    for path in candidates:
        if _PARTIAL_NAME.fullmatch(path.name) and _remove_if_abandoned(path):
            removed.append(path)
    return removed


def _remove_if_abandoned(path: Path) -> bool:
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return False
        if fcntl is None:
            # Windows: a live writer keeps the file open (delete fails); between closing it and
            # the rename it is briefly closed, so recent files are given time.
            if time.time() - path.stat().st_mtime < _WINDOWS_GRACE_S:
                return False
            path.unlink()
            return True
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # Holding the lock, the file is ours to judge: its writer died before renaming it.
        if not _names_open_file(path, fd):
            return False
        path.unlink()
        return True
    except OSError:
        return False  # locked by a live writer (or the file system has no locks: cannot tell)
    finally:
        os.close(fd)


def _names_open_file(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (not removed or replaced meanwhile)."""
    try:
        return os.path.samestat(os.stat(path, follow_symlinks=False), os.fstat(fd))
    except OSError:
        return False


def confined_path(root: str | os.PathLike[str], relative: str) -> Path:
    """Resolve ``relative`` under ``root``, refusing absolute paths and anything that leaves it."""
    if not relative or relative.strip() == "":
        raise UnsafePathError("the file name is empty")
    if "\x00" in relative:
        raise UnsafePathError(f"the file name {relative!r} contains a NUL character")
    candidate = Path(relative)
    if candidate.is_absolute() or relative.startswith(("/", "\\")) or (len(relative) > 1 and relative[1] == ":"):
        raise UnsafePathError(f"{relative!r} is an absolute path; give a name inside the output folder")
    if ".." in Path(relative.replace("\\", "/")).parts:
        raise UnsafePathError(f"{relative!r} leaves the output folder ('..' is not allowed)")
    base = Path(root).resolve()
    resolved = (base / candidate).resolve()
    if resolved == base:
        # "." or "./." names the folder itself: a numbered file would land beside it, outside.
        raise UnsafePathError(f"{relative!r} names the output folder itself; give a file name inside it")
    if base not in resolved.parents:
        raise UnsafePathError(f"{relative!r} resolves outside the output folder {base}")
    return resolved


def numbered_path(root: str | os.PathLike[str], prefix: str, suffix: str, digits: int = 5) -> Path:
    """The first ``<prefix>_00001<suffix>`` under ``root`` that does not exist yet.

    Never overwrites: the caller writes with ``atomic_path(..., overwrite=False)`` and retries
    with the next number if another writer took the name in between.
    """
    stem = confined_path(root, prefix)
    stem.parent.mkdir(parents=True, exist_ok=True)
    taken = {p.name for p in stem.parent.glob(f"{stem.name}_*{suffix}")}
    n = 1
    while f"{stem.name}_{n:0{digits}d}{suffix}" in taken:
        n += 1
    return stem.parent / f"{stem.name}_{n:0{digits}d}{suffix}"
