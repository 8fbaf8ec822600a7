"""Editors for one parameter each, built from its ParamSpec (the inspector's rows).

An editor emits ``value_edited(value)`` with a value of the parameter's own type; the
inspector checks it against the spec and either commits it as an undo command or shows
why it is refused. ``set_value`` never emits.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QWidget,
)

from studio.graph import types as t
from studio.graph.spec import SEED_MAX, ParamSpec
from studio.nodeapi.kinds import KIND_LABELS

INT32 = 2**31 - 1
SLIDER_STEPS = 1000
SPIN_WIDTH = 90
SEED_MODES = ("fixed", "randomize", "increment")


class ParamEditor(QWidget):
    value_edited = Signal(object)

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.layout_ = QHBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(6)

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def _emit(self, value: Any) -> None:
        self.value_edited.emit(value)


class NumberEditor(ParamEditor):
    """Spin box plus, when the range is bounded, a slider. The spin box accepts any number so
    an out-of-range value is refused with its reason rather than silently clamped."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.is_float = spec.kind == t.FLOAT
        if self.is_float:
            self.spin: QSpinBox | QDoubleSpinBox = QDoubleSpinBox()
            self.spin.setDecimals(3)
            self.spin.setRange(-1e12, 1e12)
            span = (spec.max - spec.min) if spec.min is not None and spec.max is not None else 10.0
            self.spin.setSingleStep(0.1 if span <= 20 else 1.0)
        else:
            self.spin = QSpinBox()
            self.spin.setRange(-INT32, INT32)
        self.spin.setKeyboardTracking(False)
        # No up/down buttons (the theme hides them: flat boxes drew them blank; NoButtons here
        # would squash the text under a style sheet): the slider, the wheel and the arrow keys
        # step the value. One width for every box, so every slider is as long.
        self.spin.setMinimumWidth(SPIN_WIDTH)
        self.spin.valueChanged.connect(lambda v: self._emit(float(v) if self.is_float else int(v)))
        self.slider: QSlider | None = None
        if spec.min is not None and spec.max is not None and spec.max > spec.min:
            self.slider = QSlider(Qt.Orientation.Horizontal)
            self.slider.setRange(0, SLIDER_STEPS)
            self.slider.valueChanged.connect(self._slider_moved)
            self.layout_.addWidget(self.slider, 1)
        if self.slider is not None:
            self.spin.setFixedWidth(SPIN_WIDTH)
        self.layout_.addWidget(self.spin, 0 if self.slider else 1)
        if spec.min is not None or spec.max is not None:
            self.setToolTip(f"{spec.doc}\nrange {spec.min:g} to {spec.max:g}" if self.slider else spec.doc)

    def _slider_moved(self, position: int) -> None:
        spec = self.spec
        value = spec.min + (spec.max - spec.min) * position / SLIDER_STEPS
        value = round(value, 3) if self.is_float else int(round(value))
        self.spin.blockSignals(True)
        self.spin.setValue(value)
        self.spin.blockSignals(False)
        self._emit(value)

    def set_value(self, value: Any) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0)
        self.spin.blockSignals(False)
        if self.slider is not None and isinstance(value, (int, float)):
            spec = self.spec
            fraction = (float(value) - spec.min) / (spec.max - spec.min)
            self.slider.blockSignals(True)
            self.slider.setValue(int(round(max(0.0, min(1.0, fraction)) * SLIDER_STEPS)))
            self.slider.blockSignals(False)


class ChoiceEditor(ParamEditor):
    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.combo = QComboBox()
        self.combo.addItems(list(spec.choices))
        self.combo.currentTextChanged.connect(self._emit)
        self.layout_.addWidget(self.combo, 1)

    def set_value(self, value: Any) -> None:
        self.combo.blockSignals(True)
        if isinstance(value, str) and self.combo.findText(value) < 0:
            self.combo.addItem(value)  # an odd saved value stays visible (validation reports it)
        self.combo.setCurrentText(str(value))
        self.combo.blockSignals(False)


class BoolEditor(ParamEditor):
    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.check = QCheckBox()
        self.check.toggled.connect(self._emit)
        self.layout_.addWidget(self.check, 1)

    def set_value(self, value: Any) -> None:
        self.check.blockSignals(True)
        self.check.setChecked(bool(value))
        self.check.blockSignals(False)


