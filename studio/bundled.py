"""The studio's bundled files (starter model, example graphs, sounds): found one way, wherever it runs."""

from __future__ import annotations

from pathlib import Path

PREFIX = "resources"


def resources_root() -> Path:
    """The folder holding the bundled files."""
    return Path(__file__).resolve().parents[1] / PREFIX


def find_bundled(relative: str | Path) -> Path | None:
    """The bundled file or folder that ``resources/...`` names, or None (absolute paths never match)."""
    path = Path(relative)
    if path.is_absolute() or not path.parts or path.parts[0] != PREFIX or ".." in path.parts:
        return None
    candidate = resources_root().joinpath(*path.parts[1:])
    return candidate if candidate.exists() else None
