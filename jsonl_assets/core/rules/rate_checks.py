"""The rate checks of a partition, decided per partition and per source (plain Python).

A rate is the share of the inputs charged to the partition (or to one source in it) that were
quarantined for a reason counting toward that rate (`reject_reasons.py`). "Charged" follows the
README's rule: a record counts in the partition its split puts it in; an input rejected before
it has an id counts in the `train` partition of a `split: auto` source. So the denominator of
every rate is the partition's `read` of the accounting (read = written + quarantined).

The parse-failure rate also counts files: a rejection that leaves bytes of its file unread
(a whole file rejected at once, or the rest of a file after damage the reader cannot read
past: `traces.Rejection.leaves_unread`) makes it an *unread file*, and the rate is the larger
of the record rate and the file rate (unread files / source files charged to the scope), so a
5,000-row file rejected as one input cannot hide behind the other files' records.

A source's `thresholds` override the global and per-objective ones for that source: it is
judged on its own threshold, and the partition's gated rate (`overall`) counts the other
sources only. What is shown as the partition's rate is `all_inputs`: every source's inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.named_list import NAMED
from jsonl_assets.core.rules.reject_reasons import (
    PARSE_FAILURE_RATE,
    RATES,
    STAGE_RATE,
    THRESHOLD_KEYS,
    rate_of,
)
from jsonl_assets.core.stage_report import StageReport
from jsonl_assets.core.stages.extract_stage import charged_here

PARTITION_SCOPE = "partition"
NAMED_FILES = NAMED  # unread files named in a message, at most
# The stage a reason of metadata.json's accounting is taken as quarantined by, when the table
# does not know the reason (the accounting keeps reasons, not stages).
ACCOUNTED_STAGE = "validated"


@dataclass(frozen=True)
class SourceFiles:
    """A source's files charged to a partition, how many of them were left unread, and their
    names when known (metadata.json's accounting has the counts only)."""

    files: int = 0
    unread: int = 0
    names: tuple[str, ...] = ()

    @classmethod
    def of_accounting(cls, sources: Mapping[str, Mapping[str, Any]]) -> dict[str, SourceFiles]:
        """Per source, from a partition's `sources` accounting (its `files`, `unread_files`):
        every source the build counted files of, healthy ones too (they are the file rate's
        denominator)."""
        return {
            name: cls(int(c.get("files", 0)), int(c.get("unread_files", 0)))
            for name, c in sources.items()
            if c.get("files") or c.get("unread_files")
        }


@dataclass(frozen=True)
class RateLimits:
    """The thresholds a partition is judged by: `partition`, its objective's (the global ones
    with the objective's overrides), by threshold key; `sources`, the keys a source sets in its
    own `thresholds` (they replace the partition's for it)."""

    partition: Mapping[str, float]
    sources: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @classmethod
    def of_config(cls, cfg: PipelineConfig, partition: str) -> RateLimits:
        limits = cfg.thresholds_for(partition.split("|", 1)[0])
        return cls(
            {key: float(getattr(limits, key)) for key in THRESHOLD_KEYS.values()},
            {
                s.name: {k: float(v) for k, v in s.thresholds.items()}
                for s in cfg.sources
                if s.thresholds
            },
        )

    @classmethod
    def of_accounting(cls, entry: Mapping[str, Any]) -> RateLimits | None:
        """The thresholds a partition's metadata.json accounting records (`thresholds`, and a
        source's own `thresholds`), or None when it records none (an older build's)."""
        if "thresholds" not in entry:
            return None
        sources = entry.get("sources") or {}
        return cls(
            {k: float(v) for k, v in entry["thresholds"].items()},
            {
                n: {k: float(v) for k, v in (c.get("thresholds") or {}).items()}
                for n, c in sources.items()
            },
        )

    def of_source(self, name: str) -> dict[str, float]:
        """The thresholds `name` sets itself (none: it is judged on the partition's)."""
        return dict(sorted(self.sources.get(name, {}).items()))


@dataclass(frozen=True)
class RateCount:
    """One rate of one scope: the partition, or one source in it. `files` and `unread_files`
    (the parse-failure rate only): the scope's source files and how many were left unread,
    `unread_names` their names when known."""

    scope: str
    failed: int
    total: int
    threshold: float
    reasons: dict[str, int] = field(default_factory=dict)
    # The first quarantined trace of each reason (sources only).
    examples: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: int = 0
    unread_files: int = 0
    unread_names: tuple[str, ...] = ()
    own_threshold: bool = False  # a source judged on its own `thresholds`

    @property
    def record_rate(self) -> float:
        return self.failed / self.total if self.total else 0.0

    @property
    def file_rate(self) -> float:
        return self.unread_files / self.files if self.files else 0.0

    @property
    def rate(self) -> float:
        """The larger of the record rate and the file rate."""
        return max(self.record_rate, self.file_rate)

    @property
    def passed(self) -> bool:
        return self.rate <= self.threshold

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"rate": self.rate}


