"""One reason for bytes that are not UTF-8 in JSON, whatever the bytes and wherever they are.

The JSON array reader's parser (ijson's yajl2_c) refuses some invalid UTF-8 itself ("invalid
bytes in UTF8 string"), lets other forms through to Python's decoder (an overlong form such as
`\\xc0\\xaf`, an encoded surrogate `\\xed\\xa0\\x80`: `UnicodeDecodeError`), and calls a bad byte
outside a string an invalid character. The JSONL reader rejects any line that is not UTF-8 as
`invalid_utf8`; these helpers let the JSON array reader give an item the same reason.
"""

from __future__ import annotations

import codecs
from typing import Final

_YAJL_UTF8: Final = "invalid bytes in UTF8"  # yajl's own message for the bytes it refuses


def decoder_message(exc: UnicodeDecodeError) -> str:
    """What Python's decoder refused, said as the JSONL reader says it."""
    return f"a string is not valid UTF-8 ({exc.reason})"


def utf8_problem(data: bytes) -> str | None:
    """Why `data` (an item's bytes, or their first part) is not UTF-8, None if it is: a
    character cut by the end of `data` is not a problem (the rest may follow)."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data)
    except UnicodeDecodeError as exc:
        return f"its bytes are not valid UTF-8: {exc.reason} at byte {exc.start}"
    return None


def parser_reason(message: str, data: bytes | None) -> str:
    """`invalid_utf8` for the parser's refusal of an item (`message`) whose bytes (`data`,
    when known) are not UTF-8, else `parse_error`."""
    if _YAJL_UTF8 in message or (data is not None and utf8_problem(data) is not None):
        return "invalid_utf8"
    return "parse_error"
