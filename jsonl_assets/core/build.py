"""The one engine-free build path: a partition's record stages (one pass: read, adapt,
validate, dedup, write), its shards step (adopt, verify), and the package's publication from
the results those steps persisted in the work dir. The Dagster assets, the CLI (through them)
and the tests call these functions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from jsonl_assets.core.build_summary import shown_path
from jsonl_assets.core.chunks.runners import ChunkRunner, run_in_process
from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.malloc_tuning import tune_malloc
from jsonl_assets.core.manifest_builder import PartitionShards
from jsonl_assets.core.named_list import some_names
from jsonl_assets.core.partition_gate import ChecksFailed, keep_gate_report, record_verdict
from jsonl_assets.core.report.package_report import (
    ReportDirNotOurs,
    ReportNotWritten,
    ReportResult,
    report_after_publication,
)
from jsonl_assets.core.report.statistics import measured_cells
from jsonl_assets.core.rules.rate_checks import RateEvaluation, RateGate
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.stage_report import ShardsDetails, StageReport
from jsonl_assets.core.stages.manifest_stage import ManifestResult, publish_manifest
from jsonl_assets.core.stages.record_stages import Gate, run_record_stages
from jsonl_assets.core.stages.shard_stage import MARKER as SHARDS_MARKER
from jsonl_assets.core.stages.shard_stage import VERIFIED, run_shards, verify_partition_shards
from jsonl_assets.core.store.base import read_bytes
from jsonl_assets.core.store.package_lock import package_lock, step_command
from jsonl_assets.core.store.partition_lock import partition_lock
from jsonl_assets.core.store.work_files import (
    PartitionDirs,
    partition_dirs,
    read_marker,
    split_partition_key,
    write_marker,
)
from jsonl_assets.core.store.work_owner import claim_work_dir


def claim_work(cfg: PipelineConfig) -> None:
    """The config's work dir serves its package (recorded at first use), else `ConfigError`
    before anything is written (work_owner.py): every step that writes there asks first."""
    claim_work_dir(cfg.path, cfg.output.work_dir, cfg.output.dir)


def dirs_for(cfg: PipelineConfig, key: str) -> PartitionDirs:
    objective, split = split_partition_key(key)  # one of the twelve, or UnknownPartitionError
    out = cfg.output
    return partition_dirs(out.work_dir, out.quarantine_dir, out.dir, objective, split)


def build_records(
    cfg: PipelineConfig,
    dirs: PartitionDirs,
    *,
    gate: Gate,
    force: bool = False,
    helper_thread: bool = True,
    lock_timeout: float = 600.0,
    runner: ChunkRunner = run_in_process,
    replace_other_dataset: bool = False,
) -> list[StageReport]:
    """Stages 1-3 under the partition's lock: extracted, transformed, validated (only
    extracted when `gate`, a RateGate's `records`, refuses the rest: the pass's transformed
    report is then kept for `record_verdict`); `runner` runs the partition's chunks.
    `OtherDatasetError` (or `ForeignFilesError`), before a shard is staged, when the shards
    step would refuse the package dir (run_record_stages)."""
    claim_work(cfg)
    if cfg.uses_object_storage():
        tune_malloc()
    refused: list[StageReport] = []

    def gated(extract: StageReport, transform: StageReport) -> bool:
        if gate(extract, transform):
            return True
        refused.append(transform)
        return False

    with partition_lock(dirs.work, dirs.key, lock_timeout):
        reports = run_record_stages(
            cfg,
            dirs,
            force=force,
            gate=gated,
            helper_thread=helper_thread,
            runner=runner,
            replace_other_dataset=replace_other_dataset,
        )
        if refused:
            keep_gate_report(cfg, dirs, refused[-1])
        return reports


def build_shards(
    cfg: PipelineConfig,
    dirs: PartitionDirs,
    *,
    force: bool = False,
    lock_timeout: float = 600.0,
    replace_other_dataset: bool = False,
) -> tuple[StageReport, dict[str, Any]]:
    """Stage 4 under the package's and the partition's locks (the package's first: it is never
    waited for while a partition lock is held): the staged shards moved into the package,
    then re-read from disk. The verification is persisted beside the shards marker.

    Raises ChecksFailed, touching nothing, unless the partition's record stages are those of
    its current inputs and pass the blocking rate checks under the current thresholds
    (`record_verdict`, as the publication asks it); `OtherDatasetError`, touching nothing,
    when the package dir holds another dataset's package, unless `replace_other_dataset`
    (what an earlier pass staged in that package dir, on object storage, is removed)."""
    claim_work(cfg)
    if cfg.uses_object_storage():
        tune_malloc()
    with (
        package_lock(cfg.output.dir, lock_timeout, step_command("shards")),
        partition_lock(dirs.work, dirs.key, lock_timeout),
    ):
        verdict = record_verdict(cfg, dirs)
        if not verdict.passed:
            raise ChecksFailed(verdict.problems)
        report = run_shards(cfg, dirs, force=force, replace_other_dataset=replace_other_dataset)
        verification = verify_partition_shards(cfg, dirs, report)
        marker = read_marker_any(dirs, SHARDS_MARKER)
        if marker is not None:
            write_marker(dirs.file(VERIFIED), marker["fingerprint"], verification)
    return report, verification


@dataclass
class PartitionResult:
    """A partition's build: its record stages' reports, the blocking rate checks, and its
    shards' (None when a rate check failed: the shards step did not run)."""

    key: str
    stages: list[StageReport]
    evaluations: dict[str, RateEvaluation] = field(default_factory=dict)
    shards: StageReport | None = None
    verification: dict[str, Any] | None = None


