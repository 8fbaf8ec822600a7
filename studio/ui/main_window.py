"""The main window (a first version: shows the open graph's nodes; the editor comes next)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Studio")
        self.resize(1280, 800)
        self.summary = QLabel("Open a graph file to see its nodes.\n\nRun graphs headless with: studio run GRAPH")
        self.summary.setMargin(24)
        self.setCentralWidget(self.summary)
        self.graph = None

    def open_graph(self, path: str) -> None:
        from studio.graph import GraphFileError, load_graph

        try:
            self.graph = load_graph(path)
        except GraphFileError as exc:
            QMessageBox.warning(self, "Cannot open graph", str(exc))
            return
        lines = [f"{n.id}  ({n.type})" for n in self.graph.nodes]
        self.setWindowTitle(f"{self.graph.meta.get('title') or path} — Studio")
        self.summary.setText("\n".join(lines))
