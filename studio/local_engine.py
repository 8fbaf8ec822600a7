"""The engine a user's settings describe, built one way for every front end: ``studio run``,
``studio batch``, the window and a render-farm worker each add only what is theirs (a device or
output folder from the command line, extra model folders, a preview rate, a thread count)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any


def engine_from_settings(
    settings: Any,
    registry: Any,
    *,
    device: str | None = None,
    output_dir: Path | None = None,
    model_folders: Iterable[Path] = (),
    preview_interval: float = 0.0,
    cpu_threads: int | None = None,
) -> Any:
    """An Engine for ``settings`` (a ``studio.settings.Settings``): its device, output and model
    folders (ComfyUI kind folders included), pickle policy, attention and compile defaults, CPU
    threads, output cache size and the on-disk cache of expensive outputs. ``model_folders`` come
    before the settings' own (``--models``)."""
    from studio.composition import default_families
    from studio.engine import Engine, RunSettings
    from studio.engine.disk_cache import DiskCache
    from studio.model_folders import search_folders
    from studio.settings import cache_dir

    return Engine(
        device or settings.device,
        registry=registry,
        families=default_families(),
        disk_cache=DiskCache(cache_dir() / "outputs"),
        cpu_threads=settings.cpu_threads if cpu_threads is None else cpu_threads,
        cache_bytes=settings.output_cache_bytes(),
        settings=RunSettings(
            output_dir=settings.output_path if output_dir is None else output_dir,
            model_folders=tuple(search_folders([*model_folders, *settings.model_paths()])),
            allow_pickle=settings.allow_pickle,
            preview_interval=preview_interval,
            attention=settings.attention,
            compile=settings.compile,
        ),
    )


def render_process_engine(settings: Any) -> Any:
    """The engine inside the window's render process (:class:`studio.engine.process.ProcessEngine`
    calls this there): the installed node packs and the user's settings, as ``studio run`` has."""
    from studio.composition import default_registry

    return engine_from_settings(settings, default_registry())
