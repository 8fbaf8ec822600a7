import os
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from studio.textsafe import safe


def test_terminal_sequences_and_newlines_are_escaped():
    assert safe("sampler\x1b[2J\x1b]0;pwned\x07") == "sampler\\x1b[2J\\x1b]0;pwned\\x07"
    assert safe("a\nerror: forged\r\tb") == "a\\nerror: forged\\r\\tb"
    assert safe("\x00\x7f\x9b31m\x85") == "\\x00\\x7f\\x9b31m\\x85"  # NUL, DEL, the C1 CSI and NEL


def test_separators_and_bidi_overrides_are_escaped():
    assert safe("a\u2028b\u2029c") == "a\\u2028b\\u2029c"
    assert safe("file\u202egpj.exe") == "file\\u202egpj.exe"
    assert safe("\u2066x\u2069") == "\\u2066x\\u2069"


def test_ordinary_unicode_and_backslashes_are_kept():
    text = "Zoë's clip — 東京 🎬 C:\\videos\\a.mp4 ünïcode"
    assert safe(text) == text


def test_undecodable_file_name_bytes_show_as_the_byte():
    name = os.fsdecode(b"clip\xff\x9b.mp4")
    assert safe(name) == "clip\\xff\\x9b.mp4"
    safe(name).encode("utf-8")  # printable on a UTF-8 terminal


@given(st.text())
def test_nothing_unsafe_survives(text):
    out = safe(text)
    out.encode("utf-8")
    for char in out:
        category = unicodedata.category(char)
        assert category not in ("Cc", "Cs", "Zl", "Zp"), repr(char)
        assert not 0x202A <= ord(char) <= 0x202E and not 0x2066 <= ord(char) <= 0x2069


@given(st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"))))
def test_text_without_controls_is_unchanged(text):
    text = "".join(c for c in text if not (0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069))
    assert safe(text) == text
