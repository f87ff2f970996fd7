"""A bounded categorical counter: records per distinct string, for strings that come from the
data (a record's licence, an rft grading type), so their number and length are the data's.

Bounded and exact whoever counts what: the `MAX_VALUES` smallest distinct strings (in
code-point order) are kept with their counts, the records with any other string are counted
together as `other`. Adding two such counts and keeping the smallest strings again gives the
counts of all the records together (a string among the smallest of the whole is among the
smallest of every part it occurs in), so the figures do not depend on how the records were
split between chunks, workers or shards. A string longer than `MAX_CHARS` is counted under
its first `MAX_CHARS` characters followed by `…` (`bounded_key`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

MAX_VALUES: Final = 32
MAX_CHARS: Final = 200
OTHER_NOTE: Final = f"more than {MAX_VALUES} distinct"  # beside an `other` count


def bounded_key(value: str) -> str:
    """`value` as it is counted: shortened past `MAX_CHARS`."""
    return value if len(value) <= MAX_CHARS else value[:MAX_CHARS] + "…"


@dataclass(slots=True)
class BoundedCounts:
    """Records per string: the `MAX_VALUES` smallest strings, the rest as `other`."""

    values: Counter[str] = field(default_factory=Counter)
    other: int = 0  # records with a string past the `MAX_VALUES` smallest

    def add(self, key: str, n: int = 1) -> None:
        """Count `n` records of `key` (already `bounded_key`)."""
        self.values[key] += n
        if len(self.values) > MAX_VALUES:
            self._cap()

    def _cap(self) -> None:
        for value in sorted(self.values)[MAX_VALUES:]:
            self.other += self.values.pop(value)

    def merge(self, other: BoundedCounts) -> None:
        self.values.update(other.values)
        self.other += other.other
        if len(self.values) > MAX_VALUES:
            self._cap()

    @property
    def total(self) -> int:
        return sum(self.values.values()) + self.other

    def sorted_values(self) -> dict[str, int]:
        return {v: self.values[v] for v in sorted(self.values)}

    @classmethod
    def of(cls, values: Mapping[str, int], other: int = 0) -> BoundedCounts:
        """Counts of `values` (shortened and capped: an older version's may be neither)."""
        counts = cls(other=other)
        for value, n in values.items():
            counts.values[bounded_key(value)] += n
        if len(counts.values) > MAX_VALUES:
            counts._cap()
        return counts
