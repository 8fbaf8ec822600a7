"""packaging/: the desktop files agree with each other and the app, the bundle's size steps remove
only what the app can do without, and the licence notices name each bundled project and its licence.
The bundle itself is built by tests/test_bundle.py (opt-in: STUDIO_TEST_BUNDLE=1)."""

from __future__ import annotations

import configparser
import importlib.metadata
import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINUX = ROOT / "packaging" / "linux"
sys.path.insert(0, str(ROOT / "packaging"))
sys.path.insert(0, str(ROOT / "packaging" / "pyinstaller"))
import notices  # noqa: E402
import slim  # noqa: E402

from studio.ui.app import APP_ID  # noqa: E402

MIME = "{http://www.freedesktop.org/standards/shared-mime-info}"


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(LINUX / f"{APP_ID}.desktop", encoding="utf-8")
    return parser["Desktop Entry"]


def test_a_double_clicked_graph_file_opens_in_the_app():
    """The MIME type claims *.graph.json as JSON underneath, and the desktop entry opens that type with
    the file's path, as `studio FILE` (tests/ui/test_launch.py opens it)."""
    (mime_type,) = ET.parse(LINUX / f"{APP_ID}.xml").getroot().iter(f"{MIME}mime-type")
    assert mime_type.get("type") == "application/x-studio-graph"
    assert [g.get("pattern") for g in mime_type.iter(f"{MIME}glob")] == ["*.graph.json"]
    assert mime_type.find(f"{MIME}sub-class-of").get("type") == "application/json"
    entry = _desktop_entry()
    assert "application/x-studio-graph" in entry["MimeType"].split(";")
    assert entry["Exec"] == "studio %f"
    assert entry["Icon"] == APP_ID


def test_the_metainfo_names_the_desktop_entry_icon_and_licences():
    root = ET.parse(LINUX / f"{APP_ID}.metainfo.xml").getroot()
    assert root.findtext("id") == APP_ID
    assert root.find("launchable").text == f"{APP_ID}.desktop"
    assert root.findtext("project_license") == "GPL-3.0-or-later"
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.find("releases/release").get("version") == importlib.metadata.version("studio")
    assert root.find("content_rating") is not None and root.find("screenshots/screenshot/image") is not None


@pytest.mark.parametrize("size", [16, 32, 48, 64, 128, 256, 512])
def test_the_icon_comes_in_every_usual_size(size):
    png = LINUX / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (size, size)
    svg = (LINUX / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").read_bytes()
    assert svg == (ROOT / "resources" / "icons" / "studio.svg").read_bytes()  # rendered from the app's icon


# ---- the bundle's size steps ---------------------------------------------------------------
def test_the_test_step_removes_test_suites_and_keeps_what_torch_imports_itself():
    toc = {
        "pure": [
            ("torch.testing", "a", "PYMODULE"),
            ("torch.testing._internal.common_utils", "b", "PYMODULE"),
            ("torch.testing._internal.logging_tensor", "g", "PYMODULE"),  # torch.utils.checkpoint imports it
            ("numpy.f2py.tests.util", "c", "PYMODULE"),
            ("numpy.f2py.tests", "numpy/f2py/tests/__init__.py", "PYMODULE"),
            ("jinja2.tests", "jinja2/tests.py", "PYMODULE"),  # jinja2's template tests: code, not a test suite
            ("unittest.mock", "d", "PYMODULE"),
        ],
        "datas": [
            ("torch/testing/_internal/data/x.py", "e", "DATA"),
            ("av/tests/x.mp4", "f", "DATA"),
            ("torch/testing/_internal/logging_tensor.py", "h", "DATA"),
        ],
        "binaries": [],
    }
    step = slim.remove_test_suites(toc)
    kept = ["torch.testing", "torch.testing._internal.logging_tensor", "jinja2.tests", "unittest.mock"]
    assert [e[0] for e in toc["pure"]] == kept
    assert [e[0] for e in toc["datas"]] == ["torch/testing/_internal/logging_tensor.py"] and len(step.removed) == 5


def test_the_qt_step_keeps_the_plugins_the_window_needs():
    kept = ["PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/Qt/plugins/imageformats/libqsvg.so"]
    dropped = [
        "PySide6/Qt/translations/qtbase_de.qm",
        "PySide6/Qt/plugins/sqldrivers/libqsqlite.so",
        "PySide6/Qt/qml/QtQuick/qmldir",
        "PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so",
    ]
    assert [p for p in kept + dropped if slim.is_unused_qt_file((p, "", "DATA"))] == dropped


def test_a_library_stays_while_a_kept_binary_links_it():
    """A CUDA build of torch links libcudart and cuBLAS from its core libraries: those stay; cuDNN's
    engines, opened by name for GPU work only, go."""
    links = {
        "torch/_C.so": ["libtorch_python.so"],
        "torch/lib/libtorch_python.so": ["libtorch_cuda.so", "libcudart.so.13"],
        "torch/lib/libtorch_cuda.so": ["libcublas.so.13"],
        "nvidia/cu13/lib/libcublas.so.13": ["libcublasLt.so.13"],
    }
    binaries = [(name, name, "BINARY") for name in [*links, "nvidia/cu13/lib/libcublasLt.so.13"]]
    binaries += [(n, n, "BINARY") for n in ("nvidia/cu13/lib/libcudart.so.13", "nvidia/cudnn/lib/libcudnn_ops.so.9")]
    orphans = slim.unlinked(binaries, slim.is_cuda_only, lambda path: links.get(path, []))
    assert [e[0] for e in orphans] == ["nvidia/cudnn/lib/libcudnn_ops.so.9"]


# ---- licence notices -------------------------------------------------------------------------
def test_the_notices_name_each_project_its_licence_and_carry_its_licence_text(tmp_path):
    dist = tmp_path / "fakeav-1.2.dist-info"
    (dist / "licenses").mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.4\nName: fakeav\nVersion: 1.2\nLicense-Expression: BSD-3-Clause\n"
    )
    (dist / "licenses" / "LICENSE.txt").write_text("Redistribution and use in source and binary forms...")
    text = notices.gather([tmp_path])
    assert "fakeav 1.2\n    licence: BSD-3-Clause" in text
    assert "Redistribution and use in source and binary forms" in text
    assert "x264" in text and "GNU LESSER GENERAL PUBLIC LICENSE" in text  # PyAV's GPL encoders, Qt's LGPL


def test_the_notices_of_this_environment_cover_pyav_qt_and_torch():
    places = [Path(importlib.metadata.distribution(name)._path) for name in ("av", "PySide6", "torch")]
    text = notices.gather(places)
    assert f"av {importlib.metadata.version('av')}\n    licence: BSD-3-Clause" in text
    assert "LGPL-3.0-only" in text and "torch" in text