def build_partition(
    cfg: PipelineConfig,
    key: str,
    *,
    force: bool = False,
    helper_thread: bool = True,
    lock_timeout: float = 600.0,
    runner: ChunkRunner = run_in_process,
    replace_other_dataset: bool = False,
) -> PartitionResult:
    """Build one partition (`objective|split`) from its config, without Dagster, gated by
    the blocking rate checks as the Dagster assets are (`RateGate`)."""
    dirs = dirs_for(cfg, key)
    gate = RateGate(cfg, key)
    stages = build_records(
        cfg,
        dirs,
        force=force,
        gate=gate.records,
        helper_thread=helper_thread,
        lock_timeout=lock_timeout,
        runner=runner,
        replace_other_dataset=replace_other_dataset,
    )
    evaluations = gate.evaluate(stages)
    if not gate.passed(evaluations):
        return PartitionResult(key, stages, evaluations)
    report, verification = build_shards(
        cfg,
        dirs,
        force=force,
        lock_timeout=lock_timeout,
        replace_other_dataset=replace_other_dataset,
    )
    return PartitionResult(key, stages, evaluations, report, verification)


def read_marker_any(dirs: PartitionDirs, name: str) -> dict[str, Any] | None:
    """A marker's content (fingerprint and report) whatever its fingerprint, or None. Read
    as every marker is (`store.base.read_bytes`: a regular file only, opened without
    blocking): a FIFO, a device or a folder in its place raises the OSError naming it."""
    import orjson

    try:
        marker = orjson.loads(read_bytes(dirs.file(name)))
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    return marker if type(marker) is dict else None


def built_partitions(cfg: PipelineConfig) -> tuple[list[PartitionShards], list[str]]:
    """Every built partition's shards, from its persisted shards result, and the problems
    that stop the publication (see `built_partition`)."""
    partitions: list[PartitionShards] = []
    problems: list[str] = []
    for objective in OBJECTIVES:
        for split in SPLITS:
            built = built_partition(cfg, f"{objective}|{split}")
            if isinstance(built, PartitionShards):
                partitions.append(built)
            else:
                problems.extend(built)
    return partitions, problems


