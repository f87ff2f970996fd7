"""A faithful JSON rendering of a rejected value that has no bytes of its own to quote.

A JSON array item rejected by the streaming parser (ijson gives values, not their bytes) or a
Parquet row is quarantined with this rendering as its `raw`: what orjson refuses to write is
rendered as it was read, not dropped or altered. Every member of an object is kept, a
repeated key included (duplicate_keys.KeysOnce keeps it aside, in its place in the order);
an integer beyond 64 bits is written with all its digits, a decimal with its digits and
exponent as ijson read it (`1E+400`, `0.10`; `1.50E+02`, which Decimal holds as 150, as
`1.50E+2`: a fraction, not an integer), a float that is not finite as `NaN`, `Infinity` or `-Infinity` (as Python's json
writes them; JSON has no such number); bytes as a JSON string of their escaped text. Nesting
is followed without recursion (an item may be nested thousands of levels deep), and the
rendering stops past a cap: a prefix, marked truncated.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any, Final

import orjson

_CAP_PREFIX: Final = 1024  # bytes kept of a rendering over its cap (as RAW_PREFIX)


class _Punct(bytes):
    """Bytes of the rendering itself (brackets, commas, keys), not a value to render."""


_OPEN_OBJECT: Final = _Punct(b"{")
_CLOSE_OBJECT: Final = _Punct(b"}")
_OPEN_ARRAY: Final = _Punct(b"[")
_CLOSE_ARRAY: Final = _Punct(b"]")
_COMMA: Final = _Punct(b",")


def rendered_raw(value: Any, cap: int) -> dict[str, Any]:
    """`Rejection` raw fields for `value`: its whole rendering when at most `cap` bytes, else
    its first 1 KiB marked truncated (the full size is not computed)."""
    out: list[bytes] = []
    size = 0
    todo: list[Any] = [value]
    while todo:
        item = todo.pop()
        if type(item) is _Punct:
            piece: bytes = item
        elif isinstance(item, dict):
            todo.append(_CLOSE_OBJECT)
            members = list(item.items())
            for n, (key, member) in enumerate(reversed(members)):
                todo.append(member)
                todo.append(_Punct(_leaf(_plain_key(key)) + b":"))
                if n < len(members) - 1:
                    todo.append(_COMMA)
            piece = _OPEN_OBJECT
        elif isinstance(item, (list, tuple)):
            todo.append(_CLOSE_ARRAY)
            for n, element in enumerate(reversed(item)):
                todo.append(element)
                if n < len(item) - 1:
                    todo.append(_COMMA)
            piece = _OPEN_ARRAY
        else:
            piece = _leaf(item)
        out.append(piece)
        size += len(piece)
        if size > cap:
            return {"raw": b"".join(out)[:_CAP_PREFIX], "raw_truncated": True}
    return {"raw": b"".join(out)}


def _plain_key(key: Any) -> Any:
    """A key as it was read: KeysOnce keeps a repeat under `(REPEATED, key, n)`."""
    if type(key) is tuple:
        key = key[1]
    return key if isinstance(key, str) else str(key)


def _leaf(value: Any) -> bytes:
    if isinstance(value, float) and not math.isfinite(value):
        return b"NaN" if math.isnan(value) else b"Infinity" if value > 0 else b"-Infinity"
    if isinstance(value, Decimal):
        text = str(value)  # its digits and exponent as read (`1E+400`, `0.10`, `-0.0`)
        if text.lstrip("-").isdigit():  # exponent 0 (`1.50E+02` is 150): keep it a fraction
            text = format(value, "E")  # every digit: `1.50E+2`
        return text.encode()
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        pass
    if isinstance(value, int):
        # beyond 64 bits: every digit (Decimal, as str() refuses more than 4,300 of them)
        return str(Decimal(value)).encode()
    if isinstance(value, str):
        return json.dumps(value).encode()  # a lone surrogate, escaped
    if isinstance(value, (bytes, bytearray, memoryview)):
        return json.dumps(bytes(value).decode("utf-8", "backslashreplace")).encode()
    return json.dumps(str(value)).encode()
