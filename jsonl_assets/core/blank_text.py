"""Whitespace and blank text, defined once for every reader, adapter and rule that judges them.

*Whitespace* is Unicode's White_Space property (PropList.txt): U+0009..U+000D, U+0020, U+0085,
U+00A0 (NBSP), U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. It is not
Python's `str.isspace` / `str.strip()` / `str.split()`, which also take U+001C..U+001F: those
are control characters (category Cc, White_Space=No), content like U+0001.

*Blank* text has no visible character: empty, or every character whitespace, a format
character (category Cf: zero-width space and joiners, BOM, bidi marks, soft hyphen) or a
blank-rendering filler (U+034F, U+115F, U+1160, U+180B..U+180D, U+2800, U+3164,
U+FE00..U+FE0F, U+FFA0).
"""

from __future__ import annotations

from typing import Final

WHITESPACE: Final = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)  # fmt: skip

# JSON text's insignificant whitespace (RFC 8259): an embedded JSON string of only these holds
# no value.
JSON_WHITESPACE: Final = " \t\n\r"
JSON_WHITESPACE_BYTES: Final = JSON_WHITESPACE.encode()  # a JSON line of only these is blank

# Whitespace, format characters and fillers as code point ranges (Unicode 14, Python 3.11),
# spelled out: deriving them at import costs 0.2 s. A test derives them again and compares.
_BLANK_RANGES: Final = (
    (0x9, 0xD), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0xAD, 0xAD), (0x34F, 0x34F),
    (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD), (0x70F, 0x70F), (0x890, 0x891),
    (0x8E2, 0x8E2), (0x115F, 0x1160), (0x1680, 0x1680), (0x180B, 0x180E), (0x2000, 0x200F),
    (0x2028, 0x202F), (0x205F, 0x2064), (0x2066, 0x206F), (0x2800, 0x2800), (0x3000, 0x3000),
    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)  # fmt: skip
BLANK_CHARS: Final = "".join(chr(c) for lo, hi in _BLANK_RANGES for c in range(lo, hi + 1))
# Most texts start with a visible character: one set lookup settles them. Only a text that
# starts blank pays for `strip(BLANK_CHARS)`.
BLANK_SET: Final = frozenset(BLANK_CHARS)


def is_whitespace_only(text: str) -> bool:
    """True when `text` is not empty and every character is whitespace (White_Space)."""
    return bool(text) and not text.strip(WHITESPACE)


def strip_whitespace(text: str) -> str:
    """`text` without the whitespace (White_Space) at its ends; other characters kept."""
    return text.strip(WHITESPACE)


def is_blank(text: str) -> bool:
    """True when `text` has no visible character (empty, whitespace or invisible only)."""
    return not text or (text[0] in BLANK_SET and not text.strip(BLANK_CHARS))


# The control characters `str.split()` takes for whitespace and White_Space does not: mapped to
# a visible character before `split()`, whose other separators are exactly WHITESPACE.
_NOT_WHITESPACE: Final = {c: "x" for c in range(0x1C, 0x20)}


def count_words(text: str) -> int:
    """How many runs of non-whitespace (White_Space) characters `text` holds."""
    if "\x1c" in text or "\x1d" in text or "\x1e" in text or "\x1f" in text:
        text = text.translate(_NOT_WHITESPACE)
    return len(text.split())
