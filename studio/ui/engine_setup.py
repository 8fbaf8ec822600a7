"""The engine the window runs graphs with, built from the user's settings."""

from __future__ import annotations

from typing import Any


def make_engine(settings: Any, registry: Any) -> Any:
    """An engine for ``settings``: its device, output and model folders (ComfyUI kind folders
    included), pickle policy, CPU threads, and the on-disk cache of expensive outputs; or, with a
    cluster address, the render farm's runner (it connects on the first job, from the queue's thread)."""
    if settings.cluster_address.strip():
        from studio.farm import ClusterRunner

        return ClusterRunner(settings.cluster_address.strip(), registry, settings.output_path)
    from studio.composition import default_families
    from studio.engine import Engine, RunSettings
    from studio.engine.disk_cache import DiskCache
    from studio.model_folders import search_folders
    from studio.settings import cache_dir

    run_settings = RunSettings(
        output_dir=settings.output_path,
        model_folders=tuple(search_folders(settings.model_paths())),
        allow_pickle=settings.allow_pickle,
        attention=settings.attention,
        compile=settings.compile,
    )
    return Engine(
        settings.device,
        registry=registry,
        families=default_families(),
        settings=run_settings,
        cpu_threads=settings.cpu_threads,
        disk_cache=DiskCache(cache_dir() / "outputs"),
        cache_bytes=settings.output_cache_bytes(),
    )
