"""A record a reader made that cannot be written as JSON, rejected by its position.

A reader's value may hold text no UTF-8 JSON can hold: a lone surrogate (U+D800-U+DFFF),
which a codec such as `unicode_escape` or `raw_unicode_escape` decodes `\\ud800` to (a CSV
or text source's `encoding`). Such a codec decodes a pair's two escapes (`\\ud83d\\ude00`)
to two surrogates: the readers join each pair into its character as they decode
(`surrogate_pairs.py`, as a JSON decoder does), so only a surrogate no pair holds is lone.
orjson refuses to serialise it; the extract stage then rejects that record alone as
`unsupported_value`, naming the position and the field, with a JSON rendering of the value
(the surrogate escaped) as its raw, and goes on with the next one.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from jsonl_assets.core.traces import Rejection

_LONE: Final = re.compile("[\ud800-\udfff]")


def first_lone_surrogate(value: Any, where: str = "") -> tuple[str, str] | None:
    """`(path, surrogate)` of the first string (a key included) holding a lone surrogate."""
    if isinstance(value, str):
        found = _LONE.search(value)
        return (where or "the value", found.group()) if found else None
    if isinstance(value, dict):
        for k, v in value.items():
            inner = f"{where}.{k}" if where else str(k)
            if isinstance(k, str) and (found := _LONE.search(k)):
                return f"the key {inner!a}", found.group()
            if (hit := first_lone_surrogate(v, inner)) is not None:
                return hit
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if (hit := first_lone_surrogate(v, f"{where}[{i}]")) is not None:
                return hit
    return None


def unwritable(position: int, kind: str, value: Any, exc: Exception) -> Rejection:
    """The rejection of the record at `position` (`kind`: row, chunk, ...) whose value
    orjson could not serialise (`exc`)."""
    hit = first_lone_surrogate(value)
    if hit is not None:
        path, char = hit
        field = path if path.startswith("the key") else f"field {path!a}"
        detail = (
            f"{kind} {position}: {field} holds a lone surrogate U+{ord(char):04X} (as the "
            "source's encoding decoded it), which UTF-8 JSON cannot hold; the "
            f"{kind} is rejected"
        )
    else:
        detail = f"{kind} {position} cannot be serialised as JSON: {exc}"
    try:
        raw = json.dumps(value, default=str).encode()  # ASCII: surrogates escaped
    except (TypeError, ValueError, RecursionError):
        raw = None
    return Rejection(position=position, reason="unsupported_value", detail=detail, raw=raw)