@dataclass(frozen=True)
class RateEvaluation:
    """A rate check of a partition: the gated partition count (`overall`: the sources on the
    partition's threshold), each source's, and `all_inputs`, every source's inputs together:
    the partition's rate as every display shows it (a source on its own threshold is judged
    and shown separately, in `sources`)."""

    check: str
    partition: str
    overall: RateCount
    sources: tuple[RateCount, ...]
    quarantine_files: tuple[str, ...]
    all_inputs: RateCount
    # False when a `split: auto` source's records were not routed yet (the extracted stage
    # materialised on its own): its denominator is then every input the stage read.
    exact: bool = True

    @property
    def passed(self) -> bool:
        return self.overall.passed and all(s.passed for s in self.sources)

    @property
    def failing(self) -> list[RateCount]:
        return [c for c in (self.overall, *self.sources) if not c.passed]

    @property
    def own_thresholds(self) -> tuple[RateCount, ...]:
        """The sources judged on their own threshold (left out of `overall`)."""
        return tuple(s for s in self.sources if s.own_threshold)

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "partition": self.partition,
            "overall": self.overall.to_json(),
            "sources": [s.to_json() for s in self.sources],
            "quarantine_files": list(self.quarantine_files),
            "all_inputs": self.all_inputs.to_json(),
            "exact": self.exact,
            "passed": self.passed,
        }


def count_text(scope: Mapping[str, Any]) -> str:
    """`<failed> of <total> inputs quarantined (<rate>)`, and when files were left unread
    `; <n> of <files> files unread (<rate>): <names>` (a RateCount's JSON form; the first
    NAMED_FILES names)."""
    failed, total = scope["failed"], scope["total"]
    text = f"{failed} of {total} inputs quarantined ({failed / total if total else 0.0:.3%})"
    if unread := scope.get("unread_files", 0):
        files = max(scope.get("files", 0), unread)
        text += f"; {unread} of {files} files unread ({unread / files:.3%})"
        if names := scope.get("unread_names"):
            more = len(names) - NAMED_FILES
            text += (
                ": " + ", ".join(names[:NAMED_FILES]) + (f" and {more} more" if more > 0 else "")
            )
    return text


def failure_text(evaluation: RateEvaluation) -> str:
    """`<partition>: blocking check <check> failed: [source <name>: ]<count_text>; <rate> is
    ABOVE the threshold of <threshold>`, for the first failing scope (the refusal message of
    the shards step and of the publication)."""
    count = evaluation.failing[0] if evaluation.failing else evaluation.overall
    where = "" if count.scope == PARTITION_SCOPE else f"source {count.scope}: "
    return (
        f"{evaluation.partition}: blocking check {evaluation.check} failed: {where}"
        f"{count_text(count.to_json())}; {count.rate:.3%} is ABOVE the threshold of "
        f"{count.threshold:.3%}"
    )


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


def source_files(
    cfg: PipelineConfig, partition: str, extract: Mapping[str, Any]
) -> dict[str, SourceFiles]:
    """Per source, its files charged to `partition` and the unread ones, from the extracted
    stage's details (`extra` of its report). A `split: auto` source's files are charged to
    its `train` partition, as its rejections are (extract_stage.charged_here)."""
    split = partition.split("|", 1)[1]
    counts: dict[str, int] = {}
    for entry in extract.get("files", []):
        name = entry["source"]
        if not _known(cfg, name) or charged_here(cfg.source(name), split):
            counts[name] = counts.get(name, 0) + 1
    unread: dict[str, list[str]] = {}
    for entry in extract.get("unread_files", []):
        unread.setdefault(entry["source"], []).append(entry["file"])
    return {
        name: SourceFiles(
            counts.get(name, 0), len(unread.get(name, ())), tuple(unread.get(name, ()))
        )
        for name in sorted(set(counts) | set(unread))
    }


