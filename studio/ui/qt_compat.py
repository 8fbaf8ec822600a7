"""Refusing a Qt binding known to crash, with a message that says what to install instead.

PySide6 6.12.0 on CPython 3.11 returns ``None``/``True``/``False`` without taking a reference
(as if they were immortal, which they are only from Python 3.12): every void Qt call and
every ``signal.emit()`` drops one, and after a few thousand the interpreter aborts with
"none_dealloc: deallocating None". pyproject excludes that release; this check catches an
environment that has it anyway, before the user loses work to a crash.
"""

from __future__ import annotations

import sys


def binding_drops_references() -> bool:
    """Whether void Qt calls drop a reference to None in this interpreter and binding."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False  # None, True and False are immortal there
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(16):
        probe.setObjectName("probe")
    return sys.getrefcount(None) - before <= -8


def check_binding() -> str | None:
    """A message explaining why this Qt binding cannot run the app, or None when it can."""
    if binding_drops_references():
        import PySide6

        return (
            f"PySide6 {PySide6.__version__} crashes on Python {sys.version_info.major}.{sys.version_info.minor} "
            "(it drops references to None). Install another release: pip install 'PySide6!=6.12.0'"
        )
    return None
