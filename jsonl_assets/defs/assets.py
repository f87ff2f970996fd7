"""The stage assets: extracted, transformed and validated (one multi-asset: one step, one
streaming pass), shards and the manifest. Each reads the config, calls the core, and reports
metadata and check results."""

from collections.abc import Iterator
from typing import Any, Final

import dagster as dg

from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.manifest_builder import PartitionShards
from jsonl_assets.core.rules.rate_checks import RateEvaluation, evaluate_all
from jsonl_assets.core.source_fingerprints import read_partition_version
from jsonl_assets.core.stage_report import StageReport
from jsonl_assets.core.stages.extract_stage import CODE_VERSION as EXTRACT_VERSION
from jsonl_assets.core.stages.extract_stage import MARKER as EXTRACT_MARKER
from jsonl_assets.core.stages.extract_stage import run_extract
from jsonl_assets.core.stages.manifest_stage import publish_manifest
from jsonl_assets.core.stages.record_stages import run_record_stages
from jsonl_assets.core.stages.shard_stage import CODE_VERSION as SHARDS_VERSION
from jsonl_assets.core.stages.shard_stage import run_shards, verify_partition_shards
from jsonl_assets.core.stages.transform_stage import CODE_VERSION as TRANSFORM_VERSION
from jsonl_assets.core.stages.transform_stage import MARKER as TRANSFORM_MARKER
from jsonl_assets.core.stages.transform_stage import run_transform, upstream_marker
from jsonl_assets.core.stages.validate_stage import CODE_VERSION as VALIDATE_VERSION
from jsonl_assets.core.stages.validate_stage import run_validate
from jsonl_assets.core.store.package_lock import package_lock
from jsonl_assets.core.store.partition_lock import partition_lock
from jsonl_assets.core.store.work_files import PartitionDirs
from jsonl_assets.defs import checks
from jsonl_assets.defs.observations import raw_sources
from jsonl_assets.defs.partitions import PARTITIONS, all_partition_keys, split_key
from jsonl_assets.defs.resources import PipelineResource
from jsonl_assets.defs.ui_metadata import (
    accounting_table,
    package_summary_table,
    quarantine_table,
    shards_table,
)

GROUP: Final = "llm_training_data"
PARTITION_REPORT: Final = "partition_report"
MANIFEST_VERSION: Final = "1"


def stage_metadata(report: StageReport) -> dict[str, Any]:
    q = report.quarantine
    meta: dict[str, Any] = {
        "records_in": report.records_in,
        "records_out": report.records_out,
        "quarantined": report.quarantined,
        "bytes_in": report.bytes_in,
        "bytes_out": report.bytes_out,
        "seconds": dg.MetadataValue.float(round(report.seconds, 3)),
        "records_per_second": dg.MetadataValue.float(round(report.records_per_second, 1)),
        "mb_per_second": dg.MetadataValue.float(round(report.mb_per_second, 2)),
        "reused": report.reused,
    }
    if "by_reason" in q:
        meta["quarantine_by_reason"] = dg.MetadataValue.md(quarantine_table(q))
        meta["quarantine_file"] = dg.MetadataValue.path(q["path"])
    return meta


EXTRACTED: Final = dg.AssetKey("extracted")
TRANSFORMED: Final = dg.AssetKey("transformed")
VALIDATED: Final = dg.AssetKey("validated")


def _extracted_result(
    cfg: PipelineConfig, dirs: PartitionDirs, report: StageReport, evaluation: RateEvaluation
) -> dg.MaterializeResult:
    failed = report.quarantined
    meta = stage_metadata(report)
    meta["parse_failures"] = failed
    meta["parse_failure_rate"] = dg.MetadataValue.float(evaluation.overall.rate)
    meta["inputs_charged"] = evaluation.overall.total
    meta["source_files"] = len(report.extra["files"])
    check = checks.rate_check(evaluation, asset=EXTRACTED)
    # Data version: the code version and the version of the bytes actually read (equal to the
    # raw_sources observation of the same files), so downstream stages go stale only when
    # extracted really saw new input.
    read = read_partition_version(cfg, f"{dirs.objective}|{dirs.split}", report.extra["files"])
    meta["source_version"] = read
    return dg.MaterializeResult(
        asset_key=EXTRACTED,
        metadata=meta,
        check_results=[check],
        data_version=dg.DataVersion(f"{EXTRACT_VERSION}:{read}"),
    )


