"""Reading what a weights file holds (tensor names, shapes, storage types) without loading any weights.

A ``.safetensors`` file starts with an 8-byte little-endian length and a JSON header; only the
header is read, as data. Anything that is not a plain, readable file of that shape raises
:class:`WeightsFileError` with the reason, so scanners can skip it and say why.
"""

from __future__ import annotations

import json
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

MAX_HEADER = 100 * 1024 * 1024  # real headers are at most a few MB; a larger claim is hostile or damaged


class WeightsFileError(ValueError):
    """A weights file that cannot be read as what its name says."""


@dataclass(frozen=True)
class TensorInfo:
    dtype: str  # as the file stores it: "F16", "BF16", "F8_E4M3", ...
    shape: tuple[int, ...]


def safetensors_header(path: str | os.PathLike[str]) -> dict[str, TensorInfo]:
    """The tensors a ``.safetensors`` file declares, by name (``__metadata__`` left out)."""
    path = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO named *.safetensors must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise WeightsFileError(f"{path.name}: cannot be opened ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise WeightsFileError(f"{path.name}: not a regular file")
        raw = handle.read(8)
        if len(raw) != 8:
            raise WeightsFileError(f"{path.name} is too short to be a .safetensors file")
        (length,) = struct.unpack("<Q", raw)
        if length > MAX_HEADER:
            raise WeightsFileError(f"{path.name} declares an implausible header of {length} bytes")
        text = handle.read(length)
    if len(text) != length:
        raise WeightsFileError(f"{path.name} is truncated (its header is cut short)")
    try:
        header = json.loads(text)
    except (ValueError, RecursionError):
        raise WeightsFileError(f"{path.name}: the header is not valid JSON") from None
    if not isinstance(header, dict):
        raise WeightsFileError(f"{path.name}: the header is not a table of tensors")
    tensors: dict[str, TensorInfo] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        dtype = entry.get("dtype") if isinstance(entry, dict) else None
        if (
            not isinstance(shape, list)
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
            or not isinstance(dtype, str)
        ):
            raise WeightsFileError(f"{path.name}: tensor {name!r} has no valid dtype and shape")
        tensors[name] = TensorInfo(dtype, tuple(shape))
    return tensors


def tensor_shapes(path: str | os.PathLike[str]) -> dict[str, tuple[int, ...]]:
    """Tensor name → shape, what family recognisers read."""
    return {name: info.shape for name, info in safetensors_header(path).items()}


MAX_INDEX = 1024 * 1024  # a model_index.json is a few hundred bytes


def read_model_index(folder: str | os.PathLike[str]) -> dict:
    """A diffusers folder's ``model_index.json`` as a dict (size-capped, read as data)."""
    path = Path(folder) / "model_index.json"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise WeightsFileError(f"{path}: cannot be opened ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise WeightsFileError(f"{path}: not a regular file")
        raw = handle.read(MAX_INDEX + 1)
    if len(raw) > MAX_INDEX:
        raise WeightsFileError(f"{path}: larger than {MAX_INDEX} bytes, not a model index")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise WeightsFileError(f"{path}: not valid JSON") from None
    if not isinstance(data, dict):
        raise WeightsFileError(f"{path}: not a JSON object")
    return data
