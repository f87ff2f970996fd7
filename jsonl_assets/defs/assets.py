"""The stage assets: extracted, transformed and validated (one multi-asset: one step, one
streaming pass), shards and the manifest. Each reads the config, calls the core's build path
(core/build.py), and reports the typed results as metadata and check results."""

from collections.abc import Iterator
from typing import Any, Final

import dagster as dg

from jsonl_assets.core.build import build_records, build_shards, publish
from jsonl_assets.core.build_summary import shown_path
from jsonl_assets.core.chunks.plan import recorded_plan
from jsonl_assets.core.chunks.runners import process_runner
from jsonl_assets.core.config import PipelineConfig, check_buckets
from jsonl_assets.core.partition_gate import ChecksFailed
from jsonl_assets.core.rules.rate_checks import RateEvaluation, RateGate, failure_text
from jsonl_assets.core.source_fingerprints import read_partition_version
from jsonl_assets.core.stage_report import (
    ExtractDetails,
    ShardsDetails,
    StageReport,
    TransformDetails,
    ValidateDetails,
)
from jsonl_assets.core.stages.extract_stage import CODE_VERSION as EXTRACT_VERSION
from jsonl_assets.core.stages.shard_stage import CODE_VERSION as SHARDS_VERSION
from jsonl_assets.core.stages.shard_stage import MARKER as SHARDS_MARKER
from jsonl_assets.core.stages.transform_stage import CODE_VERSION as TRANSFORM_VERSION
from jsonl_assets.core.stages.validate_stage import CODE_VERSION as VALIDATE_VERSION
from jsonl_assets.core.store.work_files import PartitionDirs
from jsonl_assets.defs import checks
from jsonl_assets.defs.manifest_metadata import (
    left_out_metadata,
    published_metadata,
    refused_metadata,
)
from jsonl_assets.defs.observations import raw_sources
from jsonl_assets.defs.ownership import DEFAULT_TEAM, team_owner, team_tags
from jsonl_assets.defs.partitions import PARTITIONS
from jsonl_assets.defs.progress_logs import chunk_progress_logged
from jsonl_assets.defs.publish_wait import publish_when_built
from jsonl_assets.defs.report_metadata import report_metadata
from jsonl_assets.defs.resources import PipelineResource
from jsonl_assets.defs.stage_metadata import (
    PUBLISHED_QUARANTINE,
    REPORT_NOT_WRITTEN,
    rate_metadata,
    stage_metadata,
)
from jsonl_assets.defs.ui_metadata import accounting_table, content_table, shards_table
from jsonl_assets.defs.user_errors import user_errors_said

GROUP: Final = "llm_training_data"
OWNERS: Final = [team_owner(DEFAULT_TEAM)]  # ownership.with_team sets the config's team
TAGS: Final = team_tags(DEFAULT_TEAM)
SOURCE_FILES: Final = "source_files"
UNREAD_FILES: Final = "unread_files"
QUALITY_WARNED: Final = "quality_warned"
MANIFEST_VERSION: Final = "1"


EXTRACTED: Final = dg.AssetKey("extracted")
TRANSFORMED: Final = dg.AssetKey("transformed")
VALIDATED: Final = dg.AssetKey("validated")


def _extracted_result(
    cfg: PipelineConfig, dirs: PartitionDirs, report: StageReport, evaluation: RateEvaluation
) -> dg.MaterializeResult:
    details = report.details
    assert isinstance(details, ExtractDetails)
    meta = stage_metadata(report)
    meta.update(rate_metadata("parse_failures", evaluation))
    meta["inputs_charged"] = dg.MetadataValue.int(evaluation.all_inputs.total)
    meta[SOURCE_FILES] = dg.MetadataValue.int(len(details.files))
    # Files a rejection left (partly) unread: the parse-failure rate counts them too.
    meta[UNREAD_FILES] = dg.MetadataValue.int(evaluation.all_inputs.unread_files)
    if (plan := recorded_plan(dirs)) is not None:  # how the partition was cut into chunks
        meta["chunks"] = dg.MetadataValue.int(len(plan["chunks"]))
        shown = {"files": plan["files"], "chunks": plan["chunks"][:200]}  # bounded metadata
        meta["chunk_plan"] = dg.MetadataValue.json(shown)
    check = checks.rate_check(evaluation, asset=EXTRACTED)
    # Data version: the code version and the version of the bytes actually read (equal to the
    # raw_sources observation of the same files), so downstream stages go stale only when
    # extracted really saw new input.
    read = read_partition_version(cfg, dirs.key, details.files)
    meta["source_version"] = dg.MetadataValue.text(read)
    return dg.MaterializeResult(
        asset_key=EXTRACTED,
        metadata=meta,
        check_results=[check],
        data_version=dg.DataVersion(f"{EXTRACT_VERSION}:{read}"),
    )


