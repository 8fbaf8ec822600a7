"""Import a module of scripts/train_starter (a script folder, not a package) in tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts" / "train_starter"


def script(name: str):
    """``scripts/train_starter/<name>.py`` as a module, loaded once."""
    key = f"starter_{name}"
    if key not in sys.modules:
        if str(SCRIPTS) not in sys.path:
            sys.path.insert(0, str(SCRIPTS))  # the scripts import each other as top-level modules
        spec = importlib.util.spec_from_file_location(key, SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module  # before running it: a dataclass in it looks its module up
        spec.loader.exec_module(module)
    return sys.modules[key]
