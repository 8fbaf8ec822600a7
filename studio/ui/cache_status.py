"""CacheStatus: what the engine keeps between runs, in the status bar (outputs, models, disk)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


class CacheStatus(QLabel):
    """Shows the cache sizes of the ``runs`` controller's engine; refreshed after each run and
    whenever models are unloaded or the cache is cleared."""

    def __init__(self, runs: Any) -> None:
        super().__init__()
        self.runs = runs
        self.setObjectName("cache-status")
        self.setToolTip(
            "Kept between runs so only what changed runs again. Run → Unload models or Clear cache frees it."
        )
        runs.run_finished.connect(lambda job: self.refresh())
        runs.cache_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        sizes = self.runs.cache_sizes()
        self.sizes = sizes
        self.setText(
            f"Cache: {human_bytes(sizes['outputs'])} outputs · {human_bytes(sizes['models'])} models"
            f" · {human_bytes(sizes['disk'])} on disk"
        )
