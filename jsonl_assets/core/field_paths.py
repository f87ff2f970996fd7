"""Dotted field paths (`data.items.0.text`): one rule for every path a config names (a
source's `id_field`, the `mapping` adapter's paths).

A path is its segments split at `.`; none may be empty (`a..b`, `.a`, `a.` are refused when the
config loads). A segment steps into an object by that key, or into an array by index when it is
an index: ASCII digits only (`0`, `12`, `007`). `str.isdigit` is not the rule: it also takes
`²` or `٣`, which `int()` refuses or reads as another number; such a segment is only an object
key, so on an array it finds nothing. An index of more significant digits than any array's
length can have (a segment of 5,000 digits) is past the end of every array, so it is read as
such without converting its digits (Python's `int()` refuses more than 4,300).
"""

from __future__ import annotations

import sys
from typing import Any, Final

# sys.maxsize: no array is that long, and any index with more digits is past its end too.
_PAST_ANY_ARRAY: Final = sys.maxsize
_MAX_DIGITS: Final = len(str(sys.maxsize))

FieldPath = tuple[tuple[str, int | None], ...]


def list_index(segment: str) -> int | None:
    """The array index a path segment names: ASCII digits only; None for any other segment.
    An index too large for any array is given as `sys.maxsize` (past the end of every one)."""
    if not (segment.isascii() and segment.isdigit()):
        return None
    digits = segment.lstrip("0")
    if len(digits) > _MAX_DIGITS:
        return _PAST_ANY_ARRAY
    return int(digits or "0")


def parse_path(path: str) -> FieldPath:
    """A dotted path's segments, each with its array index (or None).

    Raises ValueError for a path that is not a non-empty string or has an empty segment, so
    that configuration mistakes surface when the config loads.
    """
    if type(path) is not str or not path:
        raise ValueError(f"field path must be a non-empty string, got {path!r}")
    segments = path.split(".")
    if any(not s for s in segments):
        raise ValueError(f"field path {path!r} has an empty segment")
    return tuple((s, list_index(s)) for s in segments)


def lookup_path(value: Any, dotted: str) -> Any:
    """The value at a dotted path through objects and arrays; None if absent. Never raises."""
    for segment in dotted.split("."):
        if isinstance(value, dict):
            value = value.get(segment)
        elif isinstance(value, list) and (index := list_index(segment)) is not None:
            value = value[index] if index < len(value) else None
        else:
            return None
    return value
