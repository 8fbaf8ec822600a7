"""The docks' default arrangement: the inspector over the live preview on the right; the output
viewer beside the render queue below, with problems, history and the timeline as tabs behind the
queue.

The window restores it from the bytes ``QMainWindow.saveState()`` writes for it (STATE) instead of
placing each dock by calls: naming a dock area makes PySide create the Python enums of the whole
Qt namespace (93 of them, ~18 ms), and nothing else the window's first paint needs names one.
``arrange()`` is the same arrangement by calls. It made STATE (``python -m studio.ui.dock_layout``
prints the bytes again after a change), it is the fallback should Qt refuse the bytes, and a test
checks that both put every dock in the same place.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

DOCKS = {
    "inspector": "Inspector",
    "preview": "Live preview",
    "output": "Output",
    "history": "History",
    "queue": "Render queue",
    "problems": "Problems",
    "timeline": "Timeline",
}
WINDOW_SIZE = (1600, 1000)  # the window's size when STATE was made, and when it opens

STATE = bytes.fromhex(
    "000000ff00000000fd0000000200000001000001ae000002fefc0200000002fb000000120069006e0073007000650063"
    "0074006f00720100000000000001ae0000001900fffffffb0000000e0070007200650076006900650077010000000000"
    "00014a0000001900ffffff00000003000004980000014afc0100000002fb0000000c006f007500740070007500740100"
    "0000000000028a0000004600fffffffc00000000000002080000009100fffffffa000000000100000004fb0000000a00"
    "7100750065007500650100000000ffffffff0000004600fffffffb0000001000700072006f0062006c0065006d007301"
    "00000000ffffffff0000004600fffffffb0000000e0068006900730074006f007200790100000000ffffffff00000046"
    "00fffffffb0000001000740069006d0065006c0069006e00650100000000ffffffff0000004600ffffff000000000000"
    "000000000004000000040000000800000008fc00000000"
)


def make_docks(window: QMainWindow) -> dict[str, QDockWidget]:
    """The docks, each holding an empty widget until the window fills it, not yet placed."""
    docks = {}
    for key, title in DOCKS.items():
        dock = QDockWidget(title, window)
        dock.setObjectName(key)  # what STATE names it by
        dock.setWidget(QWidget())
        docks[key] = dock
    return docks


def restore(window: QMainWindow, docks: dict[str, QDockWidget]) -> bool:
    """Place ``docks`` (from make_docks) as ``arrange`` does, from STATE; False when Qt refused
    the bytes and ``arrange`` placed them."""
    if window.restoreState(QByteArray(STATE)):
        return True
    arrange(window, docks)
    return False


def arrange(window: QMainWindow, docks: dict[str, QDockWidget]) -> None:
    """Place ``docks`` (from make_docks) by calls."""
    from PySide6.QtCore import Qt

    right, bottom = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
    inspector, preview, output, history, queue, problems, timeline = (docks[key] for key in DOCKS)
    window.addDockWidget(right, inspector)
    window.addDockWidget(right, preview)
    window.splitDockWidget(inspector, preview, Qt.Orientation.Vertical)
    for dock in (output, history, queue, problems):
        window.addDockWidget(bottom, dock)
    window.splitDockWidget(output, queue, Qt.Orientation.Horizontal)
    window.tabifyDockWidget(queue, problems)
    window.tabifyDockWidget(problems, history)
    window.addDockWidget(bottom, timeline)
    window.tabifyDockWidget(history, timeline)
    queue.raise_()
    window.resizeDocks([inspector, preview], [430, 330], Qt.Orientation.Vertical)
    window.resizeDocks([inspector], [430], Qt.Orientation.Horizontal)
    window.resizeDocks([output], [330], Qt.Orientation.Vertical)
    window.resizeDocks([output, queue], [650, 520], Qt.Orientation.Horizontal)


def arranged_state() -> bytes:
    """The bytes ``saveState()`` writes for a window of WINDOW_SIZE whose docks ``arrange`` placed."""
    window = QMainWindow()
    window.resize(*WINDOW_SIZE)
    arrange(window, make_docks(window))
    state = bytes(window.saveState().data())
    window.deleteLater()
    return state


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    from studio.ui.theme import apply_theme

    app = QApplication([])
    apply_theme(app, "dark")  # the title bars' fonts and padding: the docks' least sizes depend on them
    text = arranged_state().hex()
    print("STATE = bytes.fromhex(")
    for start in range(0, len(text), 96):
        print(f'    "{text[start : start + 96]}"')
    print(")")
