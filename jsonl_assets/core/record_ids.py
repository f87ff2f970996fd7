"""Deterministic record ids and hash-based split assignment.

* With `id_field`, a record's id is `<source name>:<value>` (+ the adapter's suffix, e.g. `#2`).
  The composition is injective: a source name holds no `:` (config NAME_RE), and in a source
  whose adapter makes suffixes (`alpaca`) every `#` of the value is doubled, so a suffix
  (`#` and digits, after an even run of `#` at most) never reads as part of a value: the
  instance 1 of task `t` is `s:t#1`, a plain record whose own id is `t#1` is `s:t##1`. Ids of
  other sources are the value as given. The integer `1` and the string `"1"` are one id, by
  design (a CSV column and a JSONL number name the same record).
* Otherwise it is the first 32 hex characters (128 bits) of the sha256 of the record body
  serialised with sorted keys: identical content gets the same id wherever it comes from, so
  duplicates across sources are caught too.
* A record of a `split: auto` source goes to a split chosen by the sha256 of its id alone, so
  appending data never moves an existing record to another split.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from jsonl_assets.core.field_paths import lookup_path
from jsonl_assets.core.value_text import value_text

_SORTED = orjson.OPT_SORT_KEYS
_TWO_64 = float(1 << 64)


class MissingIdError(Exception):
    """The configured id field is absent or not a scalar."""


def content_id(body: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=_SORTED)).hexdigest()[:32]


def source_id(
    source_name: str, raw: Any, id_field: str, suffix: str = "", *, suffixed: bool = False
) -> str:
    """`<source_name>:<value>` + `suffix`; `suffixed`: the source's adapter makes suffixes
    (`AdapterSpec.id_suffixes`), so every `#` of the value is doubled (injective ids)."""
    value = (
        raw.get(id_field)
        if "." not in id_field and isinstance(raw, dict)
        else lookup_path(raw, id_field)
    )
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise MissingIdError(
            f"id field {value_text(id_field)} is missing or not a string/integer (got {value_text(value)})"
        )
    if suffixed and type(value) is str and "#" in value:
        value = value.replace("#", "##")
    return f"{source_name}:{value}{suffix}"


def split_for_id(record_id: str, validation_ratio: float, test_ratio: float) -> str:
    """`test` for the lowest `test_ratio` of the hash space, then `validation`, else `train`."""
    digest = hashlib.sha256(record_id.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / _TWO_64
    if u < test_ratio:
        return "test"
    if u < test_ratio + validation_ratio:
        return "validation"
    return "train"
