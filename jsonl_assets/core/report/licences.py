"""The licences the published records carry (`metadata.license`, as written: the record's own,
or its source's configured one where it had none), counted per source.

Bounded and exact whoever counts what (bounded_counts.BoundedCounts, as the grading types):
per source, the `MAX_VALUES` smallest distinct licence strings are kept with their counts,
the records with any other string are counted together as `other`; a string longer than
`MAX_CHARS` is counted under its first `MAX_CHARS` characters followed by `…` and the start of
its sha256 (`bounded_key`: two licences that differ only past `MAX_CHARS` stay two).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from jsonl_assets.core.report.bounded_counts import (
    MAX_CHARS,
    MAX_VALUES,
    OTHER_NOTE,
    BoundedCounts,
    bounded_key,
)
from jsonl_assets.core.report.markdown_text import EMPTY_VALUE

__all__ = ["MAX_CHARS", "MAX_VALUES", "LicenceCounts", "licence_key", "licences_by_source"]
NONE: Final = -1  # the record has no `metadata.license`
NOT_TEXT: Final = -2  # its `metadata.license` is not a string
EMPTY: Final = EMPTY_VALUE  # how `describe` writes the licence "": `""`, fenced by nothing


def licence_key(metadata: Any) -> str | int:
    """What a record's `metadata` says about its licence: the string (`bounded_key`: shortened
    past `MAX_CHARS`, with its digest), or `NONE` / `NOT_TEXT`."""
    if not isinstance(metadata, dict) or "license" not in metadata:
        return NONE
    value = metadata["license"]
    if not isinstance(value, str):
        return NOT_TEXT
    return bounded_key(value)


@dataclass(slots=True)
class LicenceCounts(BoundedCounts):
    """One source's records by licence (`values` and `other`: BoundedCounts)."""

    none: int = 0
    not_text: int = 0

    def add(self, key: str | int, n: int = 1) -> None:  # type: ignore[override]
        if key == NONE:
            self.none += n
        elif key == NOT_TEXT:
            self.not_text += n
        else:
            BoundedCounts.add(self, str(key), n)

    def merge(self, other: BoundedCounts) -> None:
        BoundedCounts.merge(self, other)
        if isinstance(other, LicenceCounts):
            self.none += other.none
            self.not_text += other.not_text

    @property
    def records(self) -> int:
        return sum(self.values.values()) + self.other + self.none + self.not_text

    def other_than(self, configured: str) -> LicenceCounts:
        """The records that carry a licence other than `configured` (those counted under
        `other` too: whether some of them hold `configured` is `other_may_hold`)."""
        key = licence_key({"license": configured})
        values = Counter({v: n for v, n in self.values.items() if v != key})
        return LicenceCounts(values, self.other, 0, self.not_text)

    def other_may_hold(self, licence: str) -> bool:
        """Whether records counted under `other` may carry `licence`. `other` holds only
        strings that sort after every kept one (the `MAX_VALUES` smallest are kept, whoever
        counted: BoundedCounts), so a licence that is kept, or sorts before the largest kept
        one, is not among them: the figures of `other_than` are then exact."""
        if not self.other:
            return False
        key = licence_key({"license": licence})
        return key not in self.values and (not self.values or key > max(self.values))

    def to_json(self) -> dict[str, Any]:
        return {
            "values": self.sorted_values(),
            "other": self.other,
            "none": self.none,
            "not_text": self.not_text,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> LicenceCounts:
        return cls(Counter(doc["values"]), doc["other"], doc["none"], doc["not_text"])

    def describe(self, show: Callable[[str], str]) -> str:
        """`"MIT" 3, none 2`: the counts, each licence string as `show` writes it (the data
        card: a Markdown code span, markdown_text.md_code; report.html: quoted, its
        markdown_text.unfenced_value), the empty string as `""`."""
        parts = [f"{show(v) if v else EMPTY} {n:,}" for v, n in sorted(self.values.items())]
        if self.other:
            parts.append(f"other licences {self.other:,} ({OTHER_NOTE})")
        if self.not_text:
            parts.append(f"not a string {self.not_text:,}")
        if self.none:
            parts.append(f"none {self.none:,}")
        return ", ".join(parts) or "-"


def licences_by_source(cells: list[dict[str, Any]]) -> dict[str, LicenceCounts]:
    """The licence counts of the report's cells, added per source."""
    out: dict[str, LicenceCounts] = {}
    for cell in cells:
        for source, doc in cell.get("licences", {}).items():
            out.setdefault(source, LicenceCounts()).merge(LicenceCounts.from_json(doc))
    return out
