"""What a stage run tells its caller (and, through the Dagster layer, the UI)."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any


class StageError(Exception):
    """A stage cannot produce a trustworthy output for its partition (e.g. a source changed
    while it was read). The partition fails with this message; nothing is committed."""


@dataclass
class StageReport:
    stage: str
    partition: str
    records_in: int = 0
    records_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    reused: bool = False
    quarantine: dict[str, Any] = field(default_factory=dict)
    per_source: dict[str, dict[str, int]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def quarantined(self) -> int:
        return int(self.quarantine.get("count", 0))

    @property
    def records_per_second(self) -> float:
        return self.records_in / self.seconds if self.seconds > 0 else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.bytes_in / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StageReport:
        return cls(**data)

    @classmethod
    def reused_from(cls, data: dict[str, Any], started: float) -> StageReport:
        """The report of a finished stage being reused; `seconds` is the time the reuse took."""
        report = cls.from_json(data)
        report.reused = True
        report.seconds = time.perf_counter() - started
        return report


class SourceCounters:
    """Per-source counters, e.g. counters["gsm8k"]["quarantined"] += 1."""

    def __init__(self) -> None:
        self._data: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def __getitem__(self, source: str) -> Counter[str]:
        return self._data[source]

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {name: dict(sorted(c.items())) for name, c in sorted(self._data.items())}
