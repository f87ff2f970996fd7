"""Numbers are written with exactly the value they were read with, or refused.

A record is written by orjson, which holds an integer in [-2**63, 2**64 - 1] and a double.
A number outside that (an integer beyond 64 bits, a decimal with more precision than a double,
`1e400`, `1e-400`) would come out as another value, so the readers quarantine its record as
`unsupported_value`, naming the number and its path in the record. A decimal is kept when the
double nearest to it is written back as the same value (`0.1`, `1.5e300`; `1E5` is written
`100000.0`); one whose double's shortest text is another decimal number is refused even when
the double holds it exactly (`9.31322574615478515625E-10`, 2**-30, would be written
`9.313225746154785e-10`).

JSONL pays one C-level pass per block of lines (`suspect_offsets`): only a line holding a
number token of 16 or more characters, or with an exponent and a run of 3 digits, is looked
at closely (`jsonl_problem`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from jsonl_assets.core.picklable_errors import Picklable
from jsonl_assets.core.readers.json_scan import first_number_problem

INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**64 - 1
_INT_DIGITS: Final = len(str(INT_MAX))  # an integer with more digits is out of range
_SHOWN: Final = 60  # characters of a number quoted in a detail

# The pre-filter maps digits to 0, the other characters of a number (`.eE+-`) to 1 and the
# rest to 2 (one C pass over a block of lines), then looks for runs of 3 digits: a number a
# double or a 64-bit integer may not hold has 16+ significant digits (so a run of 8) or an
# exponent of 3+ digits; a mantissa of <= 15 digits with a 2-digit exponent is a normal double.
_TABLE: Final = bytes(0 if c in b"0123456789" else 1 if c in b".eE+-" else 2 for c in range(256))
_DIGITS: Final = b"\0\0\0"
_OTHER: Final = b"\2"
_BEFORE: Final = frozenset(b":,[")
_AFTER: Final = frozenset(b",}]")
_SPACE: Final = frozenset(b" \t\r\n")
# Strings (skipped) or number tokens, in document order, for a line orjson accepted.
_TOKENS: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|-?[0-9][0-9.eE+-]*')


class InexactNumber(Picklable, TypeError):
    """orjson's `default` hook met a number it cannot write with the same value."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def suspect_offsets(data: bytes) -> list[int]:
    """Offsets in `data` (JSON text, one or many lines) of number tokens that may not be held
    exactly; empty for nearly every block. A run of digits inside a string (a year, a hash)
    is dropped unless it looks like such a number between `:`/`,`/`[` and `,`/`}`/`]`."""
    mapped = data.translate(_TABLE)
    at = mapped.find(_DIGITS)
    found = []
    while at >= 0:
        start = mapped.rfind(_OTHER, 0, at) + 1
        end = mapped.find(_OTHER, at)
        if end < 0:
            end = len(data)
        token = data[start:end]
        if (len(token) >= 16 or b"e" in token or b"E" in token) and _stands_as_number(
            data, start, end
        ):
            found.append(start)
        at = mapped.find(_DIGITS, end)
    return found


def suspect_lines(data: bytes) -> set[int]:
    """The 0-based numbers of the lines of `data` holding a `suspect_offsets` number, in one
    pass: each newline counted once, however many suspect numbers a line holds (counting
    from the block's start for each number cost a 3 MB line of doubles 82 s)."""
    lines: set[int] = set()
    line = counted = 0  # `line` newlines in data[:counted]
    line_end = -1  # where the last line found ends (its newline, or the end of `data`)
    for at in suspect_offsets(data):
        if at > line_end:
            line += data.count(b"\n", counted, at)
            counted = at
            line_end = data.find(b"\n", at)
            if line_end < 0:
                line_end = len(data)
            lines.add(line)
    return lines


def _stands_as_number(data: bytes, start: int, end: int) -> bool:
    """Whether data[start:end] stands where a JSON number can: a value after `:`, `,` or `[`."""
    before = start - 1
    while before >= 0 and data[before] in _SPACE:
        before -= 1
    after = end
    while after < len(data) and data[after] in _SPACE:
        after += 1
    if before < 0 or data[before] not in _BEFORE:
        return False
    return after >= len(data) or data[after] in _AFTER


def number_problem(text: str) -> str | None:
    """Why the JSON number `text` cannot be written with its value, or None if it can.

    Any length and exponent: an integer of more digits than `int()` converts (4,300) or an
    exponent beyond what `Decimal` holds (18 digits) is judged without them."""
    if not any(c in text for c in ".eE"):
        if len(text.lstrip("-")) > _INT_DIGITS or not INT_MIN <= int(text) <= INT_MAX:
            return f"the number {_shown(text)} is an integer beyond 64 bits"
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:  # an exponent of 19+ digits
        mantissa, _, exponent = text.lower().partition("e")
        if not Decimal(mantissa):
            return None  # zero, whatever its exponent: written 0.0, the same value
        if exponent.startswith("-"):
            return (
                f"the number {_shown(text)} would be written as 0.0 (the shortest text of the "
                "nearest double), which is another decimal number"
            )
        return f"the number {_shown(text)} is beyond the range of a double"
    return decimal_problem(value, text)


