"""User settings and folders, resolved through platformdirs (nothing is created at import).

``STUDIO_HOME`` moves every folder under one directory (used by tests and portable installs).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

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


MODELS_ENV = "STUDIO_MODELS"  # more model folders, separated by os.pathsep
MODELS_README = """\
Models for studio
=================

Put model files here, or add the folders you already have (a ComfyUI install or its models/
folder works as it is) in the window's settings, with --models DIR, or in the STUDIO_MODELS
environment variable (folders separated by {sep}). `studio models` lists what it finds.

  checkpoints/       full single-file models: SD 1.x/2.x and SDXL .safetensors
  diffusion_models/  bare UNets and transformers: Wan .safetensors (bf16, fp8) and .gguf files
  text_encoders/     text encoders: umt5_xxl (Wan), clip_l, clip_g
  vae/               VAEs: wan_2.1_vae, wan2.2_vae, sdxl_vae
  clip_vision/       image encoders: clip_vision_h (Wan 2.1 image-to-video)
  loras/             LoRAs
  upscale_models/    upscalers (ESRGAN-like); .pth files load only with "allow pickle"

A diffusers folder (one with model_index.json) can go anywhere here. These are ComfyUI's
folder names. Nothing is ever downloaded.
"""
MODEL_KIND_FOLDERS = (
    "checkpoints",
    "diffusion_models",
    "text_encoders",
    "vae",
    "clip_vision",
    "loras",
    "upscale_models",
)


def default_models_folder() -> Path:
    """The app's own models folder (not created here: see :func:`ensure_models_folder`)."""
    return data_dir() / "models"


def ensure_models_folder() -> Path:
    """Create the app's models folder on first use, with its kind folders and a README.txt saying
    what goes where. Raises OSError when it cannot be made."""
    folder = default_models_folder()
    if (folder / "README.txt").exists():
        return folder
    for name in MODEL_KIND_FOLDERS:
        (folder / name).mkdir(parents=True, exist_ok=True)
    from studio.files import atomic_write_bytes

    atomic_write_bytes(folder / "README.txt", MODELS_README.format(sep=repr(os.pathsep)).encode("utf-8"))
    return folder


@dataclass
class Settings:
    model_folders: list[str] = field(default_factory=list)  # besides the app's own models folder
    output_dir: str = ""
    device: str = "auto"
    cluster_address: str = ""  # the render queue's Ray cluster (HOST:PORT, or "local"); empty: this machine
    allow_pickle: bool = False
    theme: str = "dark"
    cpu_threads: int = 0  # torch's threads for runs on the CPU; 0: STUDIO_CPU_THREADS, else the cores free
    cache_percent: int = 0  # of the machine's memory kept for node outputs between runs; 0: automatic (10%)
    attention: str = "auto"  # LoadModel's attention when it says auto (ATTENTION_BACKENDS)
    compile: bool = False  # compile every model's repeated blocks (torch.compile)

    def output_cache_bytes(self) -> int | None:
        """The output cache's budget in bytes, or None for the engine's automatic share."""
        if not 0 < self.cache_percent <= 90:
            return None
        from studio.engine.cache import physical_memory

        return physical_memory() * self.cache_percent // 100

    @property
    def output_path(self) -> Path:
        return Path(self.output_dir) if self.output_dir else data_dir() / "output"

    def model_paths(self) -> list[Path]:
        """The app's own models folder first, then the folders in ``STUDIO_MODELS`` (separated by
        ``os.pathsep``), then the folders the user added; each once."""
        env = [Path(p).expanduser() for p in os.environ.get(MODELS_ENV, "").split(os.pathsep) if p.strip()]
        paths: list[Path] = []
        for path in (default_models_folder(), *env, *(Path(p) for p in self.model_folders)):
            if path not in paths:
                paths.append(path)
        return paths

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
        if values["attention"] != "auto":
            # Imported only here: the node API brings the graph model, which the window's first
            # paint does not need.
            from studio.nodeapi import ATTENTION_BACKENDS

            if values["attention"] not in ATTENTION_BACKENDS:
                values["attention"] = "auto"
        return cls(**values)

    def save(self, path: Path | None = None) -> Path:
        from studio.files import atomic_write_bytes

        path = path or config_dir() / "settings.json"
        return atomic_write_bytes(path, json.dumps(asdict(self), indent=2).encode("utf-8"))
