"""Where a raw record came from, and how a rejected input is described.

A trace names the source, the file (relative to the config folder, never absolute), the
position inside it (`line` for JSONL/text, `row` for CSV/Parquet, `item` for JSON arrays)
and the sha256 of the file's stored bytes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Final

# Kinds of position a reader reports; each reader uses exactly one.
POSITION_KINDS: Final = ("line", "row", "item", "chunk")


@dataclass(frozen=True, slots=True)
class Rejection:
    """An input a reader or stage could not turn into a record.

    `position` is 1-based in the unit of the reader's position kind (0 for whole-file
    problems). `raw` holds the offending bytes (possibly a prefix, see `raw_truncated`).
    """

    position: int
    reason: str
    detail: str
    raw: bytes | None = None
    raw_truncated: bool = False
    raw_size: int | None = None


def trace_dict(source: str, file: str, kind: str, position: int, sha256: str) -> dict[str, Any]:
    """The JSON form of a trace, with keys in a fixed order."""
    return {"source": source, "file": file, kind: position, "sha256": sha256}


def raw_fields(raw: bytes | None) -> dict[str, str]:
    """Quarantine representation of raw bytes: text when UTF-8, base64 otherwise."""
    if raw is None:
        return {}
    try:
        return {"raw": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"raw_b64": base64.b64encode(raw).decode("ascii")}
