"""Colours and the application stylesheet: dark by default, light available.

Node headers are coloured by category and ports by wire type, so a graph reads at a glance.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

# Wire types (DESIGN.md §3) and scalar kinds, one hue each.
PORT_COLORS = {
    "MODEL": "#b48ef0",
    "CONDITIONING": "#f0c060",
    "LATENT": "#f08aa8",
    "FRAMES": "#5cc8f0",
    "AUDIO": "#7adf8a",
    "VIDEO": "#4f8ef7",
    "IMAGE": "#60e0d0",
    "INT": "#a0b0c0",
    "FLOAT": "#c0c0a0",
    "STRING": "#d0a080",
    "BOOL": "#e07070",
}

CATEGORY_COLORS = {
    "Generate": "#3f7d5a",
    "Diffusion": "#6a4f9a",
    "Input": "#2f6f8f",
    "Output": "#8a4b5c",
    "Model": "#6a4f9a",
    "Models": "#6a4f9a",
    "Loaders": "#6a4f9a",
    "Conditioning": "#9a7b2f",
    "Sampling": "#a0513a",
    "Latent": "#8c4f7a",
    "Media": "#2f6f8f",
    "Video": "#2f6f8f",
    "Image": "#2f7f7a",
    "Audio": "#3f7f3f",
    "Primitive": "#56606e",
}

STATE_COLORS = {
    "queued": "#8a93a6",
    "running": "#f0a030",
    "cached": "#5aa0e0",
    "done": "#4cc38a",
    "failed": "#e5534b",
    "invalid": "#e5534b",
    "skipped": "#7a7a7a",
}


def port_color(type_name: str) -> QColor:
    if type_name in PORT_COLORS:
        return QColor(PORT_COLORS[type_name])
    return QColor(_hashed_color(type_name, 0.55, 0.75))


def category_color(category: str) -> QColor:
    if category in CATEGORY_COLORS:
        return QColor(CATEGORY_COLORS[category])
    return QColor(_hashed_color(category, 0.45, 0.45))


def _hashed_color(name: str, saturation: float, value: float) -> str:
    """A stable colour for a name no table knows (node packs bring their own categories)."""
    import hashlib  # here: only node packs' categories need it, and it slows the window's start

    hue = int(hashlib.sha1(name.encode()).hexdigest()[:4], 16) % 360
    return QColor.fromHsvF(hue / 360, saturation, value).name()


@dataclass(frozen=True)
class Theme:
    name: str
    window: str
    base: str
    panel: str
    border: str
    text: str
    dim_text: str
    accent: str
    canvas: str
    grid: str
    grid_major: str
    node_body: str
    node_text: str


DARK = Theme(
    name="dark",
    window="#1e2127",
    base="#16181d",
    panel="#252932",
    border="#363c48",
    text="#e4e7ee",
    dim_text="#9aa3b5",
    accent="#4f8ef7",
    canvas="#1a1d23",
    grid="#22262e",
    grid_major="#2a2f39",
    node_body="#2b303b",
    node_text="#e8ebf2",
)

LIGHT = Theme(
    name="light",
    window="#eef0f4",
    base="#ffffff",
    panel="#f7f8fa",
    border="#c9ced8",
    text="#1d2230",
    dim_text="#5d6577",
    accent="#2f6fde",
    canvas="#f4f5f8",
    grid="#e6e8ee",
    grid_major="#d8dce5",
    node_body="#ffffff",
    node_text="#1d2230",
)

THEMES = {"dark": DARK, "light": LIGHT}
STYLE = "Fusion"  # the same on every desktop; the stylesheet below refines it
_current = DARK


def current() -> Theme:
    return _current


def apply_theme(app: QApplication, name: str, *, set_style: bool = True) -> Theme:
    """Set the style, palette, font and stylesheet of ``app``; returns the theme applied.
    ``set_style=False``: the app was created with ``-style`` STYLE already."""
    global _current
    theme = THEMES.get(name, DARK)
    _current = theme
    if set_style:
        app.setStyle(STYLE)
    palette = QPalette()
    colors = {
        QPalette.ColorRole.Window: theme.window,
        QPalette.ColorRole.WindowText: theme.text,
        QPalette.ColorRole.Base: theme.base,
        QPalette.ColorRole.AlternateBase: theme.panel,
        QPalette.ColorRole.Text: theme.text,
        QPalette.ColorRole.Button: theme.panel,
        QPalette.ColorRole.ButtonText: theme.text,
        QPalette.ColorRole.Highlight: theme.accent,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: theme.panel,
        QPalette.ColorRole.ToolTipText: theme.text,
        QPalette.ColorRole.PlaceholderText: theme.dim_text,
    }
    for role, value in colors.items():
        palette.setColor(role, QColor(value))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(theme.dim_text))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(theme.dim_text))
    app.setPalette(palette)
    font = QFont(app.font())
    font.setPointSizeF(9.5)
    app.setFont(font)
    app.setStyleSheet(stylesheet(theme))
    return theme


def _faded(color: str, alpha: int = 100) -> str:
    """``color`` (#rrggbb) see-through: disabled text, fainter than the dim hints (which must be read)."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def stylesheet(theme: Theme) -> str:
    t = theme
    return f"""
QMainWindow, QDialog {{ background: {t.window}; }}
QDockWidget {{ color: {t.text}; font-weight: 600; }}
QDockWidget::title {{ background: {t.panel}; padding: 5px 8px; border-bottom: 1px solid {t.border}; }}
QToolBar {{ background: {t.panel}; border: none; border-bottom: 1px solid {t.border}; spacing: 4px; padding: 3px; }}
QToolButton {{ color: {t.text}; padding: 4px 8px; border-radius: 4px; }}
QToolButton:hover {{ background: {t.border}; }}
QToolButton#run-button {{ background: {t.accent}; color: white; font-weight: 600; padding: 4px 14px; }}
QToolButton#run-button:hover {{ background: {t.accent}; border: 1px solid white; }}
QToolButton:checked {{ background: {t.accent}; color: white; }}
QWidget#timelineToolbar QToolButton {{ padding: 3px 4px; }}
QPushButton {{ background: {t.panel}; color: {t.text}; border: 1px solid {t.border}; border-radius: 4px;
  padding: 4px 10px; }}
QPushButton:hover {{ border-color: {t.accent}; }}
QPushButton#primary {{ background: {t.accent}; color: white; border-color: {t.accent}; font-weight: 600; }}
QPushButton:disabled, QToolButton:disabled {{ color: {_faded(t.text)}; }}
QLineEdit, QPlainTextEdit, QSpinBox, QDoubleSpinBox, QComboBox {{ background: {t.base}; color: {t.text};
  border: 1px solid {t.border}; border-radius: 4px; padding: 3px 5px; selection-background-color: {t.accent}; }}
QAbstractSpinBox::up-button, QAbstractSpinBox::down-button {{ width: 0px; border: none; }}
QLineEdit:focus, QPlainTextEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus, QComboBox:focus {{
  border-color: {t.accent}; }}
QLineEdit[invalid="true"], QPlainTextEdit[invalid="true"] {{ border-color: #e5534b; }}
QListWidget, QTreeWidget, QTableWidget {{ background: {t.base}; color: {t.text}; border: 1px solid {t.border};
  border-radius: 4px; }}
QListWidget::item:selected, QTreeWidget::item:selected {{ background: {t.accent}; color: white; }}
QHeaderView::section {{ background: {t.panel}; color: {t.dim_text}; border: none; padding: 4px; }}
QLabel#dim {{ color: {t.dim_text}; }}
QLabel#title {{ font-size: 12pt; font-weight: 600; }}
QLabel#error {{ color: #e5534b; }}
QLabel#banner {{ background: #5a4a1c; color: #ffe9a8; padding: 6px 10px; border-radius: 4px; }}
QProgressBar {{ background: {t.base}; border: 1px solid {t.border}; border-radius: 3px; text-align: center;
  color: {t.text}; height: 14px; }}
QProgressBar::chunk {{ background: {t.accent}; border-radius: 2px; }}
QSlider::groove:horizontal {{ height: 4px; background: {t.border}; border-radius: 2px; }}
QSlider::handle:horizontal {{ background: {t.accent}; width: 12px; margin: -5px 0; border-radius: 6px; }}
QSlider::sub-page:horizontal {{ background: {t.accent}; border-radius: 2px; }}
QTabBar::tab {{ background: {t.panel}; color: {t.dim_text}; padding: 5px 12px; border: none; }}
QTabBar::tab:selected {{ color: {t.text}; border-bottom: 2px solid {t.accent}; }}
QMenu {{ background: {t.panel}; color: {t.text}; border: 1px solid {t.border}; }}
QMenu::item:selected {{ background: {t.accent}; color: white; }}
QMenuBar {{ background: {t.window}; color: {t.text}; }}
QMenuBar::item:selected {{ background: {t.border}; }}
QStatusBar {{ background: {t.panel}; color: {t.dim_text}; border-top: 1px solid {t.border}; }}
QScrollArea {{ border: none; }}
QFrame#palette {{ background: {t.panel}; border: 1px solid {t.accent}; border-radius: 6px; }}
QSplitter::handle {{ background: {t.border}; }}
"""
