"""What every reader yields, and how readers are registered.

A reader turns one source file into a stream of items, in file order:

* a good record: the tuple ``(position, value, raw)``, where ``position`` is 1-based in the
  reader's position kind, ``value`` is the parsed JSON object (a dict), and ``raw`` is the
  record as JSON bytes when the reader has them at no extra cost: the exact source bytes for
  JSONL, the orjson form a reader already made (JSON arrays, Parquet: to measure the record
  against `max_record_bytes`), else ``None`` (the extract stage then serialises ``value``).
  In a file with a member that fails its check (`SourceFile.damage()`), whose records are
  all quarantined (readers/__init__.py), the CSV, text and JSON array readers give each
  record's bytes in the file instead (as for their own rejections), for its `corrupt_file`
  entry; `ReaderSpec.raw_mark` then names the codec when those bytes are its text encoded
  again (csv_text.reencodes);
* a bad input: a ``Rejection`` (see ``traces.py``) with a stable reason code.

Readers never hold a whole file in memory and never raise for bad input: damage ends the
file with a ``Rejection`` after every good record before it has been yielded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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
    # Rejection fields marking a good record's raw in a damaged file (resolved options given)
    raw_mark: Callable[[Mapping[str, Any]], dict[str, str]] | None = None


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
