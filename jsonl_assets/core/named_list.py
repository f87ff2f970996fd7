"""Names listed in prose, bounded: a message, log line, report cell or check description
names at most `NAMED` items, then says how many more there are. A source may match 10^5
files; the full lists stay where they are data (metadata.json, the stages' results, the
quarantine), never in text a person reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

NAMED: Final = 20  # names a message lists at most


def some_names(names: Sequence[str], what: str = "files", most: int = NAMED) -> str:
    """`a, b, c`; past `most` names, the first `most` then `and N more <what>`."""
    shown = ", ".join(names[:most])
    more = len(names) - most
    return f"{shown} and {more:,} more {what}" if more > 0 else shown
