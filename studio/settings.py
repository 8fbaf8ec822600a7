"""User settings and folders, resolved through platformdirs (nothing is created at import).

``STUDIO_HOME`` moves every folder under one directory (used by tests and portable installs).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from studio.files import atomic_write_bytes

APP_NAME = "studio"
THEMES = ("dark", "light")


def config_dir() -> Path:
    home = os.environ.get("STUDIO_HOME")
    if home:
        return Path(home) / "config"
    import platformdirs

    return platformdirs.user_config_path(APP_NAME)


def data_dir() -> Path:
    home = os.environ.get("STUDIO_HOME")
    if home:
        return Path(home) / "data"
    import platformdirs

    return platformdirs.user_data_path(APP_NAME)


def cache_dir() -> Path:
    """Where expensive node outputs are kept between runs (safe to delete)."""
    home = os.environ.get("STUDIO_HOME")
    if home:
        return Path(home) / "cache"
    import platformdirs

    return platformdirs.user_cache_path(APP_NAME)


@dataclass
class Settings:
    model_folders: list[str] = field(default_factory=list)  # besides the app's own models folder
    output_dir: str = ""
    device: str = "auto"
    allow_pickle: bool = False
    theme: str = "dark"

    @property
    def output_path(self) -> Path:
        return Path(self.output_dir) if self.output_dir else data_dir() / "output"

    def model_paths(self) -> list[Path]:
        """The app's own models folder first, then the folders the user added."""
        return [data_dir() / "models", *(Path(p) for p in self.model_folders)]

    @classmethod
    def load(cls, path: Path | None = None) -> "Settings":
        """Read settings; a missing or damaged file gives defaults (the damage is not fatal)."""
        path = path or config_dir() / "settings.json"
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        defaults = cls()
        values = {}
        for key, default in asdict(defaults).items():
            value = data.get(key, default)
            values[key] = value if isinstance(value, type(default)) else default
        values["model_folders"] = [p for p in values["model_folders"] if isinstance(p, str)]
        if values["theme"] not in THEMES:
            values["theme"] = "dark"
        return cls(**values)

    def save(self, path: Path | None = None) -> Path:
        path = path or config_dir() / "settings.json"
        return atomic_write_bytes(path, json.dumps(asdict(self), indent=2).encode("utf-8"))
