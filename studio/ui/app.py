"""Application start-up: builds the QApplication, applies the theme and shows the main window.

Nothing here imports torch or diffusers: the engine imports them on the first run, so the
window appears fast.
"""

from __future__ import annotations

import sys
from typing import Any

# The desktop entry's and AppStream's id (packaging/linux): Wayland and X11 shells match the window to it.
APP_ID = "io.github.studio_app.Studio"


def run_app(argv: list[str]) -> int:
    from PySide6.QtWidgets import QApplication

    from studio.run_console import log_to_stderr
    from studio.settings import Settings
    from studio.ui.qt_compat import check_binding

    log_to_stderr()  # warnings quote graph files: one escaped line each, as the command line prints them

    problem = check_binding()
    if problem:
        print(f"studio: {problem}", file=sys.stderr)
        return 1
    from studio.ui.main_window import MainWindow
    from studio.ui.theme import STYLE, apply_theme

    app = QApplication.instance()
    created = app is None
    if created:
        # The style as Qt's own argument: app.setStyle() also hands Python the style it made,
        # and PySide creates QStyle's many enums for it (milliseconds before the first paint).
        app = QApplication([sys.argv[0], "-style", STYLE, *argv])
    app.setApplicationName("Studio")
    app.setOrganizationName("studio")
    app.setDesktopFileName(APP_ID)
    settings = Settings.load()
    apply_theme(app, settings.theme, set_style=not created)
    window = MainWindow(settings, deferred=True)  # the frame first; its contents just after it paints
    window.open_at_start(argv[0] if argv else None)
    window.built.connect(lambda: _set_icon(app))
    window.show()
    return app.exec()


def _set_icon(app: Any) -> None:
    """The window's icon for the task bar (once the window has painted: it reads the bundled files)."""
    from PySide6.QtGui import QIcon

    from studio.bundled import resources_root

    app.setWindowIcon(QIcon(str(resources_root() / "icons" / "studio.svg")))
