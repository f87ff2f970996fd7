"""Whether a partition's persisted record stages may go on to the package: they are one
chain from its last committed extraction under the CURRENT config (so a later extraction
whose checks failed is never bypassed by the stages of an earlier one, and a config changed
since is built first), and they pass the blocking rate checks under the CURRENT thresholds
(re-evaluated from the persisted stage reports: rate_checks.py). Sources are not stat'ed: a
file touched since the build (same bytes) does not hold the publication back.

The shards step and the publication both ask `record_verdict` (core/build.py), so no path -
the CLI, a Dagster run of `shards` alone or of `manifest`, the publish_manifest job - moves
or publishes the shards of a partition whose latest blocking check failed.

When the parse check stops a pass after extracted, the pass's transformed report (counted,
never committed) is kept in `rate_gate.json`, under the fingerprint of the transformed stage
it belongs to: the parse check needs it (its routing of the records) to be decided again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.rules.rate_checks import RateEvaluation, evaluate_all, failure_text
from jsonl_assets.core.rules.reject_reasons import PARSE_FAILURE_RATE
from jsonl_assets.core.stage_report import StageError, StageReport
from jsonl_assets.core.stages.record_stages import STAGE_MARKERS, recorded_fingerprints
from jsonl_assets.core.store.work_files import PartitionDirs, read_marker, write_marker

GATE_MARKER: Final = "rate_gate.json"  # the pass's transformed report, when the gate stopped it


class ChecksFailed(StageError):
    """A step refused the partition: a blocking rate check of it fails (the parse check that
    stopped the record stages' pass, or, for the shards step, any), or its record stages are
    not those of its current inputs. The message names the partition and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Verdict:
    """A partition's record stages as of now: the stage fingerprints of its current inputs,
    the persisted reports that match them, the rate checks re-evaluated from those reports,
    and the problems that keep its shards out of the package (none: they may go on)."""

    key: str
    fingerprints: dict[str, str]
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    evaluations: dict[str, RateEvaluation] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def checks_failed(self) -> bool:
        """Whether a blocking rate check fails (not merely stages out of date)."""
        return any(not e.passed for e in self.evaluations.values())

    @property
    def quarantined(self) -> int | None:
        """The records its current record stages quarantined (their persisted reports: a pass
        the parse check stopped committed extracted's only); None when none is current."""
        if not self.reports:
            return None
        return sum(int(r.get("quarantine", {}).get("count", 0)) for r in self.reports.values())


def record_verdict(cfg: PipelineConfig, dirs: PartitionDirs) -> Verdict:
    """The verdict on `dirs`' partition (see the module's docstring)."""
    key = dirs.key
    fps = recorded_fingerprints(cfg, dirs)
    if fps is None:
        return Verdict(key, {}, problems=[_stale(key)])
    reports: dict[str, dict[str, Any]] = {}
    for stage, marker in STAGE_MARKERS.items():
        report = read_marker(dirs.file(marker), fps[stage])
        if report is None:
            break
        reports[stage] = report
    if "extracted" not in reports:
        return Verdict(key, fps, reports, problems=[_stale(key)])
    if "validated" not in reports:
        # The parse check alone, on the pass's transformed report (committed, or kept when the
        # check stopped the pass): the other stages did not commit.
        transformed = reports.get("transformed") or read_marker(
            dirs.file(GATE_MARKER), fps["transformed"]
        )
        evaluations: dict[str, RateEvaluation] = {}
        if transformed is not None:
            seen = {"extracted": reports["extracted"], "transformed": transformed}
            evaluations = evaluate_all(cfg, key, seen, [PARSE_FAILURE_RATE])
        problems = _failures(evaluations) or [_stale(key)]
        return Verdict(key, fps, reports, evaluations, problems)
    evaluations = evaluate_all(cfg, key, reports)
    return Verdict(key, fps, reports, evaluations, _failures(evaluations))


def keep_gate_report(cfg: PipelineConfig, dirs: PartitionDirs, transformed: StageReport) -> None:
    """Persist the pass's transformed report when the parse check stopped the pass (so that
    `record_verdict` can decide the check again under the thresholds of its time)."""
    fps = recorded_fingerprints(cfg, dirs)
    if fps is None:
        return  # nothing extracted: the next verdict finds the stages out of date anyway
    write_marker(dirs.file(GATE_MARKER), fps["transformed"], transformed.to_json())


def _failures(evaluations: Mapping[str, RateEvaluation]) -> list[str]:
    return [failure_text(e) for e in evaluations.values() if not e.passed]


def _stale(key: str) -> str:
    return (
        f"{key}: its record stages (extracted, transformed, validated) were not all built "
        "from its last extraction under the current config; build the partition again"
    )
