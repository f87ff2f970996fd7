"""A file's text, decoded so that every byte of it can be given back (the CSV reader,
csv_rows.py, and the text reader, text.py).

Bytes the encoding cannot decode are each escaped as one lone surrogate, U+DC00 + the byte:
the `surrogateescape` scheme, extended to bytes below 0x80, which UTF-16 and UTF-32 can leave
undecodable (a lone surrogate code unit, a file cut inside a character). No decoding makes
these characters, so a row holding one is known to hold undecodable bytes, and no byte ends
the file early.

`text_bytes` turns a row's (a chunk's) text back into the file's bytes: each escape into its
byte, the rest encoded with `raw_codec`, the file's codec without a BOM, in the file's byte
order (a UTF-16/32 file's BOM decides it; the BOM is not part of any row). That is the
file's bytes for every codec that writes a text one way only. A codec that can write one text
in several ways, or reads two byte sequences as one text, gives the text's own encoding, which
may differ from the file's bytes: `reencodes(codec)` tells which, computed once per codec (the
escape and stateful codecs by name; any other whose decoding of a byte, or of a byte pair led
by a byte that does not decode alone, is not given back by encoding it: mac_arabic's two
spaces, cp875's six bytes read as U+001A, big5's and cp932's duplicate codes). The readers mark
such a raw (`raw_reencoded`, the codec) in the quarantine entry; README lists the codecs.
"""

from __future__ import annotations

import codecs
import re
import sys
from functools import cache
from typing import Final

ESCAPES: Final = "jsonl_assets.core.readers.csv_text.escape"
ESCAPED: Final = re.compile("[\udc00-\udcff]")
_RUNS: Final = re.compile("([\udc00-\udcff]+)")
_BOMS: Final = {
    "utf-16": ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")),
    "utf-32": ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be")),
}


class EscapeCounter:
    """Counts the undecodable byte runs escaped so far (process-wide, monotonic)."""

    count = 0


def _escape(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    EscapeCounter.count += 1
    bad = bytes(exc.object[exc.start : exc.end])
    return "".join(chr(0xDC00 + b) for b in bad), exc.end


codecs.register_error(ESCAPES, _escape)


def codec_name(encoding: str, owner: str) -> str:
    """The codec's canonical name (`UTF_8_SIG` -> `utf-8-sig`): options hold it so, and the
    readers compare names. ValueError naming `owner` for an unknown codec, or one that is
    not a text encoding (bytes to text): `base64`, `zlib`, `hex` (bytes to bytes), `rot13`
    (text to text), `undefined` (refuses everything) cannot decode a file."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"{owner} encoding: unknown codec {encoding!r}") from None
    if not _is_text_codec(info):
        raise ValueError(
            f"{owner} encoding: {encoding!r} is not a text encoding (it does not decode bytes "
            "to text); name one such as utf-8, utf-16 or latin-1"
        )
    return info.name


def _is_text_codec(info: codecs.CodecInfo) -> bool:
    """Whether the codec decodes bytes to text: flagged a text encoding by Python (what
    `bytes.decode` checks), and decoding and encoding nothing work (`undefined` fails)."""
    if not getattr(info, "_is_text_encoding", True):
        return False
    try:
        return isinstance(info.decode(b"")[0], str) and isinstance(info.encode("")[0], bytes)
    except (UnicodeError, TypeError, ValueError, LookupError):
        return False


def unknown_byte_order(encoding: str, head: bytes) -> bool:
    """Whether a file decoded with `encoding` (utf-16, utf-32) has no BOM to say its byte
    order. Python's decoder would then pick the machine's, so the same bytes would read as
    other text elsewhere: such a file is refused (`utf-16-le`/`-be` name the order)."""
    name = codecs.lookup(encoding).name
    return name in _BOMS and not any(head.startswith(bom) for bom, _ in _BOMS[name])


def file_codec(encoding: str, head: bytes) -> tuple[int, str]:
    """`(bom, codec)` for a file decoded with `encoding` whose first bytes are `head` (4 or
    more, or the whole file): its first `bom` bytes are a BOM that is not text, and `codec`
    reads the bytes after it and writes their text back as them. UTF-8 without a BOM;
    UTF-16/32 in the byte order of the BOM at the file's start (as Python's decoder reads
    them, dropping the BOM); without one, in the machine's order (as `bytes.decode` does), but
    both readers refuse such a file first (`unknown_byte_order`, the CSV header's decoding)."""
    name = codecs.lookup(encoding).name
    if name == "utf-8-sig":
        return (len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0), "utf-8"
    if name in _BOMS:
        for bom, codec in _BOMS[name]:
            if head.startswith(bom):
                return len(bom), codec
        return 0, f"{name}-{'le' if sys.byteorder == 'little' else 'be'}"
    return 0, name


def raw_codec(encoding: str, head: bytes) -> str:
    """The codec that writes the text of a file decoded with `encoding` back as its bytes
    (`file_codec`)."""
    return file_codec(encoding, head)[1]


def text_bytes(text: str, codec: str) -> bytes:
    """`text`'s bytes in the file: escapes turned back into their bytes, the rest encoded."""
    parts = _RUNS.split(text)
    if len(parts) == 1:
        return text.encode(codec)
    encoder = codecs.getincrementalencoder(codec)()
    out = bytearray()
    for i, part in enumerate(parts):
        out += bytes(ord(c) - 0xDC00 for c in part) if i % 2 else encoder.encode(part)
    out += encoder.encode("", True)
    return bytes(out)


# Codecs that write a text one of several ways, or whose bytes depend on a state or on escapes
# the decoded text does not keep: their re-encoding is never trusted (no scan needed).
_STATEFUL: Final = ("unicode-escape", "raw-unicode-escape", "utf-7", "hz", "idna", "punycode")


@cache
def reencodes(codec: str) -> bool:
    """Whether `text_bytes(text, codec)` may differ from the bytes `codec` decoded to `text`
    (`codec`: a `raw_codec`, BOM-less). True for the escape and stateful codecs; else found by
    decoding every byte and every pair led by a byte that does not decode alone (a multi-byte
    code's lead): one whose text encodes to other bytes (a duplicate code, two bytes read as one
    character) is re-encoding. Single-byte codecs are covered exhaustively, multi-byte ones to
    their 2-byte codes."""
    name = codecs.lookup(codec).name
    if name in _STATEFUL or name.startswith("iso2022"):
        return True
    leads = []
    for b in range(256):
        one = bytes((b,))
        if (exact := _round_trips(one, name)) is None:
            leads.append(one)
        elif not exact:
            return True
    return any(
        _round_trips(lead + bytes((b,)), name) is False for lead in leads for b in range(256)
    )


def _round_trips(data: bytes, codec: str) -> bool | None:
    """Whether `data`'s text encodes back to `data`; None when `data` does not decode."""
    try:
        text = data.decode(codec)
    except UnicodeError:
        return None
    try:
        return text.encode(codec) == data
    except UnicodeError:
        return False


def raw_reencoded(codec: str) -> dict[str, str]:
    """The quarantine entry's mark for a raw made by `text_bytes` with `codec`: `{}` when it is
    the file's bytes, else `{"raw_reencoded": <codec>}` (`reencodes`)."""
    return {"raw_reencoded": codec} if reencodes(codec) else {}