def _transformed_result(report: StageReport, evaluation: RateEvaluation) -> dg.MaterializeResult:
    details = report.details
    assert isinstance(details, TransformDetails)
    meta = stage_metadata(report)
    meta["routed_to_other_splits"] = dg.MetadataValue.int(details.routed_elsewhere)
    meta["toolsets"] = dg.MetadataValue.int(len(details.toolsets))
    meta.update(rate_metadata("adapter_rejects", evaluation))
    return dg.MaterializeResult(
        asset_key=TRANSFORMED,
        metadata=meta,
        check_results=[checks.rate_check(evaluation, asset=TRANSFORMED)],
    )


def _validated_result(
    report: StageReport, evaluations: dict[str, RateEvaluation]
) -> dg.MaterializeResult:
    dups, invalid = evaluations[checks.DUPLICATE_ID_RATE], evaluations[checks.INVALID_RATE]
    details = report.details
    assert isinstance(details, ValidateDetails)
    meta = stage_metadata(report)
    meta.update(rate_metadata("duplicate_ids", dups))
    meta.update(rate_metadata("invalid_records", invalid))
    meta.update(
        {
            "id_set (B)": dg.MetadataValue.int(details.id_set_bytes),
            # Valid but useless (quality_policy.py): quarantined ones count as invalid.
            "quality_quarantined": dg.MetadataValue.json(details.quality_quarantined),
            QUALITY_WARNED: dg.MetadataValue.json(details.quality_warned),
            "spec_warnings": dg.MetadataValue.json(details.spec_warnings),
        }
    )
    check_results = [
        checks.rate_check(dups, asset=VALIDATED),
        checks.rate_check(invalid, asset=VALIDATED),
    ]
    return dg.MaterializeResult(asset_key=VALIDATED, metadata=meta, check_results=check_results)


_STAGES: Final = (EXTRACTED, TRANSFORMED, VALIDATED)


def _stage_spec(
    key: dg.AssetKey, dep: dg.AssetKey, code_version: str, kinds: set[str], description: str
) -> dg.AssetSpec:
    """One of the three record stages: partitioned, skippable (a failed check stops the rest)."""
    return dg.AssetSpec(
        key,
        deps=[dep],
        description=description,
        group_name=GROUP,
        code_version=code_version,
        kinds=kinds,
        skippable=True,
        partitions_def=PARTITIONS,
        owners=OWNERS,
        tags=TAGS,
    )


