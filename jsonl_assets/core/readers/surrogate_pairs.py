"""Surrogate pairs a codec decoded as two code points, joined where the text is decoded.

A codec such as `unicode_escape` decodes each `\\uXXXX` escape on its own, so the pair
`\\ud83d\\ude00` reads as two surrogates (U+D83D U+DE00) instead of U+1F600, as a JSON decoder
reads it. The CSV and text readers join each high + low pair into its character as they
decode, before any comparison sees the text (a CSV header's duplicate column names, keys,
ids, dedup) and before a text chunk is cut: two column names that differ only in how a
character was escaped (`a\\U0001f600`, `a\\ud83d\\ude00`) are one name, a duplicate, and a
chunk never holds half a pair. A surrogate no pair holds stays lone (the extract stage
rejects its record, `unwritable_values.py`).

A low half in U+DC00-U+DCFF is also how an undecodable byte is escaped (`csv_text.py`), so
once an undecodable byte has been escaped in the file (`escapes=True`), a pair with that low
half is not joined: the two cannot be told apart, and the byte is told as undecodable
(`invalid_encoding`). Before that, every such surrogate is the codec's, and pairs are joined.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Final

_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_PAIR: Final = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_PAIR_NO_ESCAPE: Final = re.compile("[\ud800-\udbff][\udd00-\udfff]")


def _joined(match: re.Match[str]) -> str:
    return match.group().encode("utf-16-le", "surrogatepass").decode("utf-16-le")


def join_pairs(text: str, *, escapes: bool = False) -> str:
    """`text` with every high + low surrogate pair joined into its character; lone surrogates
    kept. `escapes`: a low half in U+DC00-U+DCFF may be an escaped byte, and is not joined."""
    if _SURROGATE.search(text) is None:
        return text
    return (_PAIR_NO_ESCAPE if escapes else _PAIR).sub(_joined, text)


def join_cells(cells: list[str]) -> list[str]:
    """A CSV row's cells with their pairs joined (the same list when none holds a surrogate)."""
    if not any(map(_SURROGATE.search, cells)):
        return cells
    return [join_pairs(cell) for cell in cells]


def join_pieces(pieces: Iterable[tuple[str, bool]]) -> Iterator[str]:
    """Incrementally decoded text, `(piece, escapes)`: `escapes` when an undecodable byte was
    escaped in the file up to the piece's end, with its pairs joined, a pair split between two
    pieces included."""
    held = ""  # a high surrogate ending the previous piece: the next may hold its low half
    for piece, escapes in pieces:
        text = join_pairs(held + piece, escapes=escapes)
        held = ""
        if text and "\ud800" <= text[-1] <= "\udbff":
            text, held = text[:-1], text[-1]
        if text:
            yield text
    if held:
        yield held