def built_partition(cfg: PipelineConfig, key: str) -> PartitionShards | list[str]:
    """A partition's shards from its persisted shards result, or the problems that stop its
    publication (none: a partition never built is left out). Its shards are published only
    if its record stages are those of its current inputs and pass the blocking rate checks
    under the current thresholds (`record_verdict`, which the shards step asks too), the
    shards are those of these stages, and they passed shards_verified."""
    dirs = dirs_for(cfg, key)
    marker = read_marker_any(dirs, SHARDS_MARKER)
    verdict = record_verdict(cfg, dirs)
    if marker is None:
        # Never built: left out, unless its latest build failed a blocking check.
        return verdict.problems if verdict.checks_failed else []
    if not verdict.passed:
        return verdict.problems
    if marker["fingerprint"] != verdict.fingerprints["shards"]:
        return [f"{key}: its shards are not those of its current record stages; build it again"]
    verified = read_marker(dirs.file(VERIFIED), marker["fingerprint"])
    if verified is None or not verified.get("passed", False):
        return [f"{key}: its shards failed shards_verified"]
    report = StageReport.from_json(marker["report"])
    assert isinstance(report.details, ShardsDetails)
    return PartitionShards.from_details(dirs.objective, dirs.split, report.details)


@dataclass
class Publication:
    """What `publish` did: the partitions it read, the problems that stopped it (if any), or
    the verified manifest's result."""

    partitions: list[PartitionShards]
    problems: list[str] = field(default_factory=list)
    manifest: ManifestResult | None = None
    report: ReportResult | None = None  # report.html and DATACARD.md beside the package
    # Why the report of a published package was not written (the package stays published).
    report_problem: str | None = None
    # Per partition a problem left out: the records its current record stages quarantined
    # (None: none of them is current), for the manifest's summary (`left_out`).
    left_out: dict[str, int | None] = field(default_factory=dict)


def publish(
    cfg: PipelineConfig,
    lock_timeout: float = 600.0,
    workers: int = 1,
    replace_other_dataset: bool = False,
) -> Publication:
    """Verify and publish metadata.json from every built partition's persisted results (over a
    package of another dataset only if `replace_other_dataset`); then
    the report (from the statistics the partitions' chunks measured; charts drawn on up to
    `workers` processes). A report that fails after the publication (a report dir holding
    files that are not ours, a full disk) leaves the package published: `report_problem`
    says why it was not written."""
    claim_work(cfg)
    if cfg.uses_object_storage():
        tune_malloc()
    partitions, problems = built_partitions(cfg)
    if not problems and not any(p.shards for p in partitions):
        built = {p.key for p in partitions}
        unbuilt = [k for k in fed_partitions(cfg) if k not in built]
        problems.append(nothing_to_publish(partitions, cfg.output.quarantine_dir, unbuilt))
    if problems:
        return Publication(partitions, problems, left_out=left_out(cfg, problems))
    with package_lock(cfg.output.dir, lock_timeout, step_command("manifest")):
        manifest = publish_manifest(cfg, partitions, replace_other_dataset)
        if not manifest.published:
            _record_unverified(cfg, partitions, manifest)
        try:
            report = report_after_publication(cfg, manifest, workers, measured_cells(partitions))
        except Exception as exc:  # after the publication: it stands, the report is not written
            known = isinstance(exc, ReportDirNotOurs | ReportNotWritten)
            why = str(exc) if known else f"{type(exc).__name__}: {exc}"
            return Publication(partitions, [], manifest, None, why)
        return Publication(partitions, [], manifest, report)


def problem_partition(problem: str) -> str | None:
    """The partition a problem names (`<objective>|<split>: <why>`), if it names one."""
    key, sep, _ = problem.partition(": ")
    return key if sep and "|" in key else None


def left_out(cfg: PipelineConfig, problems: list[str]) -> dict[str, int | None]:
    """Per partition the problems name: the records its current record stages quarantined
    (`Verdict.quarantined`; None when none of them is current)."""
    keys = dict.fromkeys(k for p in problems if (k := problem_partition(p)) is not None)
    return {key: record_verdict(cfg, dirs_for(cfg, key)).quarantined for key in keys}


# The verifier's findings that a shard file is not the one recorded: missing or unreadable,
# does not decompress, another line count, another size or sha256.
SHARD_FILE_RULES: Final = frozenset({"C13", "C15", "C16", "C17"})


