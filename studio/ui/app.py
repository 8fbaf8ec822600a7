"""Application start-up: builds the QApplication and the main window."""

from __future__ import annotations

import sys


def run_app(argv: list[str]) -> int:
    from PySide6.QtWidgets import QApplication

    from studio.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("Studio")
    app.setOrganizationName("studio")
    window = MainWindow()
    if argv:
        window.open_graph(argv[0])
    window.show()
    return app.exec()