def decimal_problem(value: Decimal, text: str | None = None) -> str | None:
    """Why `value` cannot be written as a double with the same value, or None if it can."""
    shown = _shown(text if text is not None else str(value))
    try:
        double = float(value)
    except (OverflowError, InvalidOperation):  # pragma: no cover - float() saturates instead
        return f"the number {shown} is beyond the range of a double"
    if not math.isfinite(double):
        return f"the number {shown} is beyond the range of a double"
    if Decimal(repr(double)) != value:
        # Even when the double is exactly `value` (2**-30 written out in full), what orjson
        # writes is its shortest text, another decimal number than the one read.
        return (
            f"the number {shown} would be written as {double!r} (the shortest text of the "
            "nearest double), which is another decimal number"
        )
    return None


def json_default(obj: Any) -> float:
    """orjson `default`: an exact Decimal as its float; anything else is refused."""
    if type(obj) is Decimal:
        why = decimal_problem(obj)
        if why is None:
            return float(obj)
        raise InexactNumber(why)
    raise TypeError(f"Type is not JSON serializable: {type(obj).__name__}")


class CountingDefault:
    """`json_default` that counts the Decimals it converted (the value then differs from what
    orjson reads back from the bytes: the caller parses them again)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, obj: Any) -> float:
        value = json_default(obj)
        self.count += 1
        return value


def decimals_as_floats(value: Any) -> Any:
    """`value` with every Decimal replaced by its float (what `json_default` wrote)."""
    t = type(value)
    if t is Decimal:
        return float(value)
    if t is dict:
        return {k: decimals_as_floats(v) for k, v in value.items()}
    if t is list or t is tuple:
        return [decimals_as_floats(v) for v in value]
    return value


def value_problem(value: Any) -> str | None:
    """`<path>: <why>` for the first number in `value` that cannot be written exactly (an int
    beyond 64 bits, an inexact Decimal, a NaN or infinite float), or None."""
    for path, leaf in _leaves(value, ""):
        t = type(leaf)
        if t is _LongInteger:
            return f"{path or '$'}: the number {_shown(leaf)} is an integer beyond 64 bits"
        if t is int:
            if not INT_MIN <= leaf <= INT_MAX:
                return f"{path or '$'}: the number {_shown(str(leaf))} is an integer beyond 64 bits"
        elif t is Decimal:
            why = decimal_problem(leaf)
            if why is not None:
                return f"{path or '$'}: {why}"
        elif t is float and not math.isfinite(leaf):
            return f"{path or '$'}: the number {leaf!r} cannot be written as JSON"
    return None


def jsonl_problem(line: bytes) -> str | None:
    """For a line `suspect` flagged (orjson read it): `<path>: <why>` for its first number that
    orjson did not read with its exact value, or None. Its numbers are judged one by one (a
    regular expression finds them); only a line with a problem is walked token by token
    (`json_scan`: any depth, stopping at that number, whose path alone is built): a line of
    exact doubles, the usual suspect, costs no walk."""
    for match in _TOKENS.finditer(line):
        token = match.group()
        if token[:1] != b'"' and (why := number_problem(token.decode("ascii"))) is not None:
            return first_number_problem(line, number_problem) or f"{why} (at byte {match.start()})"
    return None


def token_problem(line: bytes) -> str | None:
    """`<path>: <why>` for the first number of `line` that cannot be written exactly, for a
    line orjson refused because of it (so there is no orjson value to find the path in)."""
    try:
        value = json.loads(line, parse_float=Decimal, parse_int=_integer)
    except (ValueError, RecursionError, ArithmeticError):  # a huge exponent: InvalidOperation
        value = None
    if value is not None and (why := value_problem(value)) is not None:
        return why
    for match in _TOKENS.finditer(line):
        token = match.group()
        if token[:1] != b'"':
            try:
                why = number_problem(token.decode("ascii"))
            except (ValueError, InvalidOperation):
                continue
            if why is not None:
                return f"{why} (at byte {match.start()})"
    return None


class _LongInteger(str):
    """An integer token of more digits than any 64-bit integer, kept as its text: `int()` of it
    would depend on the process's `int_max_str_digits` (and so would the detail)."""


def _integer(text: str) -> int | _LongInteger:
    return _LongInteger(text) if len(text.lstrip("-")) > _INT_DIGITS else int(text)


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        here, node = stack.pop()
        if isinstance(node, dict):  # a KeysOnce too
            stack.extend(
                (f"{here}.{key}" if here else str(key), child)
                for key, child in reversed(node.items())
            )
        elif type(node) in (list, tuple):
            stack.extend((f"{here}[{i}]", child) for i, child in reversed(list(enumerate(node))))
        else:
            yield here, node


def _shown(text: str) -> str:
    if len(text) <= _SHOWN:
        return text
    return f"{text[:_SHOWN]}... ({len(text)} characters)"
