"""The window's attention and compile defaults: set in the settings dialog, kept, and handed to the engine."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.qt


def test_attention_and_compile_reach_the_next_engine_and_persist(window, qtbot):
    from studio.settings import Settings
    from studio.ui.engine_setup import make_engine
    from studio.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.settings, window)
    qtbot.addWidget(dialog)
    assert dialog.attention.currentText() == "auto" and not dialog.compile.isChecked()
    dialog.attention.setCurrentText("sage")
    dialog.compile.setChecked(True)
    settings = dialog.result_settings()
    engine = make_engine(settings, window.registry)
    assert (engine.settings.attention, engine.settings.compile) == ("sage", True)
    window.apply_settings(settings)
    assert (Settings.load().attention, Settings.load().compile) == ("sage", True)
