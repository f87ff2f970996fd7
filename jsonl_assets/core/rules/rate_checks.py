"""The rate checks of a partition, decided per partition and per source (plain Python).

A rate is the share of the inputs charged to the partition (or to one source in it) that were
quarantined for a reason counting toward that rate (`reject_reasons.py`). "Charged" follows the
README's rule: a record counts in the partition its split puts it in; an input rejected before
it has an id counts in the `train` partition of a `split: auto` source. So the denominator of
every rate is the partition's `read` of the accounting (read = written + quarantined).

A source's `thresholds` override the global and per-objective ones for that source: it is
judged on its own threshold, and the partition's rate counts the other sources only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.rules.reject_reasons import (
    PARSE_FAILURE_RATE,
    RATES,
    STAGE_RATE,
    THRESHOLD_KEYS,
    rate_of,
)
from jsonl_assets.core.stage_report import StageReport

PARTITION_SCOPE = "partition"


@dataclass(frozen=True)
class RateCount:
    """One rate of one scope: the partition, or one source in it."""

    scope: str
    failed: int
    total: int
    threshold: float
    reasons: dict[str, int] = field(default_factory=dict)
    # The first quarantined trace of each reason (sources only).
    examples: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.failed / self.total if self.total else 0.0

    @property
    def passed(self) -> bool:
        return self.rate <= self.threshold


@dataclass(frozen=True)
class RateEvaluation:
    """A rate check of a partition: the partition's count and each source's."""

    check: str
    partition: str
    overall: RateCount
    sources: tuple[RateCount, ...]
    quarantine_files: tuple[str, ...]
    # False when a `split: auto` source's records were not routed yet (the extracted stage
    # materialised on its own): its denominator is then every input the stage read.
    exact: bool = True

    @property
    def passed(self) -> bool:
        return self.overall.passed and all(s.passed for s in self.sources)

    @property
    def failing(self) -> list[RateCount]:
        return [c for c in (self.overall, *self.sources) if not c.passed]

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"passed": self.passed}


def source_reads(
    extract: Mapping[str, Mapping[str, int]], transform: Mapping[str, Mapping[str, int]] | None
) -> dict[str, int]:
    """Per source, the inputs charged to the partition: inputs rejected here before they had
    an id, plus the records adapters made for this partition (one input can make several).
    Without the transformed stage's counters: every input the extracted stage kept."""
    reads: dict[str, int] = {}
    for name in sorted(set(extract) | set(transform or {})):
        e = extract.get(name, {})
        read = e.get("items", 0) - e.get("charged_elsewhere", 0)
        if transform is not None:
            t = transform.get(name, {})
            read += (
                t.get("rejected_inputs", 0)
                + t.get("made", 0)
                - t.get("routed_elsewhere", 0)
                - t.get("in", 0)
            )
        reads[name] = read
    return reads


