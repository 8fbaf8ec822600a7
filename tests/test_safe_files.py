"""Safe file writing: atomic, readable by others like any saved file, confined to its folder."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from media_support import make_ctx

from studio import files
from studio.nodeapi import write_numbered


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    saved = files._NEW_FILE_MODE
    files._NEW_FILE_MODE = files._creation_mode()
    yield
    os.umask(old)
    files._NEW_FILE_MODE = saved


def test_a_new_file_gets_the_mode_a_plain_open_would_give_not_a_private_temp_mode(tmp_path, umask_022):
    target = files.atomic_write_bytes(tmp_path / "clip.mp4", b"data")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    with files.atomic_path(tmp_path / "second.mp4", overwrite=False) as tmp:
        tmp.write_bytes(b"x")
    assert stat.S_IMODE((tmp_path / "second.mp4").stat().st_mode) == 0o644


def test_replacing_a_file_keeps_its_mode(tmp_path, umask_022):
    target = tmp_path / "graph.json"
    target.write_text("old")
    target.chmod(0o640)
    files.atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_failed_write_keeps_the_old_file_and_leaves_no_partial(tmp_path):
    target = tmp_path / "out.mp4"
    target.write_bytes(b"earlier render")
    with pytest.raises(RuntimeError), files.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("render failed")
    assert target.read_bytes() == b"earlier render"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_a_numbered_write_never_replaces_an_existing_file(tmp_path):
    target = tmp_path / "take_00001.mp4"
    target.write_bytes(b"first")
    with pytest.raises(FileExistsError), files.atomic_path(target, overwrite=False) as tmp:
        tmp.write_bytes(b"second")
    assert target.read_bytes() == b"first"
    assert files.numbered_path(tmp_path, "take", ".mp4").name == "take_00002.mp4"


@pytest.mark.parametrize("name", ["../escape.mp4", "/etc/passwd", "a/../../b.mp4", "", "x\x00y", ".", "./.", "a/.."])
def test_names_that_leave_the_output_folder_are_refused(tmp_path, name):
    with pytest.raises(files.UnsafePathError):
        files.confined_path(tmp_path, name)


# ---- interrupted writers -------------------------------------------------------------------
# A child that starts writing through atomic_path, says where, and waits to be killed.
WRITER = """
import sys, time
from studio.files import atomic_path
with atomic_path(sys.argv[1], overwrite=False) as tmp:
    tmp.write_bytes(b"half a video")
    print(tmp, flush=True)
    time.sleep(60)
"""


@pytest.fixture
def writer(tmp_path):
    """Start a writer child on ``tmp_path / name``; returns its temporary file once it is writing."""
    children = []

    def start(name: str) -> Path:
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path / name)], stdout=subprocess.PIPE, text=True
        )
        children.append(child)
        return Path(child.stdout.readline().strip())

    start.children = children
    yield start
    for child in children:
        child.kill()
        child.wait()
        child.stdout.close()


def test_a_temporary_file_names_its_owner(tmp_path):
    with files.atomic_path(tmp_path / "take_00001.mp4") as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".mp4"
        assert tmp.name.startswith(f".take_00001.partial.{os.getpid()}.")


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_during_the_write_leaves_no_partial(tmp_path, interrupt):
    with pytest.raises(interrupt), files.atomic_path(tmp_path / "out.mp4") as tmp:
        tmp.write_bytes(b"half")
        raise interrupt()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and flock are POSIX")
def test_a_partial_left_by_a_killed_writer_is_removed_by_the_next_write_and_a_live_ones_is_not(tmp_path, writer):
    killed = writer("take_00001.mp4")
    live = writer("take_00002.mp4")
    assert killed.exists() and live.exists()
    writer.children[0].send_signal(signal.SIGKILL)
    writer.children[0].wait()
    assert killed.exists()  # nothing in the dead process got to remove it

    ctx = make_ctx(tmp_path)
    target = write_numbered(ctx, "take", ".mp4", lambda tmp: tmp.write_bytes(b"whole"))
    assert not killed.exists()
    assert live.exists()  # its writer still runs and holds the lock
    assert target.read_bytes() == b"whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "take_00001.mp4"])


def test_a_sweep_leaves_this_processs_own_writes_and_other_files_alone(tmp_path):
    (tmp_path / ".notes.partial.txt").write_text("not ours")
    (tmp_path / ".x.partial.1.abcdefgh.mp4").mkdir()  # a folder named like a partial
    with files.atomic_path(tmp_path / "clip.mp4") as tmp:
        tmp.write_bytes(b"in progress")
        assert files.remove_stale_partials(tmp_path) == []
        assert tmp.exists()
    assert (tmp_path / "clip.mp4").read_bytes() == b"in progress"
    assert (tmp_path / ".notes.partial.txt").exists() and (tmp_path / ".x.partial.1.abcdefgh.mp4").is_dir()


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_a_partial_swept_before_its_writer_locked_it_makes_the_writer_take_another_name(tmp_path, monkeypatch):
    real_flock = files.fcntl.flock
    swept: list[list[Path]] = []

    def flock_after_a_sweep(fd, operation):
        if operation == files.fcntl.LOCK_EX and not swept:  # the writer's first lock, not the sweep's
            swept.append([])
            swept[0].extend(files.remove_stale_partials(tmp_path))
        return real_flock(fd, operation)

    monkeypatch.setattr(files.fcntl, "flock", flock_after_a_sweep)
    with files.atomic_path(tmp_path / "clip.mp4") as tmp:
        tmp.write_bytes(b"whole")
    assert len(swept[0]) == 1 and swept[0][0] != tmp
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]