def _transformed_result(report: StageReport, evaluation: RateEvaluation) -> dg.MaterializeResult:
    meta = stage_metadata(report)
    meta["routed_to_other_splits"] = report.extra["routed_elsewhere"]
    meta["toolsets"] = len(report.extra["toolsets"])
    meta["adapter_rejects"] = evaluation.overall.failed
    meta["adapter_reject_rate"] = dg.MetadataValue.float(evaluation.overall.rate)
    return dg.MaterializeResult(
        asset_key=TRANSFORMED,
        metadata=meta,
        check_results=[checks.rate_check(evaluation, asset=TRANSFORMED)],
    )


def _validated_result(
    report: StageReport, evaluations: dict[str, RateEvaluation]
) -> dg.MaterializeResult:
    dups, invalid = evaluations[checks.DUPLICATE_ID_RATE], evaluations[checks.INVALID_RATE]
    meta = stage_metadata(report)
    meta.update(
        {
            "duplicate_ids": report.extra["duplicates"],
            "duplicate_id_rate": dg.MetadataValue.float(dups.overall.rate),
            "invalid_records": report.extra["invalid"],
            "invalid_rate": dg.MetadataValue.float(invalid.overall.rate),
            "id_set_bytes": report.extra["id_set_bytes"],
            # Valid but useless (quality_policy.py): quarantined ones count as invalid.
            "quality_quarantined": report.extra["quality_quarantined"],
            "quality_warned": report.extra["quality_warned"],
            "spec_warnings": report.extra["spec_warnings"],
        }
    )
    check_results = [
        checks.rate_check(dups, asset=VALIDATED),
        checks.rate_check(invalid, asset=VALIDATED),
    ]
    return dg.MaterializeResult(asset_key=VALIDATED, metadata=meta, check_results=check_results)


def _check_inputs(
    dirs: PartitionDirs, keys: list[dg.AssetKey], reports: list[StageReport]
) -> dict[str, dict[str, Any]]:
    """The stage reports the rate checks count on: those of this run, and the upstream ones a
    stage run on its own finds on disk."""
    out = {key.path[-1]: r.to_json() for key, r in zip(keys, reports, strict=True)}
    last = max(_STAGES.index(stage) for stage in out)
    for stage, marker in (("extracted", EXTRACT_MARKER), ("transformed", TRANSFORM_MARKER))[:last]:
        if stage not in out:
            out[stage] = upstream_marker(dirs, marker)[1]
    return out


_STAGES: Final = ("extracted", "transformed", "validated")
_STAGE_FUNCTIONS: Final = {
    EXTRACTED: run_extract,
    TRANSFORMED: run_transform,
    VALIDATED: run_validate,
}


