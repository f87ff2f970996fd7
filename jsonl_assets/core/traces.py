"""Where a raw record came from, and how a rejected input is described.

A trace names the source, the file (relative to the config folder, never absolute), the
position inside it (`line` for JSONL/text, `row` for CSV/Parquet, `item` for JSON arrays)
and the sha256 of the file's stored bytes; a file name that is not valid UTF-8 is shown escaped,
with its raw bytes in `file_b64` (see `core/file_names.py`: a name is its bytes on disk, shown
as UTF-8 whatever the locale).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Rejection:
    """An input a reader or stage could not turn into a record.

    `position` is 1-based in the unit of the reader's position kind (0 for whole-file
    problems). `raw` holds the offending bytes (possibly a prefix, see `raw_truncated`).
    `unread_rest`: the reader stopped at this damage, could not read past it, and bytes of
    the file follow it (a file merely cut short at its end has nothing after the cut).
    `raw_reencoded`: the codec `raw` was encoded with again, when its text does not give the
    file's bytes back (csv_text.reencodes); None when `raw` is the input's bytes.
    """

    position: int
    reason: str
    detail: str
    raw: bytes | None = None
    raw_truncated: bool = False
    raw_size: int | None = None
    unread_rest: bool = False
    raw_reencoded: str | None = None

    @property
    def leaves_unread(self) -> bool:
        """Whether bytes of the file were left unread, making it an *unread file*: a whole-file
        rejection (position 0: none of its records were read) or `unread_rest`."""
        return self.position == 0 or self.unread_rest


def trace_dict(
    source: str, file: str, kind: str, position: int, sha256: str, file_b64: str | None = None
) -> dict[str, Any]:
    """The JSON form of a trace, with keys in a fixed order (`file_b64`: see
    `file_names.file_name`)."""
    trace = {"source": source, "file": file, kind: position, "sha256": sha256}
    if file_b64 is not None:
        trace["file_b64"] = file_b64
    return trace


def raw_fields(raw: bytes | None) -> dict[str, str]:
    """Quarantine representation of raw bytes: text when UTF-8, base64 otherwise."""
    if raw is None:
        return {}
    try:
        return {"raw": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"raw_b64": base64.b64encode(raw).decode("ascii")}


def format_trace(trace: Mapping[str, Any]) -> str:
    """`<file> <position>` of a trace, for messages and tables."""
    position = next((f"{k} {trace[k]}" for k in ("line", "row", "item", "chunk") if k in trace), "")
    return f"{trace.get('file', '?')} {position}".strip()
