"""A bounded categorical counter: records per distinct string, for strings that come from the
data (a record's licence, an rft grading type), so their number and length are the data's.

Bounded and exact whoever counts what: the `MAX_VALUES` smallest distinct strings (in
code-point order) are kept with their counts, the records with any other string are counted
together as `other`. Adding two such counts and keeping the smallest strings again gives the
counts of all the records together (a string among the smallest of the whole is among the
smallest of every part it occurs in), so the figures do not depend on how the records were
split between chunks, workers or shards. A string longer than `MAX_CHARS` is counted under
its first `MAX_CHARS` characters followed by `… (sha256 <32 hex>)`, the start of the sha256 of
the whole string (UTF-8) (`bounded_key`): two strings that differ only past `MAX_CHARS` are
two values, each shown shortened, and a key is never longer than `KEY_CHARS`, so what is kept
stays bounded. (Before, such strings were counted under their first `MAX_CHARS` characters
and `…` alone, so distinct ones were merged.) The order is code-point order of the keys: that
of the strings themselves, except that strings with the same first `MAX_CHARS` characters
come in the order of their digests.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

MAX_VALUES: Final = 32
MAX_CHARS: Final = 200
DIGEST_CHARS: Final = 32  # hex digits of the sha256 in a long string's key (128 bits)
KEY_CHARS: Final = MAX_CHARS + len("… (sha256 )") + DIGEST_CHARS
OTHER_NOTE: Final = f"more than {MAX_VALUES} distinct"  # beside an `other` count
_LONG_KEY: Final = re.compile(rf"(?s:.){{{MAX_CHARS}}}… \(sha256 [0-9a-f]{{{DIGEST_CHARS}}}\)")


def bounded_key(value: str) -> str:
    """`value` as it is counted: itself up to `MAX_CHARS` characters, else its first
    `MAX_CHARS` followed by `… (sha256 <DIGEST_CHARS hex>)` of the whole (so two strings
    that differ past `MAX_CHARS` are two keys). Not idempotent: only for a value as given."""
    if len(value) <= MAX_CHARS:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{value[:MAX_CHARS]}… (sha256 {digest[:DIGEST_CHARS]})"


def is_key(value: str) -> bool:
    """Whether `value` can be a key of this version (`bounded_key`): counts with another are
    an older version's (a long string shortened to its start and `…`, or kept whole)."""
    return len(value) <= MAX_CHARS or _LONG_KEY.fullmatch(value) is not None


@dataclass(slots=True)
class BoundedCounts:
    """Records per string: the `MAX_VALUES` smallest strings, the rest as `other`."""

    values: Counter[str] = field(default_factory=Counter)
    other: int = 0  # records with a string past the `MAX_VALUES` smallest

    def add(self, key: str, n: int = 1) -> None:
        """Count `n` records of `key` (a `bounded_key` already)."""
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
        """Counts of the strings `values`, each as given (`bounded_key`, then capped)."""
        keys: Counter[str] = Counter()
        for value, n in values.items():
            keys[bounded_key(value)] += n
        return cls.of_keys(keys, other)

    @classmethod
    def of_keys(cls, values: Mapping[str, int], other: int = 0) -> BoundedCounts:
        """Counts of keys counted already (`to_json`'s `values`: capped again, not keyed)."""
        counts = cls(Counter(values), other)
        if len(counts.values) > MAX_VALUES:
            counts._cap()
        return counts
