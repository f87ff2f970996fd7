"""What every reader yields, and how readers are registered.

A reader turns one source file into a stream of items, in file order:

* a good record: the tuple ``(position, value, raw)``, where ``position`` is 1-based in the
  reader's position kind, ``value`` is the parsed JSON object (a dict), and ``raw`` is the
  record as JSON bytes when the reader has them at no extra cost: the exact source bytes for
  JSONL, the orjson form a reader already made (JSON arrays, Parquet: to measure the record
  against `max_record_bytes`), else ``None`` (the extract stage then serialises ``value``);
* a bad input: a ``Rejection`` (see ``traces.py``) with a stable reason code.

Readers never hold a whole file in memory and never raise for bad input: damage ends the
file with a ``Rejection`` after every good record before it has been yielded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from jsonl_assets.core.options import Options
from jsonl_assets.core.traces import Rejection

ReadItem = tuple[int, Any, bytes | None] | Rejection


@dataclass(frozen=True, slots=True)
class ReaderSpec:
    name: str
    extensions: tuple[str, ...]
    position_kind: str
    read: Callable[..., Iterator[ReadItem]]
    options: type[Options] = Options  # the format's options model (`read_options`)
    doc: str = ""


def json_type_of(value: Any) -> str:
    """The JSON type name of a parsed value that is not an object (for `not_an_object`)."""
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"
