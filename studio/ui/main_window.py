"""MainWindow: the node editor in the middle, inspector and live preview on the right,
output viewer, render queue, problems and history below."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoGroup, QUndoStack
from PySide6.QtWidgets import QLabel, QMainWindow, QMenu, QMenuBar, QStatusBar, QToolBar, QVBoxLayout, QWidget

from studio.settings import Settings
from studio.textsafe import safe
from studio.ui import dock_layout, theme, window_menus
from studio.ui.canvas_placeholder import CanvasPlaceholder
from studio.ui.undo_buttons import steady_undo_actions

if TYPE_CHECKING:
    from studio.graph.registry import NodeRegistry
    from studio.ui.autosave import Recovery
    from studio.ui.palette import NodePalette

# Imported above: only what the first paint shows (the frame, the menu titles, the toolbar, the
# docks' title bars and the canvas's place), none of it naming anything in the Qt namespace (see
# dock_layout). The graph view and scene, the docks' contents and the node types are imported when
# the window fills itself in (finish_building): after that paint when the launcher builds it deferred.

MENUS = ("&File", "&Edit", "&View", "&Timeline", "&Run", "&Help")  # filled by finish_building()
# What finish_building() makes: reading one of these before then builds the rest of the window.
BUILT_AFTER_PAINT = frozenset(
    {
        "view", "scene", "registry", "banner", "runs", "inspector", "preview", "viewer", "queue_panel", "problems",
        "history", "timeline", "document", "presenter", "adding", "autosaver", "memory_estimate", "cache_status",
        "recent_menu", "examples_menu", "unload_action", "clear_cache_action", "restart_action",
    }
)  # fmt: skip


class MainWindow(QMainWindow):
    """The studio's window. ``MainWindow(settings)`` is complete when it returns. With
    ``deferred=True`` (the launcher's way) it builds only what the first paint shows: the frame,
    the empty canvas, the toolbar, the menu titles and the docks' frames; their contents, the
    graph scene and the node types follow in the event-loop turn after that paint (or as soon as
    anything asks for one of them), and ``built`` is emitted."""

    built = Signal()  # finish_building() is done: every dock filled, the start document open

    def __init__(
        self,
        settings: Settings | None = None,
        registry: NodeRegistry | None = None,
        make_engine: Callable[[], Any] | None = None,
        *,
        deferred: bool = False,
    ) -> None:
        super().__init__()
        self.settings = settings or Settings.load()
        self._given = (registry, make_engine)
        self.is_built = False
        self._building = False
        self._start: list[str | None] = []  # what open_at_start() was given, until the window is built
        self._shown_once = False
        self._build_frame(self.finish_building if deferred else None)
        if not deferred:
            self.finish_building()

    def __getattr__(self, name: str) -> Any:
        # Called only for a missing attribute: one finish_building() makes is read before it ran.
        if name in BUILT_AFTER_PAINT and not self.__dict__.get("_building", True):
            self.finish_building()
            return getattr(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _build_frame(self, painted: Callable[[], Any] | None) -> None:
        """What the first paint shows, each part where it stays (nothing moves when filled in);
        ``painted`` is called in the event-loop turn after that paint."""
        self.resize(*dock_layout.WINDOW_SIZE)
        self.setWindowTitle("Untitled[*] — Studio")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)

        self.undo_stack = QUndoStack(self)
        self._palette: NodePalette | None = None  # built when first opened: not needed for the first paint
        self._canvas = CanvasPlaceholder(painted)  # the graph view takes its place when built
        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.setSpacing(0)
        central_layout.addWidget(self._canvas, 1)
        self.setCentralWidget(central)
        # Undo and redo follow the focus: the canvas's history or the timeline's.
        self.undo_group = QUndoGroup(self)
        self.undo_group.addStack(self.undo_stack)  # the timeline's joins when its panel is built
        self.undo_group.setActiveStack(self.undo_stack)
        self.docks = dock_layout.make_docks(self)
        dock_layout.restore(self, self.docks)
        # The menu and status bars are made here: asked for one Qt made, PySide would look through
        # every widget class for its type, creating their Python enums (milliseconds).
        self.setMenuBar(QMenuBar())
        self.menus = {name: self.menuBar().addMenu(name) for name in MENUS}
        self._build_toolbar()
        self.setStatusBar(QStatusBar())
        self.statusBar().showMessage("Double-click the canvas or press Tab to add a node · Ctrl+Enter runs", 0)

    def finish_building(self) -> None:
        """Build the graph view and scene, the docks' contents, the menus and the rest, then open
        the start document (see open_at_start) and emit ``built``. Does nothing the second time."""
        if self.is_built or self._building:
            return
        self._building = True
        try:
            self._build_contents()
        finally:
            self._building = False  # after an error (printed by Qt when deferred), asking for a part tries again
        self.is_built = True
        self._open_start()
        self.built.emit()

    def open_at_start(self, path: str | None) -> None:
        """Open ``path`` (a graph, or a video the studio rendered), or when it is None or cannot be
        opened, offer to restore unsaved work from a crash: once the window is built."""
        self._start.append(path)
        if self.is_built:
            self._open_start()

    def _open_start(self) -> None:
        while self._start:
            path = self._start.pop(0)
            if path is None or not self.open_graph(path):
                self.offer_recovery()

    def _build_contents(self) -> None:
        self._build_canvas()
        self._build_panels()
        self._build_actions()
        self._connect_parts()
        self._watch_graph()
        self._update_title()
        if self._shown_once:  # shown before it was built (the launcher's way): what showEvent skipped
            self._after_first_show()

    def _build_canvas(self) -> None:
        """The registry, the scene and the view in the placeholder's place, the banner above it."""
        from studio.ui.banner import Banner
        from studio.ui.scene import GraphScene
        from studio.ui.view import GraphView

        registry, _ = self._given
        if registry is None:
            from studio.composition import window_registry

            registry = window_registry()  # node types load after the first paint (or when needed)
        self.registry = registry
        self.scene = GraphScene(registry, self.undo_stack, self)
        self.view = GraphView(self.scene)
        self.banner = Banner()
        self.banner.setWordWrap(True)
        self.banner.hide()
        self._banner_timer = QTimer(self, singleShot=True, interval=10_000, timeout=self.banner.hide)
        central_layout = self.centralWidget().layout()
        central_layout.insertWidget(0, self.banner)
        central_layout.replaceWidget(self._canvas, self.view)
        self._canvas.deleteLater()
        self.view.setFocus()  # the canvas takes the keys (Tab, Delete, Ctrl+C) when the window is active

    def _build_panels(self) -> None:
        """The render queue's controller, the docks' contents, and the parts that work on the document."""
        from studio.ui.autosave import Autosaver
        from studio.ui.cache_status import CacheStatus
        from studio.ui.document import DocumentController
        from studio.ui.estimate_label import EstimateLabel
        from studio.ui.history_strip import HistoryStrip
        from studio.ui.inspector import Inspector
        from studio.ui.node_adding import NodeAdding
        from studio.ui.output_viewer import OutputViewer
        from studio.ui.preview_panel import PreviewPanel
        from studio.ui.problems_panel import ProblemsPanel
        from studio.ui.queue_panel import QueuePanel
        from studio.ui.run_controller import RunController
        from studio.ui.run_presenter import RunPresenter
        from studio.ui.timeline_link import TimelineLink

        _, make_engine = self._given
        self.runs = RunController(make_engine or self._make_engine, self)
        self.runs.notice.connect(lambda level, text: self.notify(text, level))
        self.inspector = Inspector(self.scene, self.settings.model_paths())
        self.preview = PreviewPanel()
        self.viewer = OutputViewer()
        self.queue_panel = QueuePanel(self.runs)
        self.problems = ProblemsPanel()
        self.history = HistoryStrip()
        self.timeline = TimelineLink(self)
        self._fill_docks()
        self.document = DocumentController(self)
        self.presenter = RunPresenter(self)
        self.adding = NodeAdding(self)
        self.autosaver = Autosaver(lambda: self.scene.graph, lambda: self.document.dirty, self._source, self)
        self.autosaver.save_failed.connect(lambda text: self.notify(text, "warning"))
        self._validate_timer = QTimer(self, singleShot=True, interval=250, timeout=self.revalidate)
        self._unsubscribe = lambda: None

        self.memory_estimate = EstimateLabel(
            lambda: self.scene.graph,
            self.runs.estimate,  # the engine runs use: a render process answers both
        )
        self._toolbar.insertWidget(self._estimate_slot, self.memory_estimate)
        self._toolbar.removeAction(self._estimate_slot)
        self.memory_estimate.estimated.connect(self.scene.set_missing_files)  # marked on the nodes too
        self.runs.memory_warned.connect(lambda job_id, text: self.notify(text, "warning"))
        self.cache_status = CacheStatus(self.runs)
        self.statusBar().addPermanentWidget(self.cache_status)

    def _connect_parts(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QApplication

        from studio.ui.history_strip import OutputEntry

        self.scene.graph_replaced.connect(self._watch_graph)
        self.scene.edit_refused.connect(lambda reason: self.statusBar().showMessage(f"Cannot connect: {reason}", 5000))
        self.scene.link_dropped.connect(lambda port, pos: self.adding.open_palette(pos, port))
        self.view.palette_requested.connect(lambda pos: self.adding.open_palette(pos))
        self.view.first_painted.connect(getattr(self.registry, "load_packs", lambda: None))  # packs after paint
        self.view.customContextMenuRequested.connect(self.adding.context_menu)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

        self.problems.node_clicked.connect(self._focus_node)
        self.history.output_chosen.connect(self.presenter.show_output)
        self.history.graph_requested.connect(self._restore_output_graph)
        self.history.timeline_requested.connect(lambda entry: entry.path is not None and self.timeline.add(entry.path))
        self.viewer.timeline_requested.connect(self.timeline.add_current_output)
        QApplication.instance().focusChanged.connect(self._focus_changed)
        self.undo_stack.cleanChanged.connect(self._update_title)
        self.document.document_changed.connect(self._document_changed)
        self.document.document_changed.connect(self.timeline.forget_target)
        self.document.recent_changed.connect(self._fill_recent_menu)
        self.document.render_opened.connect(lambda path: self.presenter.show_output(OutputEntry(path.name, path=path)))

    @property
    def palette(self) -> NodePalette:  # shadows QWidget.palette(), as the attribute it replaces did
        """The Add-node palette (Tab, double-click, a wire dropped on the canvas)."""
        if self._palette is None:
            from studio.ui.palette import NodePalette

            self._palette = NodePalette(self.registry, self)
            self._palette.node_chosen.connect(self.adding.palette_chosen)
        return self._palette

    def _make_engine(self) -> Any:
        from studio.ui.engine_setup import window_engine

        return window_engine(self.settings, self.registry)

    def _unload_models(self) -> None:
        count = self.runs.unload_models()
        if count is None:  # a render farm: its answer comes as a notice
            self.notify("Unloading models on the render farm's workers…", "status")
            return
        self.notify(f"Unloaded {count} model{'s' if count != 1 else ''}; the next run loads what it needs", "status")

    def restart_renderer(self) -> None:
        """A new render process (or engine) for the next run: every byte of GPU memory back, e.g.
        after a driver error; a run in progress finishes first."""
        busy = self.runs.busy
        self.runs.reconfigure()
        when = "after the running job" if busy else "for the next run"
        self.notify(f"The render process restarts {when}; models load again when needed", "status")

    def _clear_cache(self) -> None:
        if self.runs.clear_cache():
            self.notify("Cache cleared: the next run computes every node again (loaded models stay)", "status")
        else:
            self.notify("Clearing the render farm's caches…", "status")

    def _source(self) -> str:
        return str(self.document.path or "")

    # ---- layout ----------------------------------------------------------------------------
    def _fill_docks(self) -> None:
        contents = {
            "inspector": self.inspector,
            "preview": self.preview,
            "output": self.viewer,
            "history": self.history,
            "queue": self.queue_panel,
            "problems": self.problems,
            "timeline": self.timeline.holder,
        }
        for key, widget in contents.items():
            placeholder = self.docks[key].widget()
            self.docks[key].setWidget(widget)
            placeholder.deleteLater()
        self.timeline.watch(self.docks["timeline"])

    def _build_toolbar(self) -> None:
        """Run, Queue N, Cancel, the memory estimate's place, Undo, Redo, Fit and Add node."""
        self.run_action = self._action(None, "Run", [QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")], self.run)
        self.cancel_action = self._action(None, "Cancel", QKeySequence("Esc"), lambda: self.runs.cancel())
        self.cancel_action.setEnabled(False)  # while a job runs or waits (RunPresenter)
        self.run_action.setToolTip("Queue the graph for rendering (Ctrl+Enter)")
        self.batch_action = self._action(None, "Queue N…", QKeySequence("Ctrl+Shift+Return"), self.queue_batch)
        self.batch_action.setToolTip("Queue the graph several times, seeds fixed, incremented or random")
        bar = self._toolbar = QToolBar("Main")
        bar.setObjectName("main-toolbar")
        bar.setMovable(False)
        self.addToolBar(bar)
        for action in (self.run_action, self.batch_action, self.cancel_action):
            bar.addAction(action)
        bar.widgetForAction(self.run_action).setObjectName("run-button")
        self._estimate_slot = bar.addWidget(QLabel())  # the memory estimate goes here once built
        bar.addSeparator()
        bar.addActions(list(steady_undo_actions(self.undo_group, self)))  # fixed width; detail in the tooltip
        bar.addSeparator()
        bar.addAction("Fit", lambda: self.view.fit_all())
        bar.addAction("Add node", lambda: self.adding.open_palette())

    def _about(self) -> None:
        from studio.ui.about import AboutDialog  # imported on use: one module less before the first paint

        AboutDialog(self).open()

    def show_problems(self) -> None:
        self.docks["problems"].raise_()

    def show_output_dock(self) -> None:
        self.docks["output"].raise_()

    def _build_actions(self) -> None:
        window_menus.fill_menus(self)

    def _action(self, menu: QMenu | None, text: str, keys: Any, slot: Callable, context: Any = None) -> QAction:
        return window_menus.make_action(self, menu, text, keys, slot, context)

    def _fill_recent_menu(self) -> None:
        window_menus.fill_recent_menu(self)

    # ---- state display -----------------------------------------------------------------------
    def _watch_graph(self) -> None:
        self._unsubscribe()
        self._unsubscribe = self.scene.graph.subscribe(self._graph_edited)
        self.revalidate()
        if not self.runs.busy:  # New or Open: the old graph's preview goes (a running one's keeps coming)
            self.preview.clear()
        self.memory_estimate.schedule()

    def _graph_edited(self, change: Any) -> None:
        self._validate_timer.start()
        if change.kind not in ("node_moved", "group_changed", "meta_changed"):
            self.memory_estimate.schedule()
        if change.kind not in ("node_moved", "group_changed", "meta_changed") and not self.runs.busy:
            self.scene.clear_states()  # "done" or "failed" no longer describes the edited graph

    def revalidate(self) -> list[Any]:
        from studio.graph.validate import validate

        problems = validate(self.scene.graph, self.registry) if len(self.scene.graph) else []
        self.scene.set_problems(problems)
        self.problems.set_problems(problems)
        self.view.minimap.update()
        return problems

    def _update_title(self, *args: Any) -> None:
        self.setWindowTitle(f"{self.document.name}[*] — Studio")
        self.setWindowModified(self.document.dirty)

    def _document_changed(self) -> None:
        self._update_title()
        self.view.fit_all()
        self.revalidate()

    def notify(self, text: str, level: str = "info") -> None:
        """Tell the user something without blocking: a banner over the canvas, and the status bar."""
        text = safe(text)
        self.statusBar().showMessage(text, 8000)
        if level == "status":
            return
        self.last_notice = (level, text)
        colors = {"error": ("#5c1f1f", "#ffd6d6"), "warning": ("#5a4a1c", "#ffe9a8"), "info": ("#1f3a5c", "#d6e8ff")}
        background, foreground = colors.get(level, colors["info"])
        self.banner.setStyleSheet(f"background: {background}; color: {foreground};")
        self.banner.setText(text)
        self.banner.show()
        if level == "info":
            self._banner_timer.start()
        else:
            self._banner_timer.stop()

    def _focus_changed(self, old: Any, new: Any) -> None:
        if new is None or not self.isAncestorOf(new):
            return
        panel = self.timeline.panel if self.timeline.built else None
        in_timeline = panel is not None and (new is panel or panel.isAncestorOf(new))
        self.undo_group.setActiveStack(panel.undo_stack if in_timeline else self.undo_stack)

    def _focus_node(self, node_id: str) -> None:
        if node_id in self.scene.node_items:
            self.scene.select_nodes([node_id])
            self.view.centerOn(self.scene.node_items[node_id])

    # ---- running -------------------------------------------------------------------------------
    def run(self) -> Any:
        """Validate, then queue the graph; returns the job, or None when problems stop it."""
        graph = self.scene.graph
        if not self._ready_to_run():
            return None
        title = graph.meta.get("title") or self.document.name
        job = self.runs.submit(graph, title=title, output_dir=self.settings.output_path)
        self.presenter.graphs[job.id] = job.graph
        from studio.ui import commands
        from studio.ui.inspector import SEED_MODES_KEY

        advance = commands.next_seeds_command(graph, self.registry, graph.meta.get(SEED_MODES_KEY))
        if advance is not None:
            self.undo_stack.push(advance)
        self.docks["queue"].raise_()
        return job

    def queue_batch(self, count: int | None = None, mode: str | None = None) -> list[Any]:
        """Queue the graph ``count`` times as one batch, its seeds moving by ``mode`` between runs
        (see studio.ui.batch); asks both when not given. Returns the jobs."""
        from studio.ui import batch
        from studio.ui.inspector import SEED_MODES_KEY

        graph = self.scene.graph
        if not self._ready_to_run():
            return []
        modes = graph.meta.get(SEED_MODES_KEY)
        if count is None or mode is None:
            dialog = batch.QueueBatchDialog(any(m != "fixed" for m in (modes or {}).values()), self)
            if not dialog.exec():
                return []
            count, mode = dialog.choice()
        runs, after = batch.batch_graphs(graph, self.registry, count, mode, modes)
        title = graph.meta.get("title") or self.document.name
        jobs = []
        for index, copy in enumerate(runs, 1):
            job = self.runs.submit(copy, title=f"{title} · {index}/{len(runs)}", output_dir=self.settings.output_path)
            self.presenter.graphs[job.id] = job.graph
            jobs.append(job)
        advance = batch.seeds_command(graph, after, self.registry)
        if advance is not None:
            self.undo_stack.push(advance)
        self.docks["queue"].raise_()
        return jobs

    def _ready_to_run(self) -> bool:
        from studio.graph.validate import errors

        blocking = errors(self.revalidate())
        if blocking:
            self.notify(f"Fix {len(blocking)} problem(s) before running: {blocking[0]}", "error")
            self.show_problems()
        return not blocking

    # ---- files ---------------------------------------------------------------------------------
    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.document.open_path(paths[0])

    def open_graph(self, path: str) -> bool:
        return self.document.open_path(path, ask=False)

    def _restore_output_graph(self, entry: Any) -> None:
        if entry.graph is None and entry.path is not None:
            self.document.open_path(entry.path)  # not read yet (or unreadable): read now, problems reported
        elif entry.graph is not None and self.document.maybe_save():
            self.document.set_document(entry.graph.copy(), None, f"{entry.label} (from history)", dirty=True)

    def offer_recovery(self) -> Recovery | None:
        return self.document.offer_recovery()

    def open_settings(self) -> None:
        from studio.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            self.apply_settings(dialog.result_settings())

    def apply_settings(self, settings: Settings) -> None:
        old = self.settings
        self.settings = settings
        settings.save()
        self.inspector.model_folders = settings.model_paths()
        if settings.output_path != old.output_path:
            self.history.load_folder(settings.output_path)
        if settings.theme != old.theme:
            from PySide6.QtWidgets import QApplication

            theme.apply_theme(QApplication.instance(), settings.theme)
            self.scene.update()
            self.view.viewport().update()
        if self._engine_settings(settings) != self._engine_settings(old):
            self.runs.reconfigure()  # the next run starts an engine with the new settings
            self.memory_estimate.schedule()  # e.g. another device: estimated against its memory

    @staticmethod
    def _engine_settings(settings: Settings) -> tuple:
        """The settings an engine is made from: a change starts a new one."""
        names = (
            "device",
            "allow_pickle",
            "model_folders",
            "cpu_threads",
            "cache_percent",
            "cluster_address",
            "attention",
            "compile",
        )
        return tuple(str(getattr(settings, name)) for name in names)

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            if self.is_built:
                self._after_first_show()

    def _after_first_show(self) -> None:
        QTimer.singleShot(0, self.view.fit_all)  # the viewport has its real size only now
        QTimer.singleShot(800, self.viewer.warm_up)  # after the first paint, while the user reads
        QTimer.singleShot(1500, self.runs.warm_up)  # the render process starts and imports torch
        QTimer.singleShot(300, lambda: self.history.load_folder(self.settings.output_path))

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        if not self.document.maybe_save():
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop the worker, the player and autosave (a clean exit leaves no recovery file)."""
        if not self.is_built:
            return  # none of them has started
        self.autosaver.stop()
        self.timeline.shutdown()
        self.runs.shutdown()
        self.memory_estimate.wait()
        self.history.shutdown()
        self.viewer.stop()
