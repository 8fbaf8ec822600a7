"""Safe file writing: atomic replacement and confinement to an output folder."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _creation_mode() -> int:
    """The permission bits ``open()`` gives a new file under the process's umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# Read once at import: os.umask can only be read by setting it, which is not thread-safe later.
_NEW_FILE_MODE = _creation_mode()


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

    On an exception (a failed or cancelled render) the temporary file is removed and
    ``path`` is untouched. With ``overwrite=False`` an existing ``path`` is never replaced.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".partial{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); the finished file gets the mode of the file it
        # replaces, or what a plain open() would have given it, so other users and apps can read it.
        try:
            mode = target.stat().st_mode & 0o7777 if overwrite else _NEW_FILE_MODE
        except FileNotFoundError:
            mode = _NEW_FILE_MODE
        os.chmod(tmp, mode)
        if overwrite:
            os.replace(tmp, target)
        else:
            # link() fails if the target exists, so a concurrent writer can never be clobbered.
            os.link(tmp, target)
            tmp.unlink()
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


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
