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
    from studio.local_engine import engine_from_settings

    return engine_from_settings(settings, registry)
