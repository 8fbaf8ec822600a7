"""Still images: decode PNG/JPEG/WebP/TIFF/BMP/EXR... with OpenCV, anything else PyAV opens as its first frame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.media.errors import MediaError
from studio.media.image_header import read_header
from studio.media.limits import check_picture, memory_budget, too_big
from studio.media.types import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".exr", ".avif")


def read_image(path: str | Path, *, max_bytes: int | None = None) -> Image:
    """Read ``path`` as uint8 RGB ``[H, W, 3]``: grey is expanded, alpha dropped, 16-bit and float scaled.

    The size in the file's header is checked before decoding: more than
    :data:`~studio.media.limits.MAX_PIXELS`, or more than ``max_bytes`` (default: the media
    budget) to decode, is refused. Raises :class:`MediaError` for a missing, undecodable or
    oversized file.
    """
    import cv2
    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"image not found: {path}")
    limit = memory_budget() if max_bytes is None else max_bytes
    file_size = path.stat().st_size
    if file_size > limit:
        raise too_big(path, file_size, limit, "the file alone")
    # imdecode on bytes rather than imread: imread cannot open non-ASCII paths on Windows.
    data = np.fromfile(str(path), dtype=np.uint8)
    header = read_header(memoryview(data), path.name)
    if header is None:
        return Image(_first_frame(path, limit))
    _check_size(path, header.width, header.height, header.bytes_per_pixel, limit)
    try:
        decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error as exc:
        raise MediaError(f"cannot read {path.name}: {_cv2_reason(exc)}") from None
    del data
    if decoded is None:
        return Image(_first_frame(path, limit))
    return Image(_to_rgb8(decoded, path))


def _check_size(path: Path, width: int, height: int, bytes_per_pixel: int, limit: int) -> None:
    """Refuse a picture over the pixel cap, or whose decoding (and RGB copy) would pass ``limit``."""
    check_picture(path, width, height)
    needed = width * height * (bytes_per_pixel + 3)
    if needed > limit:
        raise too_big(path, needed, limit, f"{width}×{height} pixels")


def _cv2_reason(exc: Exception) -> str:
    # "OpenCV(5.0.0) /path/loadsave.cpp:79: error: (-215:Assertion failed) pixels <= ... in function '...'"
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else "OpenCV error"
    return text.split(") ", 1)[-1] if "error: (" in text else text


def _to_rgb8(pixels: Any, path: Path) -> Any:
    import cv2
    import numpy as np

    # Scaled in place: a temporary the size of the decoded picture is what the size check leaves no room for.
    if pixels.dtype == np.uint16:
        np.right_shift(pixels, 8, out=pixels)
        pixels = pixels.astype(np.uint8)
    elif pixels.dtype.kind == "f":
        np.multiply(pixels, 255.0, out=pixels)
        pixels += 0.5
        np.clip(pixels, 0, 255, out=pixels)
        pixels = pixels.astype(np.uint8)
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


def _first_frame(path: Path, limit: int) -> Any:
    """The first frame PyAV decodes, for formats OpenCV does not read; its size is checked first."""
    import av

    from studio.media.audio_io import open_media

    with open_media(path) as container:
        if not container.streams.video:
            raise MediaError(f"cannot read {path.name}: not an image")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if not (width and height):
            raise MediaError(f"cannot read {path.name}: not an image, or its size cannot be told before decoding it")
        _check_size(path, width, height, 8, limit)
        try:
            for frame in container.decode(stream):
                return frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError:
            pass
    raise MediaError(f"cannot read {path.name}: the image is damaged or truncated")