@dg.multi_asset(
    name="record_stages",
    partitions_def=PARTITIONS,
    # One pass computes the three: they materialise together (README, How it works).
    can_subset=False,
    specs=[
        _stage_spec(
            EXTRACTED,
            # Records the raw_sources version it was built from: a newer observation makes
            # it stale.
            raw_sources.key,
            EXTRACT_VERSION,
            {"python", "jsonl"},
            "Raw records of this objective|split's sources, streamed file by file (JSONL, "
            "JSON arrays, CSV/TSV, Parquet, text; plain, gzip or zstd), each traced to "
            "source, file, line/row/item and the file's sha256. Inputs that do not parse "
            "go to quarantine with a reason.",
        ),
        _stage_spec(
            TRANSFORMED,
            EXTRACTED,
            TRANSFORM_VERSION,
            {"python", "jsonl"},
            "Spec records: each source's adapter maps raw -> record, gives it a "
            "deterministic id (the source's own id, or a content hash), assigns its split "
            "(hash of the id for `split: auto`) and records its trace in `metadata`. "
            "Inputs an adapter cannot map go to quarantine.",
        ),
        _stage_spec(
            VALIDATED,
            TRANSFORMED,
            VALIDATE_VERSION,
            {"python"},
            "Verdicts on every transformed record: each record rule of the spec for the "
            "objective (checklist D, E, F) and duplicate ids. Rejected records go to "
            "quarantine as `schema:<rule>` or `duplicate_id` (with the trace of the record "
            "that was kept).",
        ),
    ],
    check_specs=[
        checks.spec(checks.PARSE_FAILURE_RATE, "extracted", PARTITIONS),
        checks.spec(checks.ADAPTER_REJECT_RATE, "transformed", PARTITIONS),
        checks.spec(checks.DUPLICATE_ID_RATE, "validated", PARTITIONS),
        checks.spec(checks.INVALID_RATE, "validated", PARTITIONS),
    ],
)
@user_errors_said
def record_stages(
    context: dg.AssetExecutionContext, pipeline: PipelineResource
) -> Iterator[dg.MaterializeResult]:
    """Stages 1-3 of a partition, three assets computed by one step: every record is read,
    parsed, adapted and judged in one streaming pass that stages the accepted records' shards
    for the `shards` step. A failed parse_failure_rate check leaves transformed and validated
    unmaterialised, as Dagster would block separate steps: the step fails with that check
    (their own checks were not evaluated). A failed blocking check is not retried."""
    cfg = pipeline.load()
    check_buckets(cfg)  # before any source is read
    dirs = pipeline.dirs(cfg, context.partition_key)
    gate = RateGate(cfg, dirs.key)  # the core's gate; the checks below are its view
    with chunk_progress_logged(context.log):
        reports = build_records(
            cfg,
            dirs,
            force=pipeline.force,
            gate=gate.records,
            helper_thread=pipeline.helper_thread,
            lock_timeout=pipeline.lock_timeout_seconds,
            runner=process_runner(pipeline.chunk_workers),
            replace_other_dataset=pipeline.replace_other_dataset,
        )
    evaluations = gate.evaluate(reports)
    parse = evaluations[checks.PARSE_FAILURE_RATE]
    yield _extracted_result(cfg, dirs, reports[0], parse)
    if not gate.passed(evaluations):
        checks.no_run_retry(context)  # the same inputs fail the same check again
    if len(reports) < len(_STAGES):
        # Stopped after extracted: no transformed or validated to report (nor their checks).
        # Said in one line by user_errors_said, as every refusal of a blocking check.
        raise ChecksFailed(
            [
                f"{failure_text(parse)}; quarantined in "
                f"{', '.join(shown_path(p) for p in parse.quarantine_files) or 'no file'}; "
                "transformed (but its quarantine) and validated were not committed, and their "
                "checks not evaluated"
            ]
        )
    yield _transformed_result(reports[1], evaluations[checks.ADAPTER_REJECT_RATE])
    yield _validated_result(reports[2], evaluations)


@dg.asset(
    partitions_def=PARTITIONS,
    group_name=GROUP,
    code_version=SHARDS_VERSION,
    deps=[VALIDATED],
    check_specs=[
        checks.spec(checks.SHARDS_VERIFIED, "shards", PARTITIONS),
        checks.spec(checks.EMPTY_PARTITION, "shards", PARTITIONS),
    ],
    kinds={"python", "jsonl"},
    owners=OWNERS,
    tags=TAGS,
)
@user_errors_said
def shards(
    context: dg.AssetExecutionContext, pipeline: PipelineResource
) -> Iterator[dg.MaterializeResult]:
    """Compressed JSONL shards in the package
    (data/<objective>-<split>-<digest>/<objective>-<split>-NNNNN.jsonl.zst), rotated by records
    and/or on-disk bytes, each with its record_count and sha256. The record stages' one pass
    wrote them, staged in the work dir; this step moves them in (it runs only if the validated
    checks pass) and re-reads them (shards_verified). It removes nothing: shards of earlier
    builds that the published metadata.json no longer lists are collected after a later
    publish, once `output.retention_hours` has passed (core/store/package_gc.py). The shard
    list recorded here is what the manifest is built from. It refuses (and touches nothing)
    while a blocking rate check of the partition fails under the current thresholds, or its
    record stages do not follow its last extraction under the current config: the
    publication asks the same (core/partition_gate.py)."""
    cfg = pipeline.load()
    dirs = pipeline.dirs(cfg, context.partition_key)
    # A refusal (ChecksFailed) fails the step in one line, not retried (user_errors_said).
    report, verification = build_shards(
        cfg,
        dirs,
        force=pipeline.force,
        lock_timeout=pipeline.lock_timeout_seconds,
        replace_other_dataset=pipeline.replace_other_dataset,
    )
    details = report.details
    assert isinstance(details, ShardsDetails)
    accounting = details.accounting
    meta = stage_metadata(report)
    meta.update(
        {
            "shards": dg.MetadataValue.md(shards_table(details.shards)),
            "shard_count": dg.MetadataValue.int(len(details.shards)),
            # The partition's accounting (read = written + quarantined by every stage), per
            # source; the stage counters above are the shards step's own.
            "accounting": dg.MetadataValue.md(accounting_table(accounting["per_source"])),
            "reused_shards": dg.MetadataValue.int(details.reused_shards),
            "verified": dg.MetadataValue.bool(bool(verification["passed"])),
            "verify duration (s)": dg.MetadataValue.float(round(verification["seconds"], 3)),
            # Per shard family: records, bytes and sha256 of the accepted records, which
            # shards_verified found the shards decompress to (in full in shards.json).
            "content": dg.MetadataValue.md(content_table(details.content)),
            "shards_json": dg.MetadataValue.path(str(dirs.file(SHARDS_MARKER))),
        }
    )
    if details.quarantine:  # none for a partition no source feeds that quarantined nothing
        meta[PUBLISHED_QUARANTINE] = dg.MetadataValue.path(
            str(dirs.quarantine_root / details.quarantine["folder"])
        )
    if not verification["passed"]:
        # A retry of this step alone finds the staged shards moved in and fails otherwise; the
        # next full run of the partition writes them again (shard_stage.verification_failed).
        checks.no_run_retry(context)
    # A generator: a failed shards_verified fails the step in one line after this result
    # (user_errors_said), not with Dagster's generic DagsterAssetCheckFailedError.
    yield dg.MaterializeResult(
        metadata=meta,
        check_results=[
            checks.shards_verified_check(verification),
            checks.empty_partition_check(len(details.files), report.records_out),
        ],
    )


