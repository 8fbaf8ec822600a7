"""Cheap step previews: a tiny preview decoder where the user has one for the family, else a linear
latent→RGB map (the factors a model folder carries in ``preview_factors.json``, else the family's).

Tiny decoders are ComfyUI's ``vae_approx/`` files (TAESD for SD 1.x/2.x and AnimateDiff, TAESDXL
for SDXL), as single ``.safetensors`` files in the original layout or as diffusers folders, loaded
with diffusers' ``AutoencoderTiny``; never a pickle. Video families' tiny decoders (TAEHV: Wan,
LTX, CogVideoX) have no diffusers class yet (0.42), so those families preview with their factors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

FACTORS_FILE = "preview_factors.json"
MAX_FACTORS_BYTES = 64 * 1024
APPROX_FOLDER = "vae_approx"
# family → (ComfyUI's single file in vae_approx/, the diffusers folder name madebyollin publishes)
TINY_DECODERS = {
    "sd15": ("taesd_decoder.safetensors", "taesd"),
    "animatediff": ("taesd_decoder.safetensors", "taesd"),
    "sdxl": ("taesdxl_decoder.safetensors", "taesdxl"),
}


def latent_preview(latents: Any, fmt: Any) -> Any:
    """uint8 RGB frames ``[frames, h, w, 3]`` of the first batch item of ``latents`` [B, C, F, h, w].

    Image models with several frames (frame-by-frame) preview all of them too. Channels
    without factors (an unknown family) fall back to the first three channels.
    """
    import torch

    x = latents[0].detach().float()  # C, F, h, w
    if fmt.rgb_factors and len(fmt.rgb_factors) == x.shape[0]:
        factors = torch.tensor(fmt.rgb_factors, dtype=x.dtype, device=x.device)
        bias = torch.tensor(fmt.rgb_bias, dtype=x.dtype, device=x.device)
        rgb = torch.einsum("cfhw,cr->fhwr", x, factors) + bias
    else:
        rgb = x[:3].permute(1, 2, 3, 0)
        if rgb.shape[-1] < 3:
            rgb = rgb[..., :1].expand(*rgb.shape[:-1], 3)
    return _to_uint8(rgb)


def _to_uint8(rgb: Any) -> Any:
    import torch

    return ((rgb + 1.0) * 127.5).clamp(0, 255).to(torch.uint8).cpu().numpy()


# ---- factors a model folder carries ---------------------------------------------------------------
def with_folder_factors(fmt: Any, folder: Path, logger: Any) -> Any:
    """``fmt`` with the factors fitted for this very model (``preview_factors.json`` in its folder,
    see scripts/fit_preview_factors.py), when it has valid ones; else ``fmt`` unchanged."""
    path = Path(folder) / FACTORS_FILE
    if not Path(folder).is_dir() or not path.is_file():
        return fmt
    try:
        if path.stat().st_size > MAX_FACTORS_BYTES:
            raise ValueError(f"larger than {MAX_FACTORS_BYTES} bytes")
        record = json.loads(path.read_text("utf-8"))
        factors, bias = _checked_factors(record, fmt.channels)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        logger.warning("ignoring %s (%s); previews use the family's factors", path, exc)
        return fmt
    return replace(fmt, rgb_factors=factors, rgb_bias=bias)


def _checked_factors(record: Any, channels: int) -> tuple[tuple[tuple[float, float, float], ...], tuple]:
    rows, bias = record.get("rgb_factors"), record.get("rgb_bias")
    if not isinstance(rows, list) or len(rows) != channels:
        raise ValueError(f"rgb_factors must be {channels} rows (one per latent channel)")
    triples = [*rows, bias]
    if not all(isinstance(row, list) and len(row) == 3 for row in triples):
        raise ValueError("each row of rgb_factors and rgb_bias must be three numbers")
    values = [v for row in triples for v in row]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        raise ValueError("rgb_factors and rgb_bias must be finite numbers")
    return tuple(tuple(float(v) for v in row) for row in rows), tuple(float(v) for v in bias)


# ---- tiny preview decoders ------------------------------------------------------------------------
def find_tiny_decoder(family: str, folders: Iterable[Path]) -> Path | None:
    """The family's tiny decoder in a model folder's ``vae_approx/`` (or a ComfyUI ``models/vae_approx/``)."""
    names = TINY_DECODERS.get(family)
    if names is None:
        return None
    for folder in folders:
        folder = Path(folder).expanduser()
        for approx in (folder / APPROX_FOLDER, folder / "models" / APPROX_FOLDER, folder):
            file, diffusers_folder = approx / names[0], approx / names[1]
            if file.is_file():
                return file
            if (diffusers_folder / "config.json").is_file():
                return diffusers_folder
    return None


def load_tiny_decoder(path: Path) -> Any:
    """diffusers' AutoencoderTiny holding the decoder at ``path`` (a diffusers folder, or a single
    ``*_decoder.safetensors`` in the original TAESD layout), in eval mode, on the CPU."""
    import diffusers
    import torch
    from safetensors.torch import load_file

    if path.is_dir():
        return diffusers.AutoencoderTiny.from_pretrained(path, use_safetensors=True, local_files_only=True).eval()
    state = load_file(str(path))
    first = state.get("1.weight")
    if first is None or first.ndim != 4:
        raise ValueError(f"{path.name} is not a TAESD decoder (no '1.weight' convolution)")
    torch.manual_seed(0)  # the encoder half stays unused; seeded so loading is reproducible
    model = diffusers.AutoencoderTiny(latent_channels=int(first.shape[1])).eval()
    # The original decoder starts with a Clamp module that diffusers applies in forward() instead:
    # every layer index is one lower in diffusers' DecoderTiny.
    renamed = {}
    for key, value in state.items():
        index, _, rest = key.partition(".")
        if not index.isdigit() or int(index) == 0:
            raise ValueError(f"{path.name}: unexpected tensor {key!r} for a TAESD decoder")
        renamed[f"layers.{int(index) - 1}.{rest}"] = value
    missing, unexpected = model.decoder.load_state_dict(renamed, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{path.name} does not fit a TAESD decoder (missing {len(missing)}, unexpected {len(unexpected)})"
        )
    return model


def tiny_decoder_preview(decoder: Any) -> Callable[[Any], Any]:
    """A previewer decoding each frame of the first batch item with ``decoder`` (an AutoencoderTiny)."""

    def preview(latents: Any) -> Any:
        import torch

        x = latents[0].detach()  # C, F, h, w
        frames = x.permute(1, 0, 2, 3).to(device=next(decoder.parameters()).device, dtype=torch.float32)
        with torch.no_grad():
            rgb = decoder.decode(frames).sample  # F, 3, H, W in -1..1
        return _to_uint8(rgb.permute(0, 2, 3, 1))

    return preview


def model_previewer(model: Any, fmt: Any, folders: Iterable[Path], logger: Any) -> Callable[[Any], Any]:
    """How ``model``'s latents become step previews: its family's tiny decoder when the user has one
    (loaded once per model, kept with it), else the linear factors of ``fmt``."""
    memo = model.memo
    if "tiny_decoder" not in memo:
        memo["tiny_decoder"] = None
        path = find_tiny_decoder(model.family, folders)
        if path is not None:
            try:
                decoder = load_tiny_decoder(path)
                memo["tiny_decoder"] = decoder.to(model.device if model.offload == "none" else "cpu")
                logger.info("step previews decode with %s", path)
            except Exception as exc:  # a nicety: any unreadable file (safetensors' own errors too) falls back
                logger.warning("cannot use %s for previews (%s); using the latent factors", path, exc)
    decoder = memo["tiny_decoder"]
    if decoder is not None and fmt.family == model.family:
        return tiny_decoder_preview(decoder)
    return lambda latents: latent_preview(latents, fmt)
