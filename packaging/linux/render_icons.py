"""Render the app icon (resources/icons/studio.svg) into the freedesktop icon theme layout.

    python packaging/linux/render_icons.py

Writes icons/hicolor/scalable/apps/APP_ID.svg and icons/hicolor/NxN/apps/APP_ID.png beside this
script, with Qt's own SVG renderer (QtSvg), so no other image tool is needed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[1] / "resources" / "icons" / "studio.svg"
APP_ID = "io.github.studio_app.Studio"
SIZES = (16, 32, 48, 64, 128, 256, 512)


def render(size: int, target: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise SystemExit(f"{SOURCE}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    target.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(target), "PNG"):
        raise SystemExit(f"{target}: could not write")


def main() -> int:
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(["render_icons", "-platform", "offscreen"])  # noqa: F841
    theme = HERE / "icons" / "hicolor"
    scalable = theme / "scalable" / "apps" / f"{APP_ID}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCE, scalable)
    for size in SIZES:
        render(size, theme / f"{size}x{size}" / "apps" / f"{APP_ID}.png")
    print(f"{theme}: scalable + {', '.join(map(str, SIZES))} px")
    return 0


if __name__ == "__main__":
    sys.exit(main())
