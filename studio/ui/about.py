"""AboutDialog: the studio's version and licence, the versions of the libraries it renders with, and,
in an installed bundle, the third-party licence notices gathered into it.

Versions are read from the installed packages' metadata, so opening the dialog never imports torch.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio import __version__
from studio.bundled import resources_root

LICENCE = "GPL-3.0-or-later"
LICENCE_URL = "https://www.gnu.org/licenses/gpl-3.0.html"
NOTICES_NAME = "THIRD-PARTY-NOTICES.txt"
# Label and distribution name of each library shown.
LIBRARIES = (("torch", "torch"), ("diffusers", "diffusers"), ("PyAV", "av"))


def component_versions() -> dict[str, str]:
    """The versions of the libraries the studio runs on, by the name users know them by."""
    import importlib.metadata  # here, not at the top: it costs the window's first paint ~50 ms

    versions = {}
    for label, dist in LIBRARIES:
        try:
            versions[label] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[label] = "not installed"
    versions["Qt"] = f"{qVersion()} (PySide6 {pyside_version})"
    versions["Python"] = platform.python_version()
    return versions


def bundled_notices() -> Path | None:
    """The third-party notices of an installed bundle (PyInstaller puts them beside the app's files)."""
    base = getattr(sys, "_MEIPASS", None)
    path = Path(base) / NOTICES_NAME if base else None
    return path if path is not None and path.is_file() else None


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, notices: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Studio")
        self.notices = notices if notices is not None else bundled_notices()
        layout = QVBoxLayout(self)

        icon = QLabel()
        icon.setPixmap(QIcon(str(resources_root() / "icons" / "studio.svg")).pixmap(96, 96))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(icon)
        title = QLabel(f"<h2>Studio {__version__}</h2>A node-graph studio for AI video generation.")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(title)
        licence = QLabel(
            f'Free software under the <a href="{LICENCE_URL}">{LICENCE}</a> licence, with ABSOLUTELY NO WARRANTY.'
        )
        licence.setOpenExternalLinks(True)
        licence.setWordWrap(True)
        layout.addWidget(licence)

        form = QFormLayout()
        self.version_labels = {}
        for name, version in component_versions().items():
            label = QLabel(version)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"{name}:", label)
            self.version_labels[name] = label
        layout.addLayout(form)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.notices_button = QPushButton("Third-party licences…")
        self.notices_button.setEnabled(self.notices is not None)
        if self.notices is None:
            self.notices_button.setToolTip(
                "Shown in the installed app; from a Python install, see each package's licence"
            )
        self.notices_button.clicked.connect(self.show_notices)
        buttons.addButton(self.notices_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout.addWidget(buttons)

    def show_notices(self) -> QDialog | None:
        if self.notices is None:
            return None
        viewer = QDialog(self)
        viewer.setWindowTitle("Third-party licences")
        viewer.resize(760, 640)
        text = QPlainTextEdit(viewer)
        text.setReadOnly(True)
        text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        text.setPlainText(self.notices.read_text(encoding="utf-8", errors="replace"))
        box = QVBoxLayout(viewer)
        box.addWidget(text)
        viewer.text = text
        viewer.show()
        return viewer
