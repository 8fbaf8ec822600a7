"""Inspector: the selected node's parameters as widgets generated from its spec.

Every accepted edit is a SetParamCommand on the undo stack; a refused value keeps the model
unchanged and shows the spec's reason under the widget. Seed modes (fixed / randomize /
increment after each run) are kept in the graph's ``meta["seed_modes"]`` so they save with it.
A parameter driven by a wire is shown read-only, naming the output that drives it; right-click
a parameter's name to drive it from a wire or to use its own value again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QPoint, Qt, Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QMenu, QPushButton, QScrollArea, QVBoxLayout, QWidget

from studio.bundled import find_bundled
from studio.graph.model import GraphChange
from studio.graph.validate import node_params
from studio.ui.commands import SetMetaCommand, SetParamCommand
from studio.ui.param_widgets import ParamEditor, SeedEditor, make_editor
from studio.ui.promotion import add_promotion_actions
from studio.vocabulary import model_folder_feeding, vocabulary_of

SEED_MODES_KEY = "seed_modes"
log = logging.getLogger(__name__)


class ModelLister(QObject):
    """The models in the model folders (and the bundled ones), scanned in a background thread the
    first time a picker asks and kept until the folders change or the user asks again."""

    listed = Signal()  # a scan finished: entries() has the new lists
    _scanned = Signal(int, object)  # (generation, entries), from the worker thread

    def __init__(self, folders: Iterable[Path] = (), families: Callable[[], Any] | None = None, parent=None) -> None:
        super().__init__(parent)
        self._folders = list(folders)
        self._families = families
        self._entries: list[Any] | None = None
        self._generation = 0  # bumped when the folders change: older scans' results are dropped
        self._started = -1  # the generation whose scan has started
        self._threads: list[threading.Thread] = []
        self._scanned.connect(self._store)  # queued into the GUI thread

    @property
    def folders(self) -> list[Path]:
        return list(self._folders)

    def set_folders(self, folders: Iterable[Path]) -> None:
        folders = list(folders)
        if folders != self._folders:
            self._folders = folders
            self.rescan(start=self._entries is not None or self.scanning)

    @property
    def scanning(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def entries(self, kinds: Iterable[str]) -> list[Any] | None:
        """The scanned models of ``kinds``; None while the first scan runs (it starts here)."""
        if self._entries is None:
            self._start()
            return None
        wanted = set(kinds)
        return [entry for entry in self._entries if entry.kind in wanted]

    def rescan(self, *, start: bool = True) -> None:
        self._generation += 1
        self._entries = None
        if start:
            self._start()

    def wait(self, timeout: float | None = None) -> None:
        """Join the scan threads (tests, shutdown)."""
        for thread in list(self._threads):
            thread.join(timeout)

    def _start(self) -> None:
        if self._started == self._generation:
            return  # under way, or its result is on its way to _store
        self._started = self._generation
        thread = threading.Thread(
            target=self._scan, args=(self._generation, list(self._folders)), name="studio-model-scan", daemon=True
        )
        self._threads = [*(t for t in self._threads if t.is_alive()), thread]
        thread.start()

    def _scan(self, generation: int, folders: list[Path]) -> None:
        from studio.models import bundled_models, scan_models
        from studio.settings import ensure_models_folder

        try:
            ensure_models_folder()  # first use: made with a README saying what goes where
        except OSError as exc:
            log.warning("cannot create the models folder: %s", exc)
        try:
            if self._families is None:
                from studio.composition import default_families

                families = default_families()
            else:
                families = self._families()
            scan, bundled = scan_models(folders, families), bundled_models(families)
            entries = [*bundled.models, *scan.models]
            for skipped in (*scan.skipped, *bundled.skipped):
                log.info("model scan skipped %s: %s", skipped.path, skipped.reason)
        except Exception:
            log.exception("scanning the model folders failed")
            entries = []
        try:
            self._scanned.emit(generation, entries)
        except RuntimeError:
            pass  # the window closed while scanning: nobody is left to tell

    def _store(self, generation: int, entries: list[Any]) -> None:
        if generation == self._generation:
            self._entries = entries
            self.listed.emit()


class Inspector(QWidget):
    def __init__(self, scene: Any, model_folders: list[Path] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scene = scene
        self.models = ModelLister(model_folders or [], parent=self)
        self.node_id = ""
        self.editors: dict[str, ParamEditor] = {}
        self.errors: dict[str, QLabel] = {}
        self.driven: dict[str, QLabel] = {}  # parameters driven by a wire: "driven by node.port"
        self._unsubscribe = lambda: None

        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 8, 10, 8)
        self.title = QLabel("Nothing selected")
        self.title.setObjectName("title")
        self.subtitle = QLabel("Select a node to edit its parameters.")
        self.subtitle.setObjectName("dim")
        self.subtitle.setWordWrap(True)
        outer.addWidget(self.title)
        outer.addWidget(self.subtitle)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        outer.addWidget(self.scroll, 1)
        self.body = QWidget()
        self.form = QFormLayout(self.body)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setFormAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.scroll.setWidget(self.body)
        scene.node_selected.connect(self.show_node)
        scene.graph_replaced.connect(self._watch_graph)
        scene.node_inputs_changed.connect(lambda node_id: node_id == self.node_id and self.show_node(node_id))
        scene.param_edit_requested.connect(self.focus_param)
        self._watch_graph()

    @property
    def graph(self) -> Any:
        return self.scene.graph

    @property
    def model_folders(self) -> list[Path]:
        return self.models.folders

    @model_folders.setter
    def model_folders(self, folders: list[Path]) -> None:
        self.models.set_folders(folders)  # a change lists the models again; open pickers follow

    def _watch_graph(self) -> None:
        self._unsubscribe()
        self._unsubscribe = self.graph.subscribe(self._on_change)
        self.show_node("")

    def _on_change(self, change: GraphChange) -> None:
        if not self.node_id:
            return
        if change.kind == "param_changed" and change.node_id == self.node_id and change.name in self.editors:
            self.editors[change.name].set_value(self.graph.node(self.node_id).params.get(change.name))
            self._show_error(change.name, None)
        elif change.kind == "node_removed" and change.node_id == self.node_id:
            self.show_node("")
        elif change.kind in ("link_added", "link_removed") and change.node_id == self.node_id:
            self.show_node(self.node_id)  # a parameter was promoted to an input, or freed again
        elif change.kind == "meta_changed" and change.name == SEED_MODES_KEY:
            for name, editor in self.editors.items():
                if isinstance(editor, SeedEditor):
                    editor.set_mode(self.seed_mode(self.node_id, name))

    # ---- building --------------------------------------------------------------------------
    def show_node(self, node_id: str) -> None:
        while self.form.rowCount():
            # Deleted later, not now: the rebuild may run inside a signal of one of these widgets
            # (the "Use the value again" button), and deleting a sender mid-signal crashes.
            row = self.form.takeRow(0)
            for item in (row.labelItem, row.fieldItem):
                if item is not None and item.widget() is not None:
                    item.widget().hide()
                    item.widget().deleteLater()
        self.editors.clear()
        self.errors.clear()
        self.driven.clear()
        self.node_id = node_id if node_id and node_id in self.graph else ""
        if not self.node_id:
            self.title.setText("Nothing selected")
            self.subtitle.setText(
                "Select a node to edit its parameters. Double-click the canvas or press Tab to add one."
            )
            return
        node = self.graph.node(self.node_id)
        spec = self.scene.registry.get(node.type)
        self.title.setText(f"{node.id}  ·  {node.type}")
        if spec is None:
            self.subtitle.setText(
                f"Unknown node type {node.type!r}: a node pack is missing. Its parameters are kept as saved."
            )
            for name, value in node.params.items():
                label = QLabel(repr(value))
                label.setWordWrap(True)
                self.form.addRow(name, label)
            return
        self.subtitle.setText(spec.description)
        try:
            values = node_params(node, spec)
        except Exception:  # a migration that chokes on odd saved values: show the raw ones
            values = {**spec.default_params(), **node.params}
        for param in spec.params:
            label = QLabel(param.name)
            label.setToolTip(param.doc)
            label.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            label.customContextMenuRequested.connect(
                lambda point, name=param.name, widget=label: self._param_menu(name, widget.mapToGlobal(point))
            )
            link = self.graph.link_into(node.id, param.name)
            if link is not None:
                self.form.addRow(label, self._driven_row(param.name, f"{link.from_node}.{link.from_port}"))
                continue
            editor = make_editor(param, self.model_folders, self.models)
            editor.set_value(values.get(param.name, param.default))
            editor.value_edited.connect(lambda value, name=param.name: self.edit(name, value))
            if isinstance(editor, SeedEditor):
                editor.set_mode(self.seed_mode(node.id, param.name))
                editor.mode_edited.connect(lambda mode, name=param.name: self.set_seed_mode(name, mode))
            editor.setToolTip(param.doc)
            if hasattr(getattr(editor, "box", None), "set_vocabulary"):  # a prompt box
                editor.box.set_vocabulary(*self._prompt_vocabulary(node.id))
            error = QLabel()
            error.setObjectName("error")
            error.setWordWrap(True)
            error.hide()
            column = QWidget()
            column_layout = QVBoxLayout(column)
            column_layout.setContentsMargins(0, 0, 0, 0)
            column_layout.setSpacing(2)
            column_layout.addWidget(editor)
            column_layout.addWidget(error)
            if self.scene.is_promoted(node.id, param.name):
                hint = QLabel("Also an input on the node: a wire connected there replaces this value.")
                hint.setObjectName("dim")
                hint.setWordWrap(True)
                column_layout.addWidget(hint)
            if param.multiline:
                # A prompt box is tall: its name sits just above it, not centred beside it.
                self.form.addRow(label)
                self.form.addRow(column)
            else:
                self.form.addRow(label, column)
            self.editors[param.name] = editor
            self.errors[param.name] = error

    def _driven_row(self, name: str, source: str) -> QWidget:
        """A read-only row for a parameter driven by a wire, with the way back to its own value."""
        row = QWidget()
        layout = QVBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        driven = QLabel(f"driven by {source}")
        driven.setObjectName("dim")
        driven.setToolTip(f"The value on the wire from {source} replaces this parameter when the graph runs.")
        back = QPushButton("Use the value again")
        back.setToolTip("Remove the wire and the input port; the parameter's own value is used again")
        back.clicked.connect(lambda: self.scene.use_param_value(self.node_id, name))
        layout.addWidget(driven)
        layout.addWidget(back, 0, Qt.AlignmentFlag.AlignLeft)
        self.driven[name] = driven
        return row

    def _param_menu(self, name: str, global_pos: QPoint) -> QMenu:
        menu = QMenu(self)
        add_promotion_actions(menu, self.scene, self.node_id, name)
        menu.popup(global_pos)
        return menu

    def _prompt_vocabulary(self, node_id: str) -> tuple[Any, str]:
        """The closed vocabulary of the model feeding ``node_id`` (None for open ones), and its name."""
        from studio.models import BUNDLED_STARTER  # here: the window starts without the model scanner

        path = model_folder_feeding(self.graph, node_id)
        folder = self._model_folder(path) if path else None
        if folder is None:
            return None, ""
        return vocabulary_of(folder), "The starter model" if path == BUNDLED_STARTER else f"The model {folder.name}"

    def _model_folder(self, path: str) -> Path | None:
        """Where a loader's ``path`` points: a bundled model, an absolute or working-folder path,
        or a path inside a model folder (as the loader resolves it)."""
        bundled = find_bundled(path)
        if bundled is not None:
            return bundled
        candidates = [Path(path).expanduser()] + [Path(f).expanduser() / path for f in self.model_folders]
        return next((c for c in candidates if c.is_dir()), None)

    def focus_param(self, node_id: str, name: str) -> None:
        """Show ``node_id`` and put the keyboard in parameter ``name``'s editor (a click on a
        node's prompt or path row lands here, where there is room to edit it)."""
        if node_id != self.node_id:
            self.show_node(node_id)
        editor = self.editors.get(name)
        if editor is None:
            return
        target = getattr(editor, "box", editor)
        self.scroll.ensureWidgetVisible(editor)
        target.setFocus(Qt.FocusReason.OtherFocusReason)

    def driven_text(self, name: str) -> str:
        label = self.driven.get(name)
        return label.text() if label is not None else ""

    # ---- editing ---------------------------------------------------------------------------
    def edit(self, name: str, value: Any) -> bool:
        """Commit ``value`` for parameter ``name`` of the shown node, or show why it is refused."""
        spec = self.scene.registry[self.graph.node(self.node_id).type].param(name)
        reason = spec.check(value)
        if reason:
            self._show_error(name, f"{name} {reason}")
            return False
        self._show_error(name, None)
        if self.graph.node(self.node_id).params.get(name) == value and type(value) is type(
            self.graph.node(self.node_id).params.get(name)
        ):
            return True
        self.scene.push(SetParamCommand(self.graph, self.node_id, name, value))
        return True

    def _show_error(self, name: str, message: str | None) -> None:
        label = self.errors.get(name)
        if label is None:
            return
        label.setText(message or "")
        label.setVisible(bool(message))

    def error_text(self, name: str) -> str:
        label = self.errors.get(name)
        return label.text() if label is not None and not label.isHidden() else ""

    def seed_mode(self, node_id: str, name: str) -> str:
        modes = self.graph.meta.get(SEED_MODES_KEY) or {}
        return modes.get(f"{node_id}.{name}", "fixed") if isinstance(modes, dict) else "fixed"

    def set_seed_mode(self, name: str, mode: str) -> None:
        modes = dict(self.graph.meta.get(SEED_MODES_KEY) or {})
        key = f"{self.node_id}.{name}"
        if mode == "fixed":
            modes.pop(key, None)
        else:
            modes[key] = mode
        self.scene.push(SetMetaCommand(self.graph, SEED_MODES_KEY, modes, f"Seed {mode} for {key}"))
