"""Fixtures for the window tests: a registry with a previewing test sampler, and a window whose
render queue is shut down after each test (a test that leaves a thread running fails)."""

from __future__ import annotations

import threading

import pytest
from ui_support import GATE, fake_sampler

from studio.composition import default_registry


@pytest.fixture
def ui_registry():
    registry = default_registry(plugins=False)
    registry.register(fake_sampler)
    return registry


@pytest.fixture
def window(qtbot, ui_registry, tmp_path, studio_home, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from studio.engine import Engine, RunSettings
    from studio.settings import Settings
    from studio.ui.document import DocumentController
    from studio.ui.main_window import MainWindow

    # Closing with unsaved work asks; tests answer "discard" unless they say otherwise.
    monkeypatch.setattr(DocumentController, "ask_save", lambda self: QMessageBox.StandardButton.Discard)
    GATE.clear()
    out = tmp_path / "out"
    settings = Settings(output_dir=str(out), device="cpu")
    win = MainWindow(
        settings,
        ui_registry,
        make_engine=lambda: Engine("cpu", registry=ui_registry, settings=RunSettings(output_dir=out)),
    )
    qtbot.addWidget(win)
    win.autosaver.timer.stop()
    yield win
    GATE.set()
    win.shutdown()
    assert not [th.name for th in threading.enumerate() if th.name.startswith("studio-") and th.is_alive()]
