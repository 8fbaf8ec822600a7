"""An image's size read from its header, before anything decodes it.

A PNG of 30000×30000 zero rows compresses to 2.6 MB and decodes to 2.7 GB, and neither OpenCV
nor PyAV says how large a picture is without decoding it (PyAV's image demuxers decode the
first frame to find out). So the formats the studio reads are recognised here by their
signature and their width and height taken from the header: PNG, JPEG, WebP, GIF, BMP, TIFF,
AVIF/HEIF, OpenEXR, Radiance HDR and PNM/PFM.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from studio.media.errors import MediaError


@dataclass(frozen=True)
class ImageHeader:
    format: str
    width: int
    height: int
    bytes_per_pixel: int  # what the decoder's output takes per pixel, at most (channels x sample size)


def read_header(data: bytes | memoryview, name: str) -> ImageHeader | None:
    """The size the image file ``data`` declares, or None when its format is not one recognised here.

    Raises :class:`MediaError` naming ``name`` when the signature is known but the header is cut short or invalid.
    """
    start = bytes(data[:64])
    for signature, reader in _READERS:
        if signature(start):
            try:
                header = reader(data)
            except (struct.error, IndexError, ValueError):
                header = None
            if header is None or header.width <= 0 or header.height <= 0:
                raise MediaError(f"cannot read {name}: the image header is damaged or truncated")
            return header
    return None


def _png(data: bytes | memoryview) -> ImageHeader | None:
    if data[12:16] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    channels = {0: 1, 2: 3, 3: 4, 4: 4, 6: 4}.get(colour)  # palette and grey+alpha may decode to 4
    return ImageHeader("PNG", width, height, channels * (2 if depth == 16 else 1)) if channels else None


def _jpeg(data: bytes | memoryview) -> ImageHeader | None:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # no length follows
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before them
            return None
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            precision, height, width, components = struct.unpack(">BHHB", data[at + 4 : at + 10])
            return ImageHeader("JPEG", width, height, max(components, 3) * (2 if precision > 8 else 1))
        at += 2 + length
    return None


def _webp(data: bytes | memoryview) -> ImageHeader | None:
    kind = data[12:16]
    if kind == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return ImageHeader("WebP", width & 0x3FFF, height & 0x3FFF, 4)
    if kind == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return ImageHeader("WebP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 4)
    if kind == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return ImageHeader("WebP", width, height, 4)
    return None


def _gif(data: bytes | memoryview) -> ImageHeader:
    width, height = struct.unpack("<HH", data[6:10])
    return ImageHeader("GIF", width, height, 4)


def _bmp(data: bytes | memoryview) -> ImageHeader:
    (size,) = struct.unpack("<I", data[14:18])
    if size == 12:  # OS/2 core header
        width, height = struct.unpack("<HH", data[18:22])
    else:
        width, height = struct.unpack("<ii", data[18:26])
    return ImageHeader("BMP", width, abs(height), 4)  # a negative height means rows top-down


def _tiff(data: bytes | memoryview) -> ImageHeader | None:
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", data[4:8])
    (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
    tags: dict[int, int] = {}
    for index in range(count):
        entry = data[ifd + 2 + 12 * index : ifd + 14 + 12 * index]
        tag, kind, values = struct.unpack(order + "HHI", entry[:8])
        if kind == 3:  # SHORT: inline when two fit, else at an offset (the first is all we need)
            at = ifd + 10 + 12 * index if values <= 2 else struct.unpack(order + "I", entry[8:12])[0]
            (tags[tag],) = struct.unpack(order + "H", data[at : at + 2])
        elif kind == 4 and values == 1:  # LONG
            (tags[tag],) = struct.unpack(order + "I", entry[8:12])
    if 256 not in tags or 257 not in tags:
        return None
    sample_bytes = min(max(-(-tags.get(258, 8) // 8), 1), 8)
    return ImageHeader("TIFF", tags[256], tags[257], max(tags.get(277, 1), 3) * sample_bytes)


def _isobmff(data: bytes | memoryview) -> ImageHeader | None:
    # Every image item carries an 'ispe' property box in the 'meta' box; a grid's is the whole picture.
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"meta":
            meta = bytes(data[at : at + size] if size else data[at:])
            sizes = [struct.unpack(">II", meta[m.start() + 8 : m.start() + 16]) for m in re.finditer(b"ispe", meta)]
            if not sizes:
                return None
            width, height = max(sizes, key=lambda pair: pair[0] * pair[1])
            return ImageHeader("AVIF/HEIF", width, height, 8)  # 10- and 12-bit pictures decode to 16 bits
        if size == 1:
            (size,) = struct.unpack(">Q", data[at + 8 : at + 16])
        if size < 8:
            return None
        at += size
    return None


def _exr(data: bytes | memoryview) -> ImageHeader | None:
    data = bytes(data[: 1 << 20])
    at = 8
    while at < min(len(data), 1 << 20) and data[at] != 0:
        name_end = data.index(b"\0", at)
        kind_end = data.index(b"\0", name_end + 1)
        (size,) = struct.unpack("<i", data[kind_end + 1 : kind_end + 5])
        if data[at:name_end] == b"dataWindow":
            x0, y0, x1, y1 = struct.unpack("<iiii", data[kind_end + 5 : kind_end + 21])
            return ImageHeader("OpenEXR", x1 - x0 + 1, y1 - y0 + 1, 16)  # up to 4 float channels
        at = kind_end + 5 + size
    return None


def _radiance(data: bytes | memoryview) -> ImageHeader | None:
    # Header lines, a blank line, then the resolution: "-Y 480 +X 640" (axes may swap or flip).
    head = bytes(data[: 1 << 16]).split(b"\n\n", 1)
    if len(head) != 2:
        return None
    found = re.match(rb"([-+])([XY]) (\d+) ([-+])([XY]) (\d+)", head[1])
    if not found:
        return None
    first, second = int(found.group(3)), int(found.group(6))
    width, height = (second, first) if found.group(2) == b"Y" else (first, second)
    return ImageHeader("Radiance HDR", width, height, 12)


def _pnm(data: bytes | memoryview) -> ImageHeader | None:
    kind = bytes(data[1:2])
    text = re.sub(rb"#[^\n]*", b" ", bytes(data[: 1 << 12]))
    if kind == b"7":  # PAM: "WIDTH 640" / "HEIGHT 480" lines
        width = re.search(rb"\bWIDTH\s+(\d+)", text)
        height = re.search(rb"\bHEIGHT\s+(\d+)", text)
        if not (width and height):
            return None
        return ImageHeader("PAM", int(width.group(1)), int(height.group(1)), 8)
    fields = text[2:].split()
    width, height = int(fields[0]), int(fields[1])
    if kind in (b"F", b"f"):
        return ImageHeader("PFM", width, height, 12)
    return ImageHeader("PNM", width, height, 6)  # up to 16-bit RGB


_HEIF_BRANDS = (b"avif", b"avis", b"heic", b"heix", b"hevc", b"mif1", b"msf1")
_READERS = (
    (lambda d: d[:8] == b"\x89PNG\r\n\x1a\n", _png),
    (lambda d: d[:2] == b"\xff\xd8", _jpeg),
    (lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP", _webp),
    (lambda d: d[:6] in (b"GIF87a", b"GIF89a"), _gif),
    (lambda d: d[:2] == b"BM", _bmp),
    (lambda d: d[:4] in (b"II*\0", b"MM\0*"), _tiff),
    (lambda d: d[4:8] == b"ftyp" and d[8:12] in _HEIF_BRANDS, _isobmff),
    (lambda d: d[:4] == b"v/1\x01", _exr),
    (lambda d: d[:10] == b"#?RADIANCE" or d[:6] == b"#?RGBE", _radiance),
    (lambda d: len(d) > 2 and d[:1] == b"P" and d[1:2] in b"1234567Ff" and d[2:3].isspace(), _pnm),
)
