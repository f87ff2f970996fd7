"""JSON text as `verify` reads it: every valid JSON number is accepted, with its exact value.

The spec sets no limit on numbers (D1 "valid JSON", A1 "parses as JSON", G2 "a JSON object"),
so a number a float64/int64 parser cannot hold (an integer beyond 64 bits, more precision than
a double, `1e400`, `1e-400`) is valid. orjson reads such a number as a nearby double or refuses
it as infinite; the build quarantines its record (`unsupported_value`) rather than write an
altered value, and `verify` warns about it (the callers: records, manifest, asset index) and
checks the rest as the standard library reads the text: a big integer is an `int` (past 4,300
digits, which Python will not turn into text, `inf`), a long or huge decimal a `float` (`1e400`
is `inf`), the nearest double unless that is a whole number the text is not (then the next
double toward it: `27.000000000000000000001` is no count, `-1e-400` is negative), every other
value what orjson gives, so no other rule's result changes. NaN and Infinity are not JSON: still refused.

Text orjson refuses for an infinite number is accepted only if it is valid JSON once every
such number is written `0` (orjson, strict, checks the rest: a lone surrogate escape, say).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import orjson

from jsonl_assets.core.readers.exact_numbers import jsonl_problem, suspect_offsets, token_problem

# A string (skipped) or a JSON number, in document order.
_TOKENS: Final = re.compile(
    rb'"[^"\\]*(?:\\.[^"\\]*)*"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?'
)
_INT_TEXT: Final = 4300
INEXACT_NOTE: Final = (
    "a float64/int64 JSON parser (orjson, say) cannot read this number exactly (valid JSON: "
    "the build quarantines such a record as unsupported_value rather than alter it)"
)


@dataclass(frozen=True, slots=True)
class ExactJson:
    """`value`: the text's value, numbers exact; `inexact`: `<path>: <why>` for the first
    number a float64/int64 parser would change, or None."""

    value: Any
    inexact: str | None


def read_exact(data: bytes, suspect: bool | None = None) -> ExactJson:
    """`data` parsed; raise `orjson.JSONDecodeError` if it is not JSON. `suspect`: whether
    `exact_numbers.suspect_offsets` flags the text (None: look)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if not str(exc).startswith("number is infinity"):
            raise
        orjson.loads(_infinite_as_zero(data))  # the rest must be JSON: raises if not
        exact = _standard(data)
        if exact is None:  # nested past the standard library's recursion limit
            exact = orjson.loads(_infinite_as_zero(data))
        why = (
            jsonl_problem(data, exact)  # names the number as written
            or token_problem(data)
            or f"a number is beyond the range of a double ({exc})"
        )
        return ExactJson(exact, why)
    kind = type(value)
    if kind is not dict and kind is not list:
        return ExactJson(value, None)
    if suspect is None:
        suspect = bool(suspect_offsets(data))
    if suspect and (why := jsonl_problem(data, value)) is not None:
        exact = _standard(data)
        return ExactJson(value if exact is None else exact, why)
    return ExactJson(value, None)


def _infinite_as_zero(data: bytes) -> bytes:
    """`data` with every number token that a double cannot hold (it overflows) as `0`."""

    def swap(match: re.Match[bytes]) -> bytes:
        token = match.group()
        if token[:1] == b'"' or math.isfinite(float(token)):
            return token
        return b"0"

    return _TOKENS.sub(swap, data)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _int(text: str) -> int | float:
    """An integer; past the 4,300 digits Python converts between int and text (so no rule
    could show it in a message), the infinity of its sign: a number beyond any reader."""
    if len(text.lstrip("-")) <= _INT_TEXT:
        return int(text)
    return -math.inf if text.startswith("-") else math.inf


def _float(text: str) -> float:
    """The nearest double, unless rounding makes it a whole number the text is not
    (`27.000000000000000000001` -> 27.0, `-1e-400` -> -0.0): then the next double toward the
    text's value, so a rule asking for a (non-negative) integer judges what the text says."""
    value = float(text)
    if not value.is_integer():
        return value  # also inf: 1e400 is no integer either way
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


def _standard(data: bytes) -> Any:
    """`data` as the standard library reads it (UTF-8 only), or None if it cannot."""
    try:
        return json.loads(
            data.decode("utf-8"),
            parse_int=_int,
            parse_float=_float,
            parse_constant=_refuse_constant,
        )
    except (ValueError, RecursionError):
        return None