@dg.multi_asset(
    name="record_stages",
    partitions_def=PARTITIONS,
    can_subset=True,
    specs=[
        dg.AssetSpec(
            EXTRACTED,
            # Records the raw_sources version it was built from: a newer observation makes
            # it stale.
            deps=[raw_sources],
            description=(
                "Raw records of this objective|split's sources, streamed file by file (JSONL, "
                "JSON arrays, CSV/TSV, Parquet, text; plain, gzip or zstd), each traced to "
                "source, file, line/row/item and the file's sha256. Inputs that do not parse "
                "go to quarantine with a reason."
            ),
            group_name=GROUP,
            code_version=EXTRACT_VERSION,
            kinds={"python", "jsonl"},
            skippable=True,
            partitions_def=PARTITIONS,
        ),
        dg.AssetSpec(
            TRANSFORMED,
            deps=[EXTRACTED],
            description=(
                "Spec records: each source's adapter maps raw -> record, gives it a "
                "deterministic id (the source's own id, or a content hash), assigns its split "
                "(hash of the id for `split: auto`) and records its trace in `metadata`. "
                "Inputs an adapter cannot map go to quarantine."
            ),
            group_name=GROUP,
            code_version=TRANSFORM_VERSION,
            kinds={"python", "jsonl"},
            skippable=True,
            partitions_def=PARTITIONS,
        ),
        dg.AssetSpec(
            VALIDATED,
            deps=[TRANSFORMED],
            description=(
                "Verdicts on every transformed record: each record rule of the spec for the "
                "objective (checklist D, E, F) and duplicate ids. Rejected records go to "
                "quarantine as `schema:<rule>` or `duplicate_id` (with the trace of the record "
                "that was kept)."
            ),
            group_name=GROUP,
            code_version=VALIDATE_VERSION,
            kinds={"python"},
            skippable=True,
            partitions_def=PARTITIONS,
        ),
    ],
    check_specs=[
        checks.spec(checks.PARSE_FAILURE_RATE, "extracted"),
        checks.spec(checks.ADAPTER_REJECT_RATE, "transformed"),
        checks.spec(checks.DUPLICATE_ID_RATE, "validated"),
        checks.spec(checks.INVALID_RATE, "validated"),
    ],
)
def record_stages(
    context: dg.AssetExecutionContext, pipeline: PipelineResource
) -> Iterator[dg.MaterializeResult]:
    """Stages 1-3 of a partition, three assets computed by one step. With all three selected
    (as `build_partition` does) every record is read, parsed, adapted and judged in one
    streaming pass that writes what the stages write one by one, and stages the accepted
    records' shards for the `shards` step; a selection of some of them runs those stages on
    their own. A failed parse_failure_rate check leaves transformed and
    validated unmaterialised, as Dagster would block separate steps."""
    cfg = pipeline.load()
    dirs = pipeline.dirs(cfg, context.partition_key)
    selected = context.selected_asset_keys
    # The parse check as the gate decided it: on the inputs charged to the partition, which
    # needs the transformed stage's routing of the records.
    gated: dict[str, RateEvaluation] = {}

    def extraction_passes(extract: StageReport, transform: StageReport) -> bool:
        inputs = {"extracted": extract.to_json(), "transformed": transform.to_json()}
        evaluation = evaluate_all(cfg, dirs.key, inputs, [checks.PARSE_FAILURE_RATE])
        gated.update(evaluation)
        return evaluation[checks.PARSE_FAILURE_RATE].passed

    with partition_lock(dirs.work, dirs.key, pipeline.lock_timeout_seconds):
        if selected == set(_STAGE_FUNCTIONS):
            reports = run_record_stages(
                cfg,
                dirs,
                force=pipeline.force,
                gate=extraction_passes,
                helper_thread=pipeline.helper_thread,
            )
            keys = list(_STAGE_FUNCTIONS)[: len(reports)]
        else:
            keys = [key for key in _STAGE_FUNCTIONS if key in selected]
            reports = [_STAGE_FUNCTIONS[key](cfg, dirs, force=pipeline.force) for key in keys]
        evaluations = evaluate_all(cfg, dirs.key, _check_inputs(dirs, keys, reports))
    evaluations.update(gated)
    results = {
        EXTRACTED: lambda r: _extracted_result(
            cfg, dirs, r, evaluations[checks.PARSE_FAILURE_RATE]
        ),
        TRANSFORMED: lambda r: _transformed_result(r, evaluations[checks.ADAPTER_REJECT_RATE]),
        VALIDATED: lambda r: _validated_result(r, evaluations),
    }
    checks_selected = context.selected_asset_check_keys
    for key, report in zip(keys, reports, strict=True):
        result = results[key](report)
        kept = [
            c
            for c in result.check_results or []
            if dg.AssetCheckKey(key, c.check_name) in checks_selected
        ]
        if len(kept) != len(result.check_results or []):  # a check left out of the selection
            result = dg.MaterializeResult(
                asset_key=key,
                metadata=result.metadata,
                check_results=kept,
                data_version=result.data_version,
            )
        yield result