class TextEditor(ParamEditor):
    """One line, committed when editing finishes; or a prompt box committed as you type."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        if spec.multiline:
            from studio.ui.prompt_box import PromptEdit  # here: the window's first paint needs no prompt box

            self.box: QLineEdit | QPlainTextEdit = PromptEdit()
            self.box.setPlaceholderText(spec.doc or "Describe what you want to see…")
            self.box.setMinimumHeight(80)
            self.box.setMaximumHeight(140)
            self.box.setTabChangesFocus(True)
            self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)  # no gap above the box
            self.box.textChanged.connect(lambda: self._emit(self.box.toPlainText()))
            self.layout_.setDirection(QBoxLayout.Direction.TopToBottom)
            self.layout_.setSpacing(3)
            self.layout_.addWidget(self.box, 1)
            self.layout_.addWidget(self.box.note)  # what the model's vocabulary says of the prompt
        else:
            self.box = QLineEdit()
            self.box.setPlaceholderText(spec.doc)
            self.box.editingFinished.connect(lambda: self._emit(self.box.text()))
            self.layout_.addWidget(self.box, 1)

    def text(self) -> str:
        return self.box.toPlainText() if isinstance(self.box, QPlainTextEdit) else self.box.text()

    def set_value(self, value: Any) -> None:
        if self.text() == value:
            return  # keeps the cursor where it is while typing
        self.box.blockSignals(True)
        if isinstance(self.box, QPlainTextEdit):
            self.box.setPlainText(str(value))
        else:
            self.box.setText(str(value))
        self.box.blockSignals(False)
        if hasattr(self.box, "refresh_note"):  # a prompt box: what the model's vocabulary says of it
            self.box.refresh_note()


class PathEditor(TextEditor):
    """A path with a file picker filtered to the parameter's file types, opening in the model folders.

    For a parameter that takes models (``spec.model_kinds``), a list above it offers the models of
    those kinds that ``models`` (the inspector's :class:`ModelLister`) found in the model folders.
    """

    RESCAN = "\0rescan"  # the list's last row: scan the model folders again

    def __init__(self, spec: ParamSpec, folders: list[Path], models: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.folders = folders
        self.browse_button = browse = QPushButton("…")
        browse.setFixedWidth(30)
        browse.setToolTip("Choose a folder" if spec.directory else "Choose a file")
        browse.clicked.connect(self.browse)
        self.layout_.addWidget(browse)
        self.models = models if spec.model_kinds else None
        self.choices: QComboBox | None = None
        if self.models is not None:
            self._add_model_list()

    # ---- the list of scanned models ---------------------------------------------------------
    def _add_model_list(self) -> None:
        """One row for the list of models, one for the path and its file button."""
        self.choices = QComboBox()
        self.choices.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.choices.setMinimumContentsLength(16)
        self.choices.activated.connect(self._model_chosen)  # the user's choices only
        row = QHBoxLayout()
        row.setSpacing(6)
        for widget in (self.box, self.browse_button):
            self.layout_.removeWidget(widget)
            row.addWidget(widget, 1 if widget is self.box else 0)
        self.layout_.setDirection(QBoxLayout.Direction.TopToBottom)
        self.layout_.setSpacing(3)
        self.layout_.addWidget(self.choices)
        self.layout_.addLayout(row)
        self.models.listed.connect(self.fill_models)
        self.fill_models()

    def fill_models(self) -> None:
        """List the scanned models of the parameter's kinds (or say the scan is running)."""
        combo = self.choices
        if combo is None:
            return
        entries = self.models.entries(self.spec.model_kinds)
        kinds = ", ".join(KIND_LABELS.get(kind, kind) for kind in self.spec.model_kinds)
        combo.blockSignals(True)
        combo.clear()
        if entries is None:
            combo.addItem("Looking for models…")
        elif entries:
            combo.addItem(f"Choose a model ({len(entries)} found)")
        else:
            combo.addItem(f"No {kinds} in the model folders")
        combo.setItemData(0, f"Models in the model folders: {kinds}", Qt.ItemDataRole.ToolTipRole)
        for entry in entries or ():
            combo.addItem(model_label(entry), entry.value)
            combo.setItemData(combo.count() - 1, str(entry.path), Qt.ItemDataRole.ToolTipRole)
        if entries is not None:
            combo.addItem("Scan the model folders again", self.RESCAN)
        combo.setEnabled(entries is not None)
        self._show_chosen()
        combo.blockSignals(False)

    def _show_chosen(self) -> None:
        index = self.choices.findData(self.text()) if self.text() else -1
        self.choices.setCurrentIndex(max(index, 0))

    def _model_chosen(self, index: int) -> None:
        value = self.choices.itemData(index)
        if value == self.RESCAN:
            self.models.rescan()
            self.fill_models()
        elif isinstance(value, str):
            self.set_value(value)
            self._emit(value)

    def set_value(self, value: Any) -> None:
        super().set_value(value)
        if self.choices is not None:
            self.choices.blockSignals(True)
            self._show_chosen()
            self.choices.blockSignals(False)

    def file_filter(self) -> str:
        if not self.spec.file_types:
            return "All files (*)"
        patterns = " ".join(f"*{s}" for s in self.spec.file_types)
        return f"{self.spec.name} ({patterns});;All files (*)"

    def start_folder(self) -> str:
        current = Path(self.text()).expanduser() if self.text() else None
        if current is not None and current.parent.is_dir():
            return str(current.parent)
        return next((str(f) for f in self.folders if f.is_dir()), str(Path.home()))

    def browse(self) -> None:
        if self.spec.directory:
            chosen = QFileDialog.getExistingDirectory(self, f"Choose {self.spec.name}", self.start_folder())
        else:
            chosen, _ = QFileDialog.getOpenFileName(
                self, f"Choose {self.spec.name}", self.start_folder(), self.file_filter()
            )
        if chosen:
            self.set_value(chosen)
            self._emit(chosen)


class SeedEditor(ParamEditor):
    """A seed, a dice button, and what happens after each run: fixed, randomize or increment."""

    mode_edited = Signal(str)

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.box = QLineEdit()
        self.box.editingFinished.connect(self._parse)
        dice = QPushButton("Random")
        dice.setToolTip("A new random seed")
        dice.clicked.connect(lambda: self._emit(random.randint(0, 2**32 - 1)))
        self.mode = QComboBox()
        self.mode.addItems(list(SEED_MODES))
        self.mode.setToolTip("After each run: keep the seed, pick a random one, or add one")
        self.mode.currentTextChanged.connect(self.mode_edited)
        self.layout_.addWidget(self.box, 1)
        self.layout_.addWidget(dice)
        self.layout_.addWidget(self.mode)

    def _parse(self) -> None:
        text = self.box.text().strip()
        try:
            value: Any = int(text, 10)
        except ValueError:
            value = text  # not a number: the spec's check explains why it is refused
        self._emit(value)

    def set_value(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setText(str(value))
        self.box.blockSignals(False)

    def set_mode(self, mode: str) -> None:
        self.mode.blockSignals(True)
        self.mode.setCurrentText(mode if mode in SEED_MODES else "fixed")
        self.mode.blockSignals(False)


def model_label(entry: Any) -> str:
    """A scanned model as a list shows it: name · variant · precision."""
    what = entry.variant or (entry.family if entry.family != "unknown" else "")
    parts = [entry.name, what, entry.precision, "needs allow pickle" if entry.needs_pickle else ""]
    return " · ".join(part for part in parts if part)


def make_editor(spec: ParamSpec, folders: list[Path], models: Any = None) -> ParamEditor:
    kind = spec.kind
    if kind == t.SEED:
        return SeedEditor(spec)
    if kind in (t.INT, t.FLOAT):
        return NumberEditor(spec)
    if kind == t.CHOICE:
        return ChoiceEditor(spec)
    if kind == t.BOOL:
        return BoolEditor(spec)
    if kind == t.PATH:
        return PathEditor(spec, folders, models)
    return TextEditor(spec)


def next_seed(seed: int, mode: str) -> int:
    """The seed after a run in ``mode``."""
    if mode == "randomize":
        return random.randint(0, 2**32 - 1)
    if mode == "increment":
        return 0 if seed >= SEED_MAX else seed + 1
    return seed
