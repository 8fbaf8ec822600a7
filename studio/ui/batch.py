"""Queue N: the same graph N times as one batch, its seeds moving between runs as their mode says
(fixed, increment, randomize), either each seed's own mode (set in the inspector) or one for all."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QSpinBox, QWidget

from studio.graph import types as t
from studio.graph.model import Graph
from studio.ui.param_widgets import next_seed

AS_SET = "as set"  # each seed's own after-run mode
SEED_MODES = ("increment", "randomize", "fixed")
MAX_BATCH = 100


def seed_params(graph: Graph, registry: Any) -> list[str]:
    """``node.param`` of every seed a run uses (seeds driven by a wire move with their source)."""
    keys = []
    for node in graph.nodes:
        spec = registry.get(node.type)
        for param in spec.params if spec is not None else ():
            if param.kind == t.SEED and graph.link_into(node.id, param.name) is None:
                keys.append(f"{node.id}.{param.name}")
    return keys


def batch_graphs(graph: Graph, registry: Any, count: int, mode: str, modes: Any) -> tuple[list[Graph], Graph]:
    """``count`` copies of ``graph`` for the queue, each with the seeds the one before would leave,
    and the graph after the batch (the seeds the next run would use).

    ``mode`` is one of SEED_MODES for every seed, or AS_SET for each seed's own mode in ``modes``
    (``{"node.param": mode}``, missing means fixed).
    """
    own = modes if isinstance(modes, dict) else {}
    keys = seed_params(graph, registry)
    runs: list[Graph] = []
    current = graph.copy()
    for _ in range(max(1, min(count, MAX_BATCH))):
        runs.append(current.copy())
        for key in keys:
            node_id, _, name = key.rpartition(".")
            seed_mode = own.get(key, "fixed") if mode == AS_SET else mode
            value = current.node(node_id).params.get(name, registry.get(current.node(node_id).type).param(name).default)
            current.set_param(node_id, name, next_seed(value if isinstance(value, int) else 0, seed_mode))
    return runs, current


class QueueBatchDialog(QDialog):
    """Asks how many runs and how their seeds move."""

    def __init__(self, any_own_modes: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Queue N runs")
        self.count = QSpinBox()
        self.count.setRange(1, MAX_BATCH)
        self.count.setValue(4)
        self.mode = QComboBox()
        labels = {
            AS_SET: "as each seed is set in the inspector",
            "increment": "increment: seed, seed+1, seed+2…",
            "randomize": "randomize: a new random seed each run",
            "fixed": "fixed: the same seed every run",
        }
        for mode in (AS_SET, *SEED_MODES):
            self.mode.addItem(labels[mode], mode)
        # With every seed fixed, "as set" would render the same video N times: offer increment first.
        self.mode.setCurrentIndex(0 if any_own_modes else 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Queue")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Runs", self.count)
        form.addRow("Seeds", self.mode)
        form.addRow(buttons)

    def choice(self) -> tuple[int, str]:
        return self.count.value(), self.mode.currentData()


def seeds_command(graph: Graph, after: Graph, registry: Any) -> Any:
    """One undoable edit moving the editor's seeds to where the batch left them (None if none moved)."""
    from studio.ui.commands import Command, SetParamCommand

    macro = Command("Next seeds after batch")
    for key in seed_params(graph, registry):
        node_id, _, name = key.rpartition(".")
        value = after.node(node_id).params.get(name)
        if value is not None and graph.node(node_id).params.get(name) != value:
            SetParamCommand(graph, node_id, name, value, macro)
    return macro if macro.children else None