def evaluate(
    limits: PipelineConfig | RateLimits,
    partition: str,
    check: str,
    reads: Mapping[str, int],
    quarantines: Iterable[tuple[str, Mapping[str, Any]]],
    exact: bool = True,
    files: Mapping[str, SourceFiles] | None = None,
) -> RateEvaluation:
    """Check `check` of `partition` ("objective|split") under `limits` (a config's, or
    RateLimits: those a build recorded): `reads` per source (source_reads), `quarantines` the
    (stage, quarantine summary) of the stages that ran, `files` per source (source_files; the
    parse-failure rate counts unread files too)."""
    if not isinstance(limits, RateLimits):
        limits = RateLimits.of_config(limits, partition)
    files = (files or {}) if check == PARSE_FAILURE_RATE else {}
    key = THRESHOLD_KEYS[check]
    default = limits.partition[key]
    reasons: dict[str, dict[str, int]] = {}
    examples: dict[str, dict[str, dict[str, Any]]] = {}
    paths: list[str] = []
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
            paths.append(str(summary["path"]))
    counts: list[RateCount] = []
    for name in sorted(set(reads) | set(reasons) | set(files)):
        by_reason = dict(sorted(reasons.get(name, {}).items(), key=lambda kv: (-kv[1], kv[0])))
        failed, total = sum(by_reason.values()), reads.get(name, 0)
        own = limits.sources.get(name, {}).get(key)
        mine = files.get(name, SourceFiles())
        counts.append(
            RateCount(
                scope=name,
                failed=failed,
                total=max(total, failed),
                threshold=default if own is None else own,
                reasons=by_reason,
                examples=examples.get(name, {}),
                files=max(mine.files, mine.unread),
                unread_files=mine.unread,
                unread_names=mine.names,
                own_threshold=own is not None,
            )
        )
    overall = together([c for c in counts if not c.own_threshold], default)
    return RateEvaluation(
        check=check,
        partition=partition,
        overall=overall,
        sources=tuple(counts),
        quarantine_files=tuple(paths),
        all_inputs=together(counts, default),
        exact=exact,
    )


def together(counts: Sequence[RateCount], threshold: float) -> RateCount:
    """The partition scope of `counts` (or the package's, of partitions' counts): their
    inputs, quarantined inputs and files summed."""
    reasons: dict[str, int] = {}
    for c in counts:
        for reason, n in c.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + n
    return RateCount(
        scope=PARTITION_SCOPE,
        failed=sum(c.failed for c in counts),
        total=sum(c.total for c in counts),
        threshold=threshold,
        reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        files=sum(c.files for c in counts),
        unread_files=sum(c.unread_files for c in counts),
        unread_names=tuple(f for c in counts for f in c.unread_names),
    )


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
    files = source_files(cfg, partition, extract.get("extra") or {})
    limits = RateLimits.of_config(cfg, partition)
    return {c: evaluate(limits, partition, c, reads, quarantines, exact, files) for c in checks}


def evaluate_accounting(
    partition: str,
    entry: Mapping[str, Any],
    fallback: RateLimits | None = None,
    checks: Iterable[str] = RATES,
) -> dict[str, RateEvaluation]:
    """The rate checks of a partition as its build decided them, from its accounting in
    metadata.json (`entry`: per source `read`, `quarantined_by_reason`, `files`,
    `unread_files`, and the `thresholds` judged by): the same counts and the same `evaluate`
    as the gate's, so DATACARD.md and report.html show the gate's rates. `fallback`: the
    thresholds to judge by when the entry records none (a package of an older build)."""
    sources = entry.get("sources") or {}
    limits = RateLimits.of_accounting(entry) or fallback
    if limits is None:
        raise ValueError(f"{partition}: metadata.json records no thresholds and none were given")
    reads = {name: int(c.get("read", 0)) for name, c in sources.items()}
    summary = {"by_source": {n: c.get("quarantined_by_reason") or {} for n, c in sources.items()}}
    files = SourceFiles.of_accounting(sources)
    return {
        c: evaluate(limits, partition, c, reads, [(ACCOUNTED_STAGE, summary)], files=files)
        for c in checks
    }


def _known(cfg: PipelineConfig, name: str) -> bool:
    return any(s.name == name for s in cfg.sources)


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
