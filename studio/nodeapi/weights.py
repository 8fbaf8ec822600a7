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


# ---- GGUF --------------------------------------------------------------------------------
GGUF_MAGIC = b"GGUF"
MAX_GGUF_TENSORS = 100_000  # a diffusion model has a few thousand; more is damage, not a model
MAX_GGUF_FIELDS = 100_000
ORIG_SHAPE_KEY = "comfy.gguf.orig_shape."  # ComfyUI-GGUF keeps a >4-d tensor's real shape here


def gguf_tensors(path: str | os.PathLike[str]) -> dict[str, TensorInfo]:
    """The tensors a ``.gguf`` file declares, by name: the quantisation type ("Q8_0", "Q4_K",
    "F16", ...) and the shape in PyTorch's order (ComfyUI-GGUF's ``orig_shape`` applied).

    Only the header is parsed (through the ``gguf`` package's reader over a memory map); no
    tensor data is read. A damaged file raises :class:`WeightsFileError` with the reason.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise WeightsFileError(f"{path.name}: cannot be opened ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise WeightsFileError(f"{path.name}: not a regular file")
        _check_gguf_preamble(path.name, handle.read(24))
        handle.seek(0)
        reader = _gguf_reader(path.name, handle)
        tensors: dict[str, TensorInfo] = {}
        for tensor in reader.tensors:
            shape = _gguf_orig_shape(path.name, reader, tensor.name)
            if shape is None:
                shape = tuple(int(d) for d in reversed(tensor.shape.tolist()))
            tensors[tensor.name] = TensorInfo(tensor.tensor_type.name, shape)
    return tensors


def _check_gguf_preamble(name: str, raw: bytes) -> None:
    """Magic, version and counts, checked before the reader walks them (a damaged count is a
    loop of billions of steps, not an error, in a reader that trusts it)."""
    if len(raw) < 24:
        raise WeightsFileError(f"{name} is too short to be a .gguf file")
    if raw[:4] != GGUF_MAGIC:
        raise WeightsFileError(f"{name} is not a GGUF file (it does not start with 'GGUF')")
    version, tensors, fields = struct.unpack("<IQQ", raw[4:24])
    if version & 0xFFFF == 0:  # a big-endian file: the reader copes, the counts are swapped
        version, tensors, fields = struct.unpack(">IQQ", raw[4:24])
    if version not in (2, 3):
        raise WeightsFileError(f"{name}: GGUF version {version} is not supported (2 or 3)")
    if tensors > MAX_GGUF_TENSORS or fields > MAX_GGUF_FIELDS:
        raise WeightsFileError(f"{name} declares an implausible {tensors} tensors and {fields} fields")


def _gguf_reader(name: str, handle):
    from gguf import GGUFReader

    try:
        return GGUFReader(handle)  # numpy maps the open file; nothing is read until used
    except IndexError:  # numpy's words for reading past the end
        raise WeightsFileError(f"{name}: damaged GGUF header (it ends too early)") from None
    except (ValueError, TypeError, KeyError, OverflowError, struct.error) as exc:
        raise WeightsFileError(f"{name}: damaged GGUF header ({exc or type(exc).__name__})") from None


def _gguf_orig_shape(name: str, reader, tensor_name: str) -> tuple[int, ...] | None:
    from gguf import GGUFValueType

    field = reader.get_field(ORIG_SHAPE_KEY + tensor_name)
    if field is None:
        return None
    integers = (GGUFValueType.INT32, GGUFValueType.INT64, GGUFValueType.UINT32, GGUFValueType.UINT64)
    if len(field.types) != 2 or field.types[0] != GGUFValueType.ARRAY or field.types[1] not in integers:
        raise WeightsFileError(f"{name}: the original shape of {tensor_name!r} is not a list of integers")
    shape = tuple(int(field.parts[index][0]) for index in field.data)
    if any(d < 0 for d in shape):
        raise WeightsFileError(f"{name}: the original shape of {tensor_name!r} is negative")
    return shape


def weights_tensors(path: str | os.PathLike[str]) -> dict[str, TensorInfo]:
    """The tensors of a ``.safetensors`` (or ``.sft``) or ``.gguf`` file, read from its header."""
    suffix = Path(path).suffix.lower()
    if suffix == ".gguf":
        return gguf_tensors(path)
    if suffix in SAFETENSORS_SUFFIXES:
        return safetensors_header(path)
    raise WeightsFileError(f"{Path(path).name}: not a .safetensors or .gguf file")


SAFETENSORS_SUFFIXES = (".safetensors", ".sft")  # ComfyUI accepts .sft as a short name
