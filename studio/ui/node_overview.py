"""How a node reads when zoomed out (level of detail): its name large and centred in its box, its run
state (or a problem, a missing file, else its type) under it, the state's colour along the bottom.

The text is laid out once per zoom and text (cached on the item), not on every paint. Also the
words of the missing-file warning, which both zoom levels show.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter

from studio.textsafe import safe
from studio.ui import theme

WIDTH = 210.0  # node_item.WIDTH (it imports this module)
TITLE_PIXELS = 20.0  # the title's height on screen when zoomed out (smaller if the name is too wide)
DETAIL_PIXELS = 12.0  # the line under it
BAND_PIXELS = 5.0  # the state's colour along the bottom
WARNING = "#ffb347"  # a missing model file: amber, where validation problems are red
PROBLEM = "#e5534b"


def missing_text(paths: list[str]) -> str:
    """The warning under a node whose model files the memory estimate did not find."""
    names = ", ".join(_file_name(path) for path in paths)
    return f"Model file not found: {names} (add its folder in Settings, or choose another)"


def _file_name(path: str) -> str:
    """A path's last part, escaped, its middle elided when longer than a node's width can wrap."""
    name = safe(PurePath(path.replace("\\", "/")).name or path)
    return name if len(name) <= 36 else f"{name[:16]}…{name[-18:]}"


def overview_lines(item: Any) -> tuple[str, str, str]:
    """Zoomed out: the node's name, the line under it and that line's colour: its run state,
    else a problem or a missing file, else its type."""
    if item.state:
        state = item.state
        if state == "running" and item.progress is not None:
            state = f"running {int(item.progress * 100)}%"
        return item.node_id, state, theme.STATE_COLORS.get(item.state, "#ffffff")
    if item.problems:
        count = len(item.problems)
        return item.node_id, f"{count} problem{'s' if count != 1 else ''}", "#ff8a80"
    if item.missing:
        return item.node_id, "model file missing", WARNING
    return item.node_id, "" if item.node_type == item.node_id else item.node_type, "#d8dce6"


def paint_overview(item: Any, painter: QPainter, zoom: float, state_color: QColor) -> None:
    """Zoomed out: the name large and centred, its state (or type) under it, the state's colour
    along the bottom (filled as far as the progress when running), and "!" for a problem."""
    scale = 1 / max(zoom, 0.01)
    title, detail, detail_color = overview_lines(item)
    fonts, title, detail = _overview_text(
        item, round(TITLE_PIXELS * scale), round(DETAIL_PIXELS * scale), title, detail
    )
    band = BAND_PIXELS * scale if item.state else 0.0
    margin = band + 3 * scale if band else 0.0
    title_height = fonts[0].pixelSize() * 1.25
    detail_height = fonts[1].pixelSize() * 1.3 if detail else 0.0
    top = max(0.0, (item.body_height - margin - title_height - detail_height) / 2)
    painter.setFont(fonts[0])
    painter.setPen(QColor("#ffffff"))
    painter.drawText(QRectF(0, top, WIDTH, title_height), Qt.AlignmentFlag.AlignCenter, title)
    if detail:
        painter.setFont(fonts[1])
        painter.setPen(QColor(detail_color))
        painter.drawText(QRectF(0, top + title_height, WIDTH, detail_height), Qt.AlignmentFlag.AlignCenter, detail)
    if band:  # a bar inside the box: no clipping to its rounded corners (a clip path costs more than the rest)
        fill = 1.0 if item.state != "running" or item.progress is None else item.progress
        bar = QRectF(8, item.body_height - band - 3 * scale, (WIDTH - 16) * fill, band)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(state_color)
        painter.drawRoundedRect(bar, band / 2, band / 2)
    if item.problems or item.missing:
        radius = 9 * scale
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(PROBLEM if item.problems else WARNING))
        painter.drawEllipse(QPointF(WIDTH - radius * 0.6, radius * 0.4), radius, radius)
        painter.setFont(fonts[1])
        painter.setPen(QColor("#10131a"))
        mark = QRectF(WIDTH - radius * 1.6, -radius * 0.6, 2 * radius, 2 * radius)
        painter.drawText(mark, Qt.AlignmentFlag.AlignCenter, "!")


def _overview_text(item: Any, title_px: int, detail_px: int, title: str, detail: str) -> tuple[Any, ...]:
    """The zoomed-out fonts and lines: the title shrunk to fit the box's width (elided only below
    the detail line's size), laid out when the zoom or the text changes, not on every paint."""
    key = (title_px, detail_px, title, detail, item.body_height)
    if item.overview[:5] == key:
        return item.overview[5:]
    width = WIDTH - 16
    title_px = max(1, min(title_px, round(item.body_height * 0.45)))
    title_font = _pixel_font(title_px, bold=True)
    advance = QFontMetricsF(title_font).horizontalAdvance(safe(title))
    if advance > width:
        title_font = _pixel_font(max(detail_px, int(title_px * width / advance)), bold=True)
    detail_font = _pixel_font(max(1, min(detail_px, title_font.pixelSize())))
    shown = QFontMetricsF(title_font).elidedText(safe(title), Qt.TextElideMode.ElideRight, width)
    under = QFontMetricsF(detail_font).elidedText(safe(detail), Qt.TextElideMode.ElideRight, width) if detail else ""
    item.overview = (*key, (title_font, detail_font), shown, under)
    return item.overview[5:]


_fonts: dict[tuple[int, bool], QFont] = {}


def _pixel_font(pixels: int, bold: bool = False) -> QFont:
    key = (pixels, bold)
    if key not in _fonts:
        font = QFont()
        font.setPixelSize(max(1, pixels))
        font.setBold(bold)
        _fonts[key] = font
    return _fonts[key]
