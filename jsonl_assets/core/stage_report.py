"""What a stage run tells its caller: counters common to every stage plus the stage's own typed
details. Persisted once, in the stage's work-dir marker; the manifest and the Dagster metadata
are read from it."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from jsonl_assets.core.picklable_errors import Picklable


class StageError(Picklable):
    """A stage cannot produce a trustworthy output for its partition (e.g. a source changed
    while it was read). The partition fails with this message; nothing is committed."""


@dataclass
class ExtractDetails:
    files: list[dict[str, Any]]  # per source file: source, file, kind, sha256, bytes, ...
    charged_elsewhere: int = 0
    # The unread files charged here (`{"source", "file"}`, in file order): a rejection left
    # bytes of each unread (traces.Rejection.leaves_unread).
    unread_files: list[dict[str, str]] = field(default_factory=list)


@dataclass
class TransformDetails:
    toolsets: list[dict[str, Any]]  # derived by the adapters, sorted by id
    routed_elsewhere: int
    charged_elsewhere: int
    expanded: int
    files: list[dict[str, Any]]


@dataclass
class ValidateDetails:
    invalid: int
    duplicates: int
    invalid_by_rule: dict[str, int]
    quality_quarantined: dict[str, int]
    quality_warned: dict[str, int]
    quality_warned_examples: dict[str, list[dict[str, Any]]]
    spec_warnings: dict[str, int]
    toolsets: list[dict[str, Any]]
    files: list[dict[str, Any]]
    id_set_bytes: int


@dataclass
class ShardsDetails:
    shards: list[dict[str, Any]]  # path, compression, record_count, sha256, bytes
    reused_shards: int
    accounting: dict[str, Any]  # read = written + quarantined, per source too
    content: dict[str, Any]  # per family: length, lines and sha256 of the accepted records
    toolsets: list[dict[str, Any]]
    files: list[dict[str, Any]]
    # The partition's quarantine as published: its folder and files (quarantine_snapshot.py).
    quarantine: dict[str, Any] = field(default_factory=dict)
    # The report's statistics of the partition's records (report/statistics.py CellStats),
    # measured by the chunks as they accepted them; {} when not measured.
    statistics: dict[str, Any] = field(default_factory=dict)


Details = ExtractDetails | TransformDetails | ValidateDetails | ShardsDetails
_DETAILS: dict[str, type[Details]] = {
    "extracted": ExtractDetails,
    "transformed": TransformDetails,
    "validated": ValidateDetails,
    "shards": ShardsDetails,
}


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
    details: Details | None = None

    @property
    def extra(self) -> dict[str, Any]:
        """The details as a plain dict (a view, for JSON metadata: its values are the details'
        own, not copies, since a partition of many files lists them all)."""
        return dict(vars(self.details)) if self.details is not None else {}

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
        """The persisted form (the stage's marker): the details under `extra`."""
        data = dict(vars(self))
        data.pop("details")
        data["extra"] = self.extra
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StageReport:
        fields = dict(data)
        details = fields.pop("extra", None)
        kind = _DETAILS.get(fields["stage"])
        if details and kind:  # a marker of an earlier version may hold a dropped field
            known = {f.name for f in dataclasses.fields(kind)}
            details = {k: v for k, v in details.items() if k in known}
        return cls(**fields, details=kind(**details) if details and kind else None)

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
