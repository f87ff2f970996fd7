"""The asset checks: six blocking ones and the empty-partition warning; names, specs and
results (the rate checks are decided in rate_checks.py). The checks of the partitioned
assets are partitioned too, so every result carries its partition key."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Final

import dagster as dg

from jsonl_assets.core.named_list import some_names
from jsonl_assets.core.report.markdown_text import md_list
from jsonl_assets.core.rules import reject_reasons
from jsonl_assets.core.rules.rate_checks import (
    PARTITION_SCOPE,
    RateCount,
    RateEvaluation,
    count_text,
)
from jsonl_assets.core.stages.manifest_stage import errors_summary, leakage_summary
from jsonl_assets.defs.stage_metadata import percent
from jsonl_assets.defs.ui_metadata import format_trace, table

PARSE_FAILURE_RATE: Final = reject_reasons.PARSE_FAILURE_RATE
ADAPTER_REJECT_RATE: Final = reject_reasons.ADAPTER_REJECT_RATE
DUPLICATE_ID_RATE: Final = reject_reasons.DUPLICATE_ID_RATE
INVALID_RATE: Final = reject_reasons.INVALID_RATE
SHARDS_VERIFIED: Final = "shards_verified"
PACKAGE_VALID: Final = "package_valid"
EMPTY_PARTITION: Final = "empty_partition"
# Structured result of a rate check, which the CLI's failure report reads.
RATE_REPORT: Final = "rate_report"
# The run tag by which a run opts out of the instance's run retries on a step failure.
RETRY_ON_FAILURE_TAG: Final = "dagster/retry_on_asset_or_op_failure"

_PER_SOURCE = (
    " Decided per partition and per source, on the inputs charged to it; a source's own "
    "sources[].thresholds override the global value for it."
)
CHECK_DESCRIPTIONS: Final = {
    PARSE_FAILURE_RATE: "Share of this partition's inputs that could not be read or parsed, against thresholds.max_parse_failure_rate."
    + _PER_SOURCE,
    ADAPTER_REJECT_RATE: "Share of this partition's inputs the source's adapter could not map (adapter:*, missing_id, unserializable), against thresholds.max_adapter_reject_rate."
    + _PER_SOURCE,
    DUPLICATE_ID_RATE: "Share of records dropped as duplicate ids, against thresholds.max_duplicate_id_rate."
    + _PER_SOURCE,
    INVALID_RATE: "Share of records that break a rule of the spec (schema:*) or of the quality policy (quality:*), against thresholds.max_invalid_rate."
    + _PER_SOURCE,
    SHARDS_VERIFIED: "Every shard re-read from disk: size and sha256 match, it decompresses to its end, its line count is its record_count, and its lines are byte for byte the records the validated stage accepted (each parsed and judged against the spec there), in order.",
    EMPTY_PARTITION: "Warning only (never blocks): the partition has source files but wrote no record, e.g. an empty file or a source whose records all went to other splits. A partition that no source feeds passes.",
    PACKAGE_VALID: "The package passes the verifier (spec checklist A-G) and no id appears in two splits. metadata.json is only published when this passes.",
}


def spec(
    name: str, asset: str, partitions_def: dg.PartitionsDefinition | None = None
) -> dg.AssetCheckSpec:
    """A check of `asset`, partitioned like it when `partitions_def` is given (Dagster 1.13
    calls partitioned checks a preview; the UI and GraphQL then show a status per partition,
    so that warning is silenced here, deliberately)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name,
            asset=asset,
            blocking=name != EMPTY_PARTITION,
            description=CHECK_DESCRIPTIONS[name],
            partitions_def=partitions_def,
        )


def no_run_retry(context: dg.AssetExecutionContext) -> None:
    """The run fails on a blocking check that the same inputs fail again (or on a refusal of
    what is persisted): the instance's run retries (dagster.yaml) do not rerun it. A run's
    tags at its failure decide whether it is retried."""
    context.instance.add_run_tags(context.run_id, {RETRY_ON_FAILURE_TAG: "false"})


def empty_partition_check(files: int, written: int) -> dg.AssetCheckResult:
    """Fails, as a warning, when source files feed the partition but no record was written."""
    if not files:
        description = "no source file feeds this partition"
    elif written:
        description = f"{_count(written, 'record')} written from {_count(files, 'source file')}"
    else:
        description = f"{_count(files, 'source file')}, but no record was written"
    return dg.AssetCheckResult(
        check_name=EMPTY_PARTITION,
        passed=not files or written > 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "source_files": dg.MetadataValue.int(files),
            "records_written": dg.MetadataValue.int(written),
        },
    )


