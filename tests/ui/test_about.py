"""Help → About Studio shows the version, the licence and the libraries' versions, and in a bundle
the third-party licence notices."""

from __future__ import annotations

import importlib.metadata

import pytest
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion

import studio
from studio.ui.about import AboutDialog

pytestmark = pytest.mark.qt


def _about_action(window):
    (help_menu,) = [a.menu() for a in window.menuBar().actions() if a.text() == "&Help"]
    (about,) = [a for a in help_menu.actions() if a.text() == "About Studio"]
    return about


def test_help_about_shows_the_version_licence_and_library_versions(window, qtbot):
    _about_action(window).trigger()
    dialog = window.findChild(AboutDialog)
    assert dialog is not None and dialog.isVisible()
    texts = " ".join(label.text() for label in dialog.findChildren(type(dialog.version_labels["Qt"])))
    assert f"Studio {studio.__version__}" in texts
    assert "GPL-3.0-or-later" in texts
    shown = {name: label.text() for name, label in dialog.version_labels.items()}
    assert shown["torch"] == importlib.metadata.version("torch")
    assert shown["diffusers"] == importlib.metadata.version("diffusers")
    assert shown["PyAV"] == importlib.metadata.version("av")
    assert shown["Qt"] == f"{qVersion()} (PySide6 {pyside_version})"
    # Outside a bundle there is no notices file to show.
    assert not dialog.notices_button.isEnabled()
    dialog.close()


def test_the_bundles_notices_open_in_a_viewer(qtbot, tmp_path):
    notices = tmp_path / "THIRD-PARTY-NOTICES.txt"
    notices.write_text("PySide6 6.11\n    licence: LGPL-3.0-only\n", encoding="utf-8")
    dialog = AboutDialog(notices=notices)
    qtbot.addWidget(dialog)
    assert dialog.notices_button.isEnabled()
    viewer = dialog.show_notices()
    assert "LGPL-3.0-only" in viewer.text.toPlainText()
    assert viewer.text.isReadOnly()
