"""Still images: decode PNG/JPEG/WebP/TIFF/BMP/EXR... with OpenCV, anything else PyAV opens as its first frame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.media.errors import MediaError
from studio.media.types import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".exr", ".avif")


def read_image(path: str | Path) -> Image:
    """Read ``path`` as uint8 RGB ``[H, W, 3]``: grey is expanded, alpha dropped, 16-bit and float scaled.

    Raises :class:`MediaError` for a missing or undecodable file.
    """
    import cv2
    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"image not found: {path}")
    # imdecode on bytes rather than imread: imread cannot open non-ASCII paths on Windows.
    data = np.fromfile(str(path), dtype=np.uint8)
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if decoded is None:
        return Image(_first_frame(path))
    return Image(_to_rgb8(decoded, path))


def _to_rgb8(pixels: Any, path: Path) -> Any:
    import cv2
    import numpy as np

    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    elif pixels.dtype.kind == "f":
        pixels = np.clip(pixels * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif pixels.dtype != np.uint8:
        raise MediaError(f"{path.name}: unsupported pixel type {pixels.dtype}")
    if pixels.ndim == 2:
        return np.ascontiguousarray(np.repeat(pixels[..., None], 3, axis=2))
    channels = pixels.shape[2]
    if channels == 4:
        return cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGB)
    if channels == 3:
        return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    if channels == 1:
        return np.ascontiguousarray(np.repeat(pixels, 3, axis=2))
    raise MediaError(f"{path.name}: unsupported number of channels ({channels})")


def _first_frame(path: Path) -> Any:
    import av

    from studio.media.audio_io import open_media

    with open_media(path) as container:
        if not container.streams.video:
            raise MediaError(f"cannot read {path.name}: not an image")
        try:
            for frame in container.decode(container.streams.video[0]):
                return frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError:
            pass
    raise MediaError(f"cannot read {path.name}: the image is damaged or truncated")
