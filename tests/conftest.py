"""Test set-up: offline, offscreen, and every user folder under a temporary STUDIO_HOME."""

from __future__ import annotations

import os
import tempfile

# Before anything imports Qt, transformers or huggingface_hub.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-home-"))

import pytest  # noqa: E402

from studio.composition import default_registry
from studio.graph import NodeRegistry  # noqa: E402


@pytest.fixture
def registry() -> NodeRegistry:
    """A fresh registry with the built-in nodes (no plugins)."""
    return default_registry(plugins=False)


@pytest.fixture
def families():
    """A fresh family registry with the built-in families (no plugins)."""
    from studio.composition import default_families

    return default_families(plugins=False)


@pytest.fixture
def studio_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("STUDIO_HOME", str(home))
    return home