@dg.asset(
    partitions_def=PARTITIONS,
    group_name=GROUP,
    code_version=SHARDS_VERSION,
    deps=[VALIDATED],
    check_specs=[checks.spec(checks.SHARDS_VERIFIED, "shards")],
    kinds={"python", "jsonl"},
)
def shards(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
    """Compressed JSONL shards in the package (data/<objective>-<split>-NNNNN.jsonl.zst),
    rotated by records and/or on-disk bytes, each committed by atomic rename with its
    record_count and sha256. After a one-pass build the shards are already written, staged in
    the work dir, and are moved in (this step runs only if the validated checks pass);
    otherwise they are written from the transformed work file. Shards of earlier builds that
    are no longer listed are removed. The shard list recorded here is what the manifest is
    built from."""
    cfg = pipeline.load()
    dirs = pipeline.dirs(cfg, context.partition_key)
    # The package lock first (never waited for while a partition lock is held): another
    # build's run may not write this package meanwhile; this build's own runs go on.
    with (
        package_lock(cfg.output.dir, pipeline.lock_timeout_seconds),
        partition_lock(dirs.work, dirs.key, pipeline.lock_timeout_seconds),
    ):
        report = run_shards(cfg, dirs, force=pipeline.force)
        verification = verify_partition_shards(cfg, dirs, report)
    accounting = report.extra["accounting"]
    meta = stage_metadata(report)
    meta.update(
        {
            "shards": dg.MetadataValue.md(shards_table(report.extra["shards"])),
            "shard_count": len(report.extra["shards"]),
            "records_read": accounting["read"],
            "records_written": accounting["written"],
            "records_quarantined": accounting["quarantined"],
            "accounting": dg.MetadataValue.md(accounting_table(accounting["per_source"])),
            "reused_shards": report.extra["reused_shards"],
            "removed_orphans": len(report.extra["removed_orphans"]),
            "verified": verification["passed"],
            "verify_seconds": dg.MetadataValue.float(round(verification["seconds"], 3)),
            # Per shard family: length, lines and sha256 of the accepted records, which
            # shards_verified found the shards decompress to.
            "content": dg.MetadataValue.json(report.extra["content"]),
            PARTITION_REPORT: dg.MetadataValue.json(
                {
                    "shards": report.extra["shards"],
                    "toolsets": report.extra["toolsets"],
                    "files": report.extra["files"],
                    "accounting": accounting,
                    "verified": verification["passed"],
                }
            ),
        }
    )
    return dg.MaterializeResult(
        metadata=meta, check_results=[checks.shards_verified_check(verification)]
    )


def _latest_storage_id(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str
) -> tuple[int, Any] | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return None
    return records[0].storage_id, records[0].asset_materialization


@dg.asset(
    group_name=GROUP,
    code_version=MANIFEST_VERSION,
    deps=[dg.AssetDep(shards, partition_mapping=dg.AllPartitionMapping())],
    check_specs=[checks.spec(checks.PACKAGE_VALID, "manifest")],
    kinds={"json"},
)
def manifest(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
    """metadata.json, assembled from the shard lists that the `shards` asset recorded for every
    materialized partition (partitions never built, or without records, are left out). It is
    verified before it is published and written last, atomically. A partition whose upstream
    stages were rebuilt without new shards (a blocking check failed) stops the publication."""
    cfg = pipeline.load()
    instance = context.instance
    partitions: list[PartitionShards] = []
    problems: list[str] = []
    for key in all_partition_keys():
        latest = _latest_storage_id(instance, shards.key, key)
        if latest is None:
            continue
        storage_id, materialization = latest
        upstream = _latest_storage_id(instance, VALIDATED, key)
        if upstream is not None and upstream[0] > storage_id:
            problems.append(
                f"{key}: validated was rebuilt after its shards (blocked by a failed check?)"
            )
            continue
        data = materialization.metadata[PARTITION_REPORT].value
        if not data.get("verified", False):
            problems.append(f"{key}: its shards failed shards_verified")
            continue
        objective, split = split_key(key)
        partitions.append(PartitionShards.from_report(objective, split, data))
    if not problems and not any(p.shards for p in partitions):
        problems.append(_nothing_to_publish(partitions))
    if problems:
        check = checks.package_valid_check(0, 0, 0, [], [], problems)
        return dg.MaterializeResult(
            metadata={
                "published": False,
                "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems)),
            },
            check_results=[check],
        )
    with package_lock(cfg.output.dir, pipeline.lock_timeout_seconds):
        result = publish_manifest(cfg, partitions)
    summary = {
        (p.objective, p.split): (sum(s["record_count"] for s in p.shards), len(p.shards))
        for p in partitions
        if p.shards
    }
    findings = [
        {
            "severity": f.severity,
            "rule": f.rule,
            "file": f.file,
            "line": f.line,
            "message": f.message,
        }
        for f in result.findings[:20]
    ]
    check = checks.package_valid_check(
        result.error_count, result.warning_count, result.leaked_ids, findings, result.leakage
    )
    return dg.MaterializeResult(
        metadata={
            "published": result.published,
            "metadata_json": dg.MetadataValue.path(str(result.path)),
            "summary": dg.MetadataValue.md(package_summary_table(summary)),
            "partitions": len(summary),
            "records": sum(v[0] for v in summary.values()),
            "shards": sum(v[1] for v in summary.values()),
            "seconds": dg.MetadataValue.float(round(result.seconds, 3)),
        },
        check_results=[check],
    )


def _nothing_to_publish(partitions: list[PartitionShards]) -> str:
    """Why there is no package: no built partition holds a record (a package needs at least
    one file entry, spec rule A6); names the sources and files that held none."""
    empty = [
        f"{p.key}: {', '.join(sorted({f['source'] for f in p.files}))} "
        f"({', '.join(f['file'] for f in p.files)})"
        for p in partitions
        if p.files
    ]
    where = "; ".join(empty) if empty else "no partition has a source"
    return (
        "no records: the sources of every built partition held no records, so there is no "
        f"package to publish (a package needs at least one shard). Sources read: {where}"
    )


STAGE_ASSETS: Final = [record_stages, shards]
ALL_ASSETS: Final = [*STAGE_ASSETS, manifest]
