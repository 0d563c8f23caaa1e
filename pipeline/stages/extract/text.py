"""Text cleaning shared by every extraction step: one normal form for line ends, spaces and
invisible characters, and the word count every length rule is measured in."""

from __future__ import annotations

import re
import unicodedata

_ZERO_WIDTH_AND_BIDI = dict.fromkeys(
    [0x00AD, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF]
    + list(range(0x202A, 0x202F))
    + list(range(0x2066, 0x206A)),
    None,
)
_LIGATURES = {
    "\ufb00": "ff",
    "\ufb01": "fi",
    "\ufb02": "fl",
    "\ufb03": "ffi",
    "\ufb04": "ffl",
    "\ufb05": "st",
    "\ufb06": "st",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t]+")
_MANY_BLANKS = re.compile(r"\n{3,}")


def clean(text: str) -> str:
    """Normalise line ends and spaces; strip NULs, control, zero-width and bidi characters."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = text.replace("\x0c", "\n").replace("\x0b", "\n")
    text = _CONTROL.sub("", text)
    text = text.translate(_ZERO_WIDTH_AND_BIDI)
    for ligature, letters in _LIGATURES.items():
        text = text.replace(ligature, letters)
    text = unicodedata.normalize("NFC", text)
    lines = [_SPACES.sub(" ", line).rstrip() for line in text.split("\n")]
    return _MANY_BLANKS.sub("\n\n", "\n".join(lines)).strip("\n ")


def word_list(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)?", text)
