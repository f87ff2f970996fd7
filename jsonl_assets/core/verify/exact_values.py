"""JSON text as `verify` reads it: every valid JSON number is accepted, with its exact value.

The spec sets no limit on numbers (D1 "valid JSON", A1 "parses as JSON", G2 "a JSON object"),
so a number a float64/int64 parser cannot hold (an integer beyond 64 bits, more precision than
a double, `1e400`, `1e-400`) is valid. orjson reads such a number as a nearby double or refuses
it as infinite; the build quarantines its record (`unsupported_value`) rather than write an
altered value, and `verify` warns about it (the callers: records, manifest, asset index) and
checks the rest with its exact value: a big integer is an `int` with its value (any length up
to `MAX_INT_DIGITS`, 100,000 digits; a longer one is `NumberTooLong`, an error of its line: a
limit beyond the spec, as Python's own int/text conversion costs time quadratic in the digits),
a long or huge decimal a `float` (`1e400` is `inf`), the nearest double unless that is a whole
number the text is not (then the next double toward it: `27.000000000000000000001` is no count,
`-1e-400` is negative), every other value what orjson gives, so no other rule's result changes.
NaN and Infinity are not JSON: still refused.

The text is walked again without recursion (`readers.json_scan`), so any depth orjson reads is
judged, and in memory bounded by the line: the first inexact number is found and its path
built alone. Text orjson refuses for an infinite number is accepted only if it is valid JSON
once every such number is written `null` (orjson, strict, checks the rest: a lone surrogate
escape, say).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import orjson

from jsonl_assets.core.picklable_errors import Picklable
from jsonl_assets.core.readers.exact_numbers import jsonl_problem, suspect_offsets
from jsonl_assets.core.readers.json_scan import build_value

# A string (skipped) or a JSON number, in document order.
# A string's closing quote is optional: an unclosed one is one token to the end of the text
# (the text is then no JSON either way). Required, every `"` of a run such as `\"\"\"...`
# began a scan to the end: time quadratic in the line.
_TOKENS: Final = re.compile(
    rb'"[^"\\]*(?:\\.[^"\\]*)*"?|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?'
)
_INT_TEXT: Final = 3000  # digits `int()` converts whatever `sys.get_int_max_str_digits()`
MAX_INT_DIGITS: Final = 100_000
INEXACT_NOTE: Final = (
    "a float64/int64 JSON parser (orjson, say) cannot read this number exactly (valid JSON: "
    "the build quarantines such a record as unsupported_value rather than alter it)"
)


class NumberTooLong(Picklable, ValueError):
    """An integer of more than `MAX_INT_DIGITS` digits: valid JSON that verify does not judge
    (its callers make it an error of the line, D1/A1/G2)."""

    def __init__(self, digits: int) -> None:
        super().__init__(
            f"a number is an integer of {digits} digits, more than verify reads "
            f"({MAX_INT_DIGITS}: a limit beyond the spec), so the line was not checked"
        )
        self.digits = digits


@dataclass(frozen=True, slots=True)
class ExactJson:
    """`value`: the text's value, numbers exact; `inexact`: `<path>: <why>` for the first
    number a float64/int64 parser would change, or None."""

    value: Any
    inexact: str | None


def read_exact(data: bytes, suspect: bool | None = None) -> ExactJson:
    """`data` parsed; raise `orjson.JSONDecodeError` if it is not JSON, `NumberTooLong` for an
    integer verify does not judge. `suspect`: whether `exact_numbers.suspect_offsets` flags
    the text (None: look)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if not str(exc).startswith("number is infinity"):
            raise
        orjson.loads(_infinite_as_null(data))  # the rest must be JSON: raises if not
        why = jsonl_problem(data) or f"a number is beyond the range of a double ({exc})"
        return ExactJson(build_value(data, _int, _float), why)
    kind = type(value)
    if kind is not dict and kind is not list:
        return ExactJson(value, None)
    if suspect is None:
        suspect = bool(suspect_offsets(data))
    if suspect and (why := jsonl_problem(data)) is not None:
        del value
        return ExactJson(build_value(data, _int, _float), why)
    return ExactJson(value, None)


def _infinite_as_null(data: bytes) -> bytearray:
    """`data` with every number token that a double cannot hold (it overflows) as `null` and
    spaces (the same length: a copy of `data`, nothing per number kept)."""
    out = bytearray(data)
    for match in _TOKENS.finditer(data):
        token = match.group()
        if token[:1] != b'"' and not math.isfinite(float(token)):
            start, end = match.span()
            out[start:end] = b"null" + b" " * (end - start - 4)  # 5+ characters: 1e309
    return out


def _int(text: str) -> int:
    """The integer `text`, exactly; past Python's 4,300-digit text limit it is put together
    from parts `int()` converts (no global setting), up to `MAX_INT_DIGITS`."""
    digits = len(text) - (text[:1] == "-")
    if digits <= _INT_TEXT:
        return int(text)
    if digits > MAX_INT_DIGITS:
        raise NumberTooLong(digits)
    value = _digits_value(text.lstrip("-"))
    return -value if text[:1] == "-" else value


def _digits_value(digits: str) -> int:
    """The value of a string of decimal digits, by halves (Karatsuba products, not `int()`'s
    quadratic conversion)."""
    if len(digits) <= _INT_TEXT:
        return int(digits)
    low = len(digits) // 2
    return _digits_value(digits[:-low]) * 10**low + _digits_value(digits[-low:])


def _float(text: str) -> float:
    """The nearest double, unless rounding makes it a whole number the text is not
    (`27.000000000000000000001` -> 27.0, `-1e-400` -> -0.0): then the next double toward the
    text's value, so a rule asking for a (non-negative) integer judges what the text says."""
    value = float(text)
    if not math.isfinite(value):  # one object for them all: a line of 1e400 costs no more
        return math.inf if value > 0 else -math.inf
    if not value.is_integer():
        return value
    try:
        exact = Decimal(text)
    except InvalidOperation:  # an exponent past Decimal's: a zero only by underflow
        mantissa = text.lower().partition("e")[0]
        if value == 0 and mantissa.strip("-+0.") != "":
            return math.nextafter(value, math.copysign(math.inf, value))
        return value
    if exact == exact.to_integral_value():
        return value
    return math.nextafter(value, math.inf if exact > Decimal(value) else -math.inf)