def rate_check(evaluation: RateEvaluation, asset: dg.AssetKey | None = None) -> dg.AssetCheckResult:
    """A rate check's result: it fails when the partition or any source is above its
    threshold; the description names the first that is."""
    shown = evaluation.failing[0] if evaluation.failing else evaluation.overall
    rows = [
        [
            c.scope,
            c.failed,
            c.total,
            f"{c.rate:.3%}",
            f"{c.threshold:.3%}",
            "ok" if c.passed else "ABOVE",
            ", ".join(f"{r} {n}" for r, n in c.reasons.items()),
            some_names(c.unread_names),
        ]
        for c in (evaluation.overall, *evaluation.sources)
    ]
    return dg.AssetCheckResult(
        check_name=evaluation.check,
        asset_key=asset,
        passed=evaluation.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=describe(evaluation, shown),
        metadata={
            "failed": dg.MetadataValue.int(evaluation.overall.failed),
            "total": dg.MetadataValue.int(evaluation.overall.total),
            "rate (%)": percent(evaluation.overall.rate),
            "threshold (%)": percent(evaluation.overall.threshold),
            "per_source": dg.MetadataValue.md(
                table(
                    ["scope", "failed", "of", "rate", "threshold", "", "reasons", "unread files"],
                    rows,
                )
            ),
            "example_traces": dg.MetadataValue.md(_examples_md(evaluation)),
            RATE_REPORT: dg.MetadataValue.json(evaluation.to_json()),
        },
    )


def describe(evaluation: RateEvaluation, count: RateCount) -> str:
    where = "" if count.scope == PARTITION_SCOPE else f"source {count.scope}: "
    verdict = "within" if count.passed else "ABOVE"
    return (
        f"{where}{count_text(count.to_json())}; {count.rate:.3%} is {verdict} the threshold of "
        f"{count.threshold:.3%}"
    )


def _examples_md(evaluation: RateEvaluation) -> str:
    """Up to 10 items `scope: reason: trace`, escaped (markdown_text.md_list)."""
    items = [
        f"{c.scope}: {reason}: {format_trace(trace)}"
        for c in evaluation.sources
        for reason, trace in c.examples.items()
    ]
    return md_list(items[:10]) or "_none_"


def shards_verified_check(result: Mapping[str, Any]) -> dg.AssetCheckResult:
    findings = result["findings"]
    if result["passed"]:
        description = f"{result['shards']} shards, {result['records']} records re-read and valid"
    else:
        description = (
            f"{result['bad_shards']} of {result['shards']} shards failed verification; "
            f"{result['records']} records found, {result['expected_records']} expected"
        )
        if result["bad_families"]:
            description += (
                f"; the shards of {', '.join(result['bad_families'])} are not the accepted records"
            )
    return dg.AssetCheckResult(
        check_name=SHARDS_VERIFIED,
        passed=bool(result["passed"]),
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "shards": result["shards"],
            "bad_shards": result["bad_shards"],
            "records": result["records"],
            "findings": dg.MetadataValue.md(
                table(
                    ["rule", "file", "line", "message"],
                    [[f["rule"], f["file"], f["line"], f["message"]] for f in findings],
                )
                if findings
                else "_none_"
            ),
        },
    )


def package_valid_check(
    errors: int,
    warnings: int,
    leaked_ids: int,
    findings: Sequence[Mapping[str, Any]],
    leakage: Sequence[Mapping[str, Any]],
    problems: Sequence[str] = (),
) -> dg.AssetCheckResult:
    passed = errors == 0 and leaked_ids == 0 and not problems
    # The leaks named in the description itself: it is the message the CLI prints.
    parts = [f"{errors} errors, {warnings} warnings, {leakage_summary(leaked_ids, leakage)}"]
    named = errors_summary(errors, findings)  # which checks failed, so the CLI says it too
    if named:
        parts.append(f"errors: {named}")
    parts.extend(problems)
    leakage_rows = [
        [" / ".join(x["splits"]), format_trace(x["first"] or {}), format_trace(x["second"] or {})]
        for x in leakage
    ]
    return dg.AssetCheckResult(
        check_name=PACKAGE_VALID,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(parts),
        metadata={
            "errors": errors,
            "warnings": warnings,
            "leaked_ids": leaked_ids,
            "findings": dg.MetadataValue.md(
                table(
                    ["severity", "rule", "file", "line", "message"],
                    [
                        [f["severity"], f["rule"], f["file"], f["line"], f["message"]]
                        for f in findings
                    ],
                )
                if findings
                else "_none_"
            ),
            "leakage_examples": dg.MetadataValue.md(
                table(["splits", "first copy", "second copy"], leakage_rows)
                if leakage_rows
                else "_none_"
            ),
        },
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
