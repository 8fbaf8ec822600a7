"""Printing text that came from outside (a graph file, a file name) without letting it steer the terminal."""

from __future__ import annotations

import re

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# C0 controls, DEL and C1 controls (ESC and CSI start terminal sequences; newlines forge lines),
# the Unicode line and paragraph separators, bidirectional overrides and isolates (which reorder
# what a line shows), and lone surrogates (undecodable bytes in a file name, unprintable as UTF-8).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def safe(text: str) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\x1b``, ``\\u202e``).

    Ordinary Unicode is kept as is. A byte that a file name could not decode (a surrogate escape)
    is shown as ``\\xNN``, the byte itself.
    """
    return _UNSAFE.sub(_escape, str(text))


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's surrogateescape for the byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"
