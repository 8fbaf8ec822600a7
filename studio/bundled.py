"""The studio's bundled files (starter model, example graphs, sounds): found one way, wherever it runs.

They live in the top-level ``resources/`` folder of the source tree, which installs as the package
``studio.resources`` (pyproject.toml maps the folder; an editable install's finder maps it too),
so importlib finds them in a checkout, an editable install and an installed wheel alike.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

PREFIX = "resources"


def resources_root() -> Path:
    """The folder holding the bundled files."""
    try:
        root = importlib.resources.files("studio.resources")
    except ModuleNotFoundError:
        # A source checkout run without installing (PYTHONPATH=.): the folder beside the package.
        return Path(__file__).resolve().parents[1] / PREFIX
    if not isinstance(root, Path):
        raise RuntimeError(f"studio's bundled files must be unpacked on disk, found {root!r}")
    return root


def find_bundled(relative: str | Path) -> Path | None:
    """The bundled file or folder that ``resources/...`` names, or None (absolute paths never match)."""
    path = Path(relative)
    if path.is_absolute() or not path.parts or path.parts[0] != PREFIX or ".." in path.parts:
        return None
    candidate = resources_root().joinpath(*path.parts[1:])
    return candidate if candidate.exists() else None