def _record_unverified(
    cfg: PipelineConfig, partitions: list[PartitionShards], manifest: ManifestResult
) -> None:
    """Record a failed shards_verified for each partition whose shard files the package's
    verification found changed (a shard corrupted in place after an earlier build verified
    it, even at the same size): the next build writes those shards again instead of calling
    the partition up to date and failing its publication for ever."""
    broken = {
        f.file for f in manifest.findings if f.severity == "error" and f.rule in SHARD_FILE_RULES
    }
    for partition in partitions:
        bad = sorted(broken & {s["path"] for s in partition.shards})
        dirs = dirs_for(cfg, partition.key)
        marker = read_marker_any(dirs, SHARDS_MARKER)
        if bad and marker is not None:
            found = {"passed": False, "source": "package verification", "bad_shards": bad}
            write_marker(dirs.file(VERIFIED), marker["fingerprint"], found)


def fed_partitions(cfg: PipelineConfig) -> list[str]:
    """The partitions some configured source feeds, in objective-then-split order."""
    return [f"{o}|{s}" for o in OBJECTIVES for s in SPLITS if cfg.sources_for(o, s)]


def nothing_to_publish(
    partitions: list[PartitionShards],
    quarantine_dir: Path | None = None,
    unbuilt: Sequence[str] = (),
) -> str:
    """Why there is no package: no built partition holds a record (a package needs at least
    one file entry, spec rule A6). When partitions the sources feed are not built yet
    (`unbuilt`: a manifest materialised first), says to build them; when the sources held
    records and every one was quarantined, says so - how many, the top reasons, where the
    quarantine is - else names the sources and files that held none."""
    read = sum(p.accounting.get("read", 0) for p in partitions)
    if unbuilt:
        some = some_names(list(unbuilt), "partitions")
        return (
            f"nothing to publish yet: no partition holding a record is built, and {some} "
            f"({len(unbuilt)} fed by the config's sources) "
            f"{'is' if len(unbuilt) == 1 else 'are'} not built: build "
            f"{'it' if len(unbuilt) == 1 else 'them'} first (`jsonl-assets build`, or "
            "materialise their stages in Dagster), then the manifest"
        )
    if read:
        return _all_quarantined(partitions, read, quarantine_dir)
    empty = [
        f"{p.key}: {some_names(sorted({f['source'] for f in p.files}), 'sources')} "
        f"({some_names([f['file'] for f in p.files])})"
        for p in partitions
        if p.files
    ]
    where = "; ".join(empty) if empty else "no partition has a source"
    return (
        "no records: the sources of every built partition held no records, so there is no "
        f"package to publish (a package needs at least one shard). Sources read: {where}"
    )


TOP_REASONS: Final = 3  # the quarantine reasons a message names, most frequent first


def _all_quarantined(
    partitions: list[PartitionShards], read: int, quarantine_dir: Path | None
) -> str:
    """`N records read, all N quarantined` with the top reasons, each partition's numbers and
    its quarantine folder (relative to `quarantine_dir`, the configured one)."""
    reasons: Counter[str] = Counter()
    each = []
    for p in partitions:
        mine = p.accounting
        if not mine.get("read"):
            continue
        for source in (mine.get("per_source") or {}).values():
            reasons.update(source.get("quarantined_by_reason") or {})
        folder = (p.quarantine or {}).get("folder")
        where = ""
        if folder:
            where = (
                f", quarantine {shown_path(quarantine_dir / folder if quarantine_dir else folder)}"
            )
        each.append(
            f"{p.key}: {mine['read']:,} read, {mine.get('quarantined', 0):,} quarantined{where}"
        )
    ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    top = ", ".join(f"{reason} {n:,}" for reason, n in ranked[:TOP_REASONS])
    if len(ranked) > TOP_REASONS:
        top += f" and {len(ranked) - TOP_REASONS:,} more reasons"
    quarantined = sum(p.accounting.get("quarantined", 0) for p in partitions)
    return (
        f"no records written: the sources held {read:,} records and all {quarantined:,} were "
        f"quarantined (top reasons: {top or 'none recorded'}), so there is no package to "
        f"publish (a package needs at least one shard). {'; '.join(each)}"
    )
