"""A JSON object that repeats a key: every parser keeps one of its values (orjson and ijson
the last), so such a record is quarantined as `duplicate_key` instead of written altered.

JSON array items are built by ijson as `KeysOnce` objects, which keep a repeated key aside
under a key orjson cannot write, so writing the item fails and `first_repeated` names it.
For a JSONL line the check costs one `orjson.dumps` and two byte counts. Outside strings a colon
only ends a key, and a colon in a string is written as it is (JSON has no reason to escape
it), so a record's text holds no more colons than its parsed value's compact JSON unless a
key was repeated (the repeated member's colon, and those in its dropped value, are gone).
Only then is the record walked again, key by key (`json_scan.first_repeated_key`, which does
not recurse: any depth orjson reads, 1,024 levels, is checked), to name the key. A line with an
escape in `\\u0030`-`\\u003f` (which could be an escaped colon, written back as `:`) is always
walked again.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from jsonl_assets.core.readers.json_scan import first_repeated_key
from jsonl_assets.core.rules.vocabulary import short


class KeysOnce(dict[Any, Any]):
    """ijson's `map_type`: a key set twice is kept aside under `(REPEATED, key, n)`, not replaced
    (raising would stop ijson's parse); orjson refuses to write such an object."""

    __slots__ = ()

    def __setitem__(self, key: Any, value: Any) -> None:
        if key in self:
            # The size grows with every key set, so it makes each repeat's key unique in
            # O(1): a key nested once per earlier repeat took time cubic in the repeats, and
            # past ~1,000 of them a RecursionError failed the whole partition.
            key = (REPEATED, key, len(self))
        dict.__setitem__(self, key, value)


REPEATED: Final = "repeated key"


def first_repeated(value: Any) -> str | None:
    """The first key a `KeysOnce` object in `value` holds twice, depth first, or None."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            for key in item:
                if type(key) is tuple:
                    return str(key[1])
            todo.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            todo.extend(reversed(item))
    return None


def repeated_key(line: bytes, value: Any) -> str | None:
    """The first key an object in `line` repeats (`value` is `line` parsed), or None."""
    try:
        if b"\\u003" not in line and line.count(b":") <= orjson.dumps(value).count(b":"):
            return None
    except orjson.JSONEncodeError:
        pass  # nested past orjson's 254 levels: rejected later as unserializable
    return first_repeated_key(line)


def repeated_key_detail(key: str) -> str:
    """The key is quoted as rule messages quote names, cut to 80 characters (a key can be
    megabytes long)."""
    return (
        f"an object repeats the key {short(key, 80)}: a parser keeps only one of its values, so the "
        "record is not written rather than altered"
    )
