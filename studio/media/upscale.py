"""Upscaling: OpenCV Lanczos/bicubic resampling, or an ESRGAN-family model through spandrel.

Models run tile by tile with overlapping, feathered seams so memory stays bounded whatever the
frame size; a tile that runs out of memory is retried at half the size.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.media.errors import MediaError

METHODS = ("lanczos", "bicubic", "model")
MODEL_SUFFIXES = (".safetensors", ".pth", ".ckpt")
MIN_TILE = 32


def target_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """The output (width, height) for ``scale``: rounded, never below one pixel."""
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_frames(
    array: Any,
    scale: float,
    method: str = "lanczos",
    *,
    size: tuple[int, int] | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> Any:
    """Resize uint8 frames ``[F, H, W, 3]`` by ``scale`` (or to ``size`` = (width, height))."""
    import cv2
    import numpy as np

    count, height, width = array.shape[:3]
    out_w, out_h = size or target_size(width, height, scale)
    if (out_w, out_h) == (width, height):
        return array
    shrinking = out_w < width and out_h < height
    # Area averaging is the alias-free choice for shrinking; Lanczos/cubic ring there.
    flag = cv2.INTER_AREA if shrinking else {"lanczos": cv2.INTER_LANCZOS4, "bicubic": cv2.INTER_CUBIC}[method]
    out = np.empty((count, out_h, out_w, 3), np.uint8)
    for i in range(count):
        if check_cancelled is not None:
            check_cancelled()
        cv2.resize(array[i], (out_w, out_h), dst=out[i], interpolation=flag)
    return out


def load_upscale_model(path: str | Path, device: str = "cpu") -> Any:
    """Load an image-to-image model (ESRGAN, Real-ESRGAN Compact, SwinIR, ... via spandrel).

    ``.safetensors`` is read directly; ``.pth``/``.ckpt`` only through ``torch.load(weights_only=True)``,
    which refuses pickled code. Raises :class:`MediaError` naming what was wrong.
    """
    import spandrel
    import torch

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"model file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise MediaError(f"{path.name}: model files must be {', '.join(MODEL_SUFFIXES)}, got {suffix or 'no suffix'!r}")
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle refusals, truncated files, bad headers: all "cannot load"
        raise MediaError(f"cannot load {path.name}: {str(exc).splitlines()[0][:200]}") from None
    if not isinstance(state, dict):
        raise MediaError(f"{path.name} does not hold a state dict of weights")
    try:
        descriptor = spandrel.ModelLoader().load_from_state_dict(spandrel.canonicalize_state_dict(state))
    except spandrel.UnsupportedModelError:
        raise MediaError(
            f"{path.name}: not a model architecture spandrel knows (ESRGAN, Compact, SwinIR, ...)"
        ) from None
    except Exception as exc:  # mismatched shapes in a half-recognised file
        raise MediaError(f"{path.name}: cannot build the model ({str(exc).splitlines()[0][:200]})") from None
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise MediaError(f"{path.name} is a {descriptor.purpose} model, not an image upscaler")
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise MediaError(
            f"{path.name} works on {descriptor.input_channels}-channel images; only RGB models are supported"
        )
    descriptor.eval()
    descriptor.to(torch.device(device))
    if device.startswith("cuda") and descriptor.supports_half:
        descriptor.half()
    return descriptor


def upscale_with_model(
    array: Any,
    model: Any,
    scale: float,
    *,
    tile: int = 512,
    overlap: int = 32,
    check_cancelled: Callable[[], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Run ``model`` over uint8 frames ``[F, H, W, 3]`` in overlapping tiles, then resample the
    result to exactly ``scale`` times the input size when the model's own factor differs."""
    import numpy as np

    count, height, width = array.shape[:3]
    out_w, out_h = target_size(width, height, scale)
    out = np.empty((count, out_h, out_w, 3), np.uint8)
    for i in range(count):
        if check_cancelled is not None:
            check_cancelled()
        frame, tile = _upscale_frame(array[i], model, tile, overlap, check_cancelled)
        out[i] = resize_frames(frame[None], 1.0, "lanczos", size=(out_w, out_h))[0]
        if progress is not None:
            progress(i + 1, count)
    return out