def evaluate(
    cfg: PipelineConfig,
    partition: str,
    check: str,
    reads: Mapping[str, int],
    quarantines: Iterable[tuple[str, Mapping[str, Any]]],
    exact: bool = True,
) -> RateEvaluation:
    """Check `check` of `partition` ("objective|split"): `reads` per source (source_reads),
    `quarantines` the (stage, quarantine summary) of the stages that ran."""
    objective = partition.split("|", 1)[0]
    key = THRESHOLD_KEYS[check]
    default = float(getattr(cfg.thresholds_for(objective), key))
    reasons: dict[str, dict[str, int]] = {}
    examples: dict[str, dict[str, dict[str, Any]]] = {}
    files: list[str] = []
    for stage, summary in quarantines:
        counted = False
        for name, by_reason in (summary.get("by_source") or {}).items():
            for reason, count in by_reason.items():
                if rate_of(reason, stage) == check:
                    counted = True
                    mine = reasons.setdefault(name, {})
                    mine[reason] = mine.get(reason, 0) + count
                    trace = (summary.get("source_examples") or {}).get(name, {}).get(reason)
                    if trace is not None:
                        examples.setdefault(name, {}).setdefault(reason, trace)
        if counted and summary.get("path"):
            files.append(str(summary["path"]))
    counts: list[RateCount] = []
    overall_failed = overall_total = 0
    overall_reasons: dict[str, int] = {}
    for name in sorted(set(reads) | set(reasons)):
        by_reason = dict(sorted(reasons.get(name, {}).items(), key=lambda kv: (-kv[1], kv[0])))
        failed, total = sum(by_reason.values()), reads.get(name, 0)
        own = _source_threshold(cfg, name, key)
        counts.append(
            RateCount(
                scope=name,
                failed=failed,
                total=max(total, failed),
                threshold=default if own is None else own,
                reasons=by_reason,
                examples=examples.get(name, {}),
            )
        )
        if own is None:  # judged on its own threshold otherwise
            overall_failed += failed
            overall_total += max(total, failed)
            for reason, n in by_reason.items():
                overall_reasons[reason] = overall_reasons.get(reason, 0) + n
    overall = RateCount(
        scope=PARTITION_SCOPE,
        failed=overall_failed,
        total=overall_total,
        threshold=default,
        reasons=dict(sorted(overall_reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    )
    return RateEvaluation(check, partition, overall, tuple(counts), tuple(files), exact)


def evaluate_all(
    cfg: PipelineConfig,
    partition: str,
    reports: Mapping[str, Mapping[str, Any]],
    checks: Iterable[str] = RATES,
) -> dict[str, RateEvaluation]:
    """The rate checks of a partition from its stage reports (`{"extracted": report.to_json(),
    ...}`, as many stages as ran)."""
    extract = reports["extracted"]
    transform = reports.get("transformed")
    reads = source_reads(
        extract["per_source"], transform["per_source"] if transform is not None else None
    )
    exact = transform is not None or not any(
        cfg.source(name).split == "auto" for name in reads if _known(cfg, name)
    )
    quarantines = [(stage, r["quarantine"]) for stage, r in reports.items()]
    return {c: evaluate(cfg, partition, c, reads, quarantines, exact) for c in checks}


def _known(cfg: PipelineConfig, name: str) -> bool:
    return any(s.name == name for s in cfg.sources)


def _source_threshold(cfg: PipelineConfig, name: str, key: str) -> float | None:
    if not _known(cfg, name):
        return None
    return cfg.source(name).thresholds.get(key)


class RateGate:
    """The blocking rate checks as every build applies them (core, CLI, Dagster): the parse
    check decides whether the stages after extracted commit (`records`, a record_stages
    Gate: it needs the pass's routing of the records), and all four whether the shards step
    runs (`evaluate`, then `passed`)."""

    def __init__(self, cfg: PipelineConfig, partition: str) -> None:
        self.cfg = cfg
        self.partition = partition
        self.gated: dict[str, RateEvaluation] = {}  # the parse check as the gate decided it

    def records(self, extract: StageReport, transform: StageReport) -> bool:
        inputs = {"extracted": extract.to_json(), "transformed": transform.to_json()}
        evaluation = evaluate_all(self.cfg, self.partition, inputs, [PARSE_FAILURE_RATE])
        self.gated.update(evaluation)
        return evaluation[PARSE_FAILURE_RATE].passed

    def evaluate(self, reports: Sequence[StageReport]) -> dict[str, RateEvaluation]:
        """The rate checks of the record stages that ran (all four after a full pass; the
        parse check alone when the gate stopped the build after extracted)."""
        evaluations = (
            evaluate_all(self.cfg, self.partition, {r.stage: r.to_json() for r in reports})
            if len(reports) == len(STAGE_RATE)
            else {}
        )
        evaluations.update(self.gated)
        return evaluations

    @staticmethod
    def passed(evaluations: Mapping[str, RateEvaluation]) -> bool:
        """Whether the shards step may run: every blocking rate check passed."""
        return len(evaluations) == len(RATES) and all(e.passed for e in evaluations.values())
