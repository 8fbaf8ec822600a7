"""Safe file writing: atomic, readable by others like any saved file, confined to its folder."""

from __future__ import annotations

import os
import stat

import pytest

from studio import files


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