def _upscale_frame(image: Any, model: Any, tile: int, overlap: int, check_cancelled: Any) -> tuple[Any, int]:
    """One frame through the model; returns it and the tile size that fitted in memory."""
    import torch

    while True:
        try:
            with torch.inference_mode():
                return _run_tiles(image, model, tile, overlap, check_cancelled), tile
        except (torch.OutOfMemoryError, RuntimeError) as exc:
            if not _is_out_of_memory(exc):
                raise
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            if tile // 2 < MIN_TILE:
                raise MediaError(
                    f"out of memory even with {tile}-pixel tiles; free memory or use a smaller model"
                ) from None
            tile //= 2


def _is_out_of_memory(exc: BaseException) -> bool:
    import torch

    text = str(exc).lower()
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in text or "can't allocate memory" in text


def _run_tiles(image: Any, model: Any, tile: int, overlap: int, check_cancelled: Any) -> Any:
    import numpy as np
    import torch

    height, width = image.shape[:2]
    factor = int(model.scale)
    param = next(model.model.parameters())
    source = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].to(param.device, param.dtype) / 255.0
    acc = torch.zeros((3, height * factor, width * factor), dtype=torch.float32)
    weight = torch.zeros((1, height * factor, width * factor), dtype=torch.float32)
    tile = max(MIN_TILE, min(tile, max(height, width)))
    overlap = min(overlap, tile // 4)
    for y0 in _starts(height, tile, overlap):
        for x0 in _starts(width, tile, overlap):
            if check_cancelled is not None:
                check_cancelled()
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            result = _run_model(model, source[:, :, y0:y1, x0:x1])
            window = _window(y1 - y0, x1 - x0, overlap, factor, (y0 == 0, y1 == height, x0 == 0, x1 == width))
            ys, xs = slice(y0 * factor, y1 * factor), slice(x0 * factor, x1 * factor)
            acc[:, ys, xs] += result.float().cpu()[0] * window
            weight[:, ys, xs] += window
    rgb = (acc / weight).clamp_(0, 1).mul_(255).round_().to(torch.uint8)
    return rgb.permute(1, 2, 0).numpy()


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]  # the last tile ends flush with the edge


def _run_model(model: Any, piece: Any) -> Any:
    """Pad ``piece`` to the model's size requirements (reflecting edges), run, crop back."""
    import torch.nn.functional as F

    req = model.size_requirements
    h, w = piece.shape[-2:]
    need_h, need_w = max(h, req.minimum), max(w, req.minimum)
    if req.square:
        need_h = need_w = max(need_h, need_w)
    need_h += -need_h % req.multiple_of
    need_w += -need_w % req.multiple_of
    if (need_h, need_w) != (h, w):
        mode = "reflect" if need_h - h < h and need_w - w < w else "replicate"
        piece = F.pad(piece, (0, need_w - w, 0, need_h - h), mode=mode)
    factor = int(model.scale)
    return model(piece)[:, :, : h * factor, : w * factor]


def _window(h: int, w: int, overlap: int, factor: int, edges: tuple[bool, bool, bool, bool]) -> Any:
    """A feathering weight: ramps up over the overlap on sides shared with another tile."""
    import torch

    def ramp(n: int, start_edge: bool, end_edge: bool) -> Any:
        r = torch.ones(n * factor)
        band = overlap * factor
        if band:
            up = torch.linspace(1.0 / (band + 1), 1.0, band)
            if not start_edge:
                r[:band] = torch.minimum(r[:band], up[: min(band, n * factor)])
            if not end_edge:
                r[-band:] = torch.minimum(r[-band:], up.flip(0)[-min(band, n * factor) :])
        return r

    top, bottom, left, right = edges
    return ramp(h, top, bottom)[:, None] * ramp(w, left, right)[None, :]
