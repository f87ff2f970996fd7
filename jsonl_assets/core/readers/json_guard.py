"""What the JSON array reader must never hand to ijson: an integer too long for Python, or
nesting too deep.

ijson's yajl2_c backend converts an integer with `int()`, which refuses more digits than
Python's `int_max_str_digits` (4,300, or as low as 640 by PYTHONINTMAXSTRDIGITS: the guard
stops at 640 digits whatever the setting, so what is read never depends on it), and yajl2_c
does not check the failure: the process dies (SIGSEGV). And it builds a prefix string as long
as the depth for every event, so an item nested tens of thousands of levels deep takes memory
that grows with the square of its depth (a 200 KB item: tens of GB). So the bytes are looked
at before ijson reads them:

* `StreamGuard` follows the stream chunk by chunk (one C-level pass per chunk for strings,
  brackets and digit runs; a bracket-by-bracket count only for a chunk whose openers could
  reach the limit) and says when a chunk may hold such a value: a run of more than 640
  digits outside strings (an integer, or the digits of a decimal, which ijson reads safely:
  the reader then decides item by item) or nesting deeper than `MAX_DEPTH` levels below the
  array. The chunk is not given to ijson.
* `hostile_item` judges one item's bytes exactly: the item is quarantined on its own, with
  its bytes (`unsupported_value` for the integer, `parse_error` for the nesting, as the JSONL
  reader), and the items after it are read.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

from jsonl_assets.core.picklable_errors import Picklable
from jsonl_assets.core.readers.exact_numbers import number_problem
from jsonl_assets.core.readers.json_scan import first_number_problem

# The JSONL reader's limit (orjson reads at most 1,024 levels of arrays/objects).
MAX_DEPTH: Final = 1024
# The lowest `int_max_str_digits` a process may have (640: PYTHONINTMAXSTRDIGITS can lower the
# default 4,300 that far): ijson is safe, and reads the same, under any setting.
INT_DIGITS: Final = sys.int_info.str_digits_check_threshold

DEEP_DETAIL: Final = (
    f"JSON nested deeper than orjson's limit of {MAX_DEPTH} levels of arrays/objects"
)

_STRINGS: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_LONG_RUN: Final = b"0" * (INT_DIGITS + 1)
_LONG_INT: Final = re.compile(rb"(?<![0-9.eE+-])-?[0-9]{%d,}(?![0-9.eE])" % (INT_DIGITS + 1))
_ZEROED: Final = bytes.maketrans(b"123456789", b"000000000")  # digit runs become zeros
_DIGITS: Final = b"0123456789"
_NOT_BRACKET: Final = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKETS: Final = bytes.maketrans(b"{}", b"[]")
_ROUNDS: Final = 16
_STEP: Final = {0x5B: 1, 0x7B: 1, 0x5D: -1, 0x7D: -1}


class Hostile(Picklable):
    """Raised into ijson by a read whose bytes it must not parse (see the module doc)."""

    def __init__(self, deep: bool) -> None:
        super().__init__(DEEP_DETAIL if deep else f"a number of more than {INT_DIGITS} digits")
        self.deep = deep


@dataclass(slots=True)
class StreamGuard:
    """The state of the stream between chunks: inside a string (after a backslash), the
    nesting depth outside strings, the digits that ended the last chunk."""

    base: int  # the levels around the items (1: the top-level array)
    depth: int = 0
    in_string: bool = False
    escaped: bool = False
    digits: int = 0

    def check(self, chunk: bytes) -> None:
        """Raises Hostile if `chunk`, following the chunks checked before, may hold a value
        ijson must not read."""
        outside, started_outside = self._outside(chunk)
        if not outside:
            if not started_outside:
                self.digits = 0
            return
        lead = len(outside) - len(outside.lstrip(_DIGITS)) if started_outside else 0
        carried = self.digits if started_outside else 0
        if carried + lead > INT_DIGITS or _LONG_RUN in outside.translate(_ZEROED):
            raise Hostile(deep=False)
        trail = len(outside) - len(outside.rstrip(_DIGITS))
        whole = trail == len(outside) and started_outside
        self.digits = 0 if self.in_string else (carried + trail if whole else trail)
        self.depth = _deeper(outside, self.depth, self.base + MAX_DEPTH)

    def _outside(self, chunk: bytes) -> tuple[bytes, bool]:
        """The bytes of `chunk` outside strings, and whether it starts outside one; the
        string state is carried on. Escaped backslashes and quotes are blanked first
        (pairing a run of backslashes from its start, as a string is read), so the quotes
        left alternate: a string's opening one, its closing one."""
        started_outside = not self.in_string
        if self.escaped:  # the chunk before ended with the backslash of an escape
            chunk, self.escaped = chunk[1:], False
        if b"\\" in chunk:
            chunk = chunk.replace(b"\\\\", b"..").replace(b'\\"', b"..")
            self.escaped = self.in_string_at_end(chunk) and chunk.endswith(b"\\")
        pieces = chunk.split(b'"')
        outside = b"".join(pieces[1::2] if self.in_string else pieces[0::2])
        self.in_string ^= len(pieces) % 2 == 0
        return outside, started_outside

    def in_string_at_end(self, chunk: bytes) -> bool:
        """Whether `chunk` (its escapes blanked) ends inside a string."""
        return self.in_string ^ (chunk.count(b'"') % 2 == 1)


def _deeper(outside: bytes, depth: int, limit: int) -> int:
    """The depth after the brackets of `outside`; raises Hostile if it passes `limit`."""
    opens = outside.count(b"[") + outside.count(b"{")
    closes = outside.count(b"]") + outside.count(b"}")
    if depth + opens <= limit:
        return max(depth + opens - closes, 0)
    # Many openers: drop innermost pairs a few times; what is left, `]]..[[`, bounds the
    # depth (each round removed pairs at most one level high).
    brackets = outside.translate(_BRACKETS, _NOT_BRACKET)
    for rounds in range(_ROUNDS):
        if b"[]" not in brackets:
            if depth + brackets.count(b"[") + rounds <= limit:
                return max(depth + opens - closes, 0)
            break
        brackets = brackets.replace(b"[]", b"")
    level = depth
    for level in accumulate(
        map(_STEP.__getitem__, outside.translate(None, _NOT_BRACKET)), initial=depth
    ):
        if level > limit:
            raise Hostile(deep=True)
    return max(level, 0)  # below 0: an array's end, or damage (the parser's business)


def hostile_item(data: bytes) -> tuple[str, str] | None:
    """`(reason, detail)` for one item's bytes that ijson must not read, else None: an
    integer of more than `INT_DIGITS` digits is `unsupported_value`, nesting deeper than
    `MAX_DEPTH` is `parse_error`."""
    guard = StreamGuard(base=0)
    try:
        guard.check(data)
        return None
    except Hostile as exc:
        if exc.deep:
            return "parse_error", DEEP_DETAIL
    outside = _STRINGS.sub(b"", data)
    long_int = _LONG_INT.search(outside)
    if long_int is None:
        return None  # the digits of a decimal: ijson reads it as a Decimal
    # Named by its path, as the item's first inexact number is when ijson reads the item.
    why = first_number_problem(data, number_problem) or number_problem(
        long_int.group().decode("ascii")
    )
    return "unsupported_value", f"{why}; the record is not written rather than altered"
