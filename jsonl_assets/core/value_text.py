"""A value from a record as quarantine details and rule messages show it: compact JSON, cut.

`value_text` is the one way a user-supplied value (an id, a role, a part type, a metadata
value...) is put into a message: JSON (`"a"`, `null`, `true`, `{"k":[1]}`), not Python's
repr, at most `limit` characters (a longer rendering keeps its first `limit - 3` and ends
in `...`). Nesting is followed without recursion and the walk stops once the cut is reached,
so a value nested thousands of levels deep, a megabyte string or an array of a million
items costs a few steps and never raises (repr() raises RecursionError at about 1,000
levels, and renders the whole value before it can be cut).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Final

import orjson

LIMIT: Final = 80  # characters of a value shown in a message


def value_text(value: Any, limit: int = LIMIT) -> str:
    """`value` as compact JSON, at most `limit` characters (cut ones end in `...`)."""
    pieces: list[str] = []
    size = 0
    # open containers: [their members' iterator, is an object, a member was written]
    stack: list[list[Any]] = []
    item: Any = value
    while True:
        if isinstance(item, dict):
            piece = "{"
            stack.append([iter(item.items()), True, False])
        elif isinstance(item, (list, tuple)):
            piece = "["
            stack.append([iter(item), False, False])
        else:
            piece = _leaf(item, limit)
        pieces.append(piece)
        size += len(piece)
        item, closed = _next_member(stack, limit - size)
        pieces.append(closed)
        size += len(closed)
        if item is _DONE or size > limit:
            break
    text = "".join(pieces)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_DONE: Final[Any] = object()


def _next_member(stack: list[list[Any]], room: int) -> tuple[Any, str]:
    """The next value to render (or `_DONE`) and the text before it: closing brackets,
    a comma, an object member's key."""
    text = ""
    while stack:
        members: Iterator[Any]
        members, is_object, started = stack[-1]
        member = next(members, _DONE)
        if member is _DONE:
            text += "}" if is_object else "]"
            stack.pop()
            continue
        stack[-1][2] = True
        text += "," if started else ""
        if not is_object:
            return member, text
        key, member = member
        key = key if isinstance(key, str) else str(key)
        return member, text + _leaf(key, max(room, 0) + 2) + ":"
    return _DONE, text


def _leaf(value: Any, limit: int) -> str:
    """A scalar as JSON; a string longer than `limit` is rendered from its first `limit + 1`
    characters (every character renders as one or more, so the cut text is the same)."""
    if isinstance(value, str):
        value = value[: limit + 1]
    elif isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    elif isinstance(value, Decimal):
        return str(value)
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        pass
    if isinstance(value, int):  # beyond 64 bits: its first digits
        return _int_text(value, limit)
    if isinstance(value, str):
        return json.dumps(value)  # a lone surrogate, escaped
    if isinstance(value, (bytes, bytearray, memoryview)):
        return json.dumps(bytes(value[: limit + 1]).decode("utf-8", "backslashreplace"))
    return json.dumps(str(value)[: limit + 1])


def _int_text(value: int, limit: int) -> str:
    """An integer's digits (beyond str()'s 4,300-digit limit too), its first `limit + 1`."""
    try:
        return str(value)[: limit + 1]
    except ValueError:
        return str(Decimal(value))[: limit + 1]