@dg.asset(
    group_name=GROUP,
    code_version=MANIFEST_VERSION,
    deps=[dg.AssetDep(shards, partition_mapping=dg.AllPartitionMapping())],
    check_specs=[checks.spec(checks.PACKAGE_VALID, "manifest")],
    kinds={"python", "json"},
    owners=OWNERS,
    tags=TAGS,
)
@user_errors_said
def manifest(
    context: dg.AssetExecutionContext, pipeline: PipelineResource
) -> Iterator[dg.MaterializeResult]:
    """metadata.json, assembled from the shard lists that the `shards` step persisted in the
    work dir for every built partition (partitions never built, or without records, are left
    out). It is verified before it is published and written last, atomically. A partition
    whose latest blocking rate check fails under the current thresholds, whose record stages
    or shards do not follow its last extraction under the current config, or whose shards failed
    shards_verified stops the publication (core/build.py built_partition), unless a run is
    building that partition at that moment: then it publishes again once that run has ended
    (defs/publish_wait.py)."""
    cfg = pipeline.load()
    publication = publish_when_built(
        cfg,
        context.instance,
        context.run_id,
        lambda: publish(
            cfg,
            pipeline.lock_timeout_seconds,
            pipeline.chunk_workers,
            pipeline.replace_other_dataset,
        ),
        context.log.info,
        pipeline.lock_timeout_seconds,
    )
    result, partitions = publication.manifest, publication.partitions
    if result is None:
        checks.no_run_retry(context)  # refused on what is persisted: a retry is refused too
        check = checks.package_valid_check(0, 0, 0, [], [], publication.problems)
        # A refusal (failed package_valid) is said in one line after it (user_errors_said).
        yield dg.MaterializeResult(metadata=left_out_metadata(publication), check_results=[check])
        return
    findings = [
        {
            "severity": f.severity,
            "rule": f.rule,
            "file": f.file,
            "line": f.line,
            "message": f.message,
        }
        # errors first: the check's description names the first ones
        for f in sorted(result.findings, key=lambda f: f.severity != "error")[:20]
    ]
    check = checks.package_valid_check(
        result.error_count,
        result.warning_count,
        result.leaked_ids,
        findings,
        result.leakage,
        ([result.refused] if result.refused else []) + result.hints,
    )
    if not result.published:
        checks.no_run_retry(context)  # the same package is refused again
        why = check.description or "refused"
        meta = refused_metadata(partitions, result, why)
        yield dg.MaterializeResult(metadata=meta, check_results=[check])
        return
    yield dg.MaterializeResult(
        metadata={
            **published_metadata(partitions, result),
            **report_metadata(publication.report),
            **report_problem_metadata(context, publication.report_problem),
        },
        check_results=[check],
    )


def report_problem_metadata(
    context: dg.AssetExecutionContext, problem: str | None
) -> dict[str, Any]:
    """Why the report of the package just published was not written (logged as a warning):
    the package stays published."""
    if problem is None:
        return {}
    context.log.warning(f"metadata.json was published; the report was not written: {problem}")
    return {REPORT_NOT_WRITTEN: dg.MetadataValue.text(problem)}


STAGE_ASSETS: Final = [record_stages, shards]
ALL_ASSETS: Final = [*STAGE_ASSETS, manifest]
