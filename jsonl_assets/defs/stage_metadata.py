"""The typed metadata every stage materialisation carries: one set of counters with the same
names on every stage, `dagster/row_count`, units in the labels, rates as percentages, and no
throughput for reused work."""

from __future__ import annotations

from typing import Any, Final

import dagster as dg

from jsonl_assets.core.rules.rate_checks import RateEvaluation
from jsonl_assets.core.stage_report import StageReport
from jsonl_assets.defs.ui_metadata import quarantine_table

ROW_COUNT: Final = "dagster/row_count"  # the stage's output records: catalog and overview
RECORDS_IN: Final = "records_in"
RECORDS_OUT: Final = "records_out"
RECORDS_QUARANTINED: Final = "records_quarantined"
BYTES_IN: Final = "bytes_in (B)"
BYTES_OUT: Final = "bytes_out (B)"
DURATION: Final = "duration (s)"
RECORDS_PER_SECOND: Final = "throughput (records/s)"
MB_PER_SECOND: Final = "throughput (MB/s)"
REUSED: Final = "reused"
QUARANTINE_TABLE: Final = "quarantine_by_reason"
QUARANTINE_FILE: Final = "quarantine_file"  # as the stage wrote it, in the work dir
PUBLISHED_QUARANTINE: Final = "quarantine_published"  # the folder published with the shards
# The manifest's: why the report of the package it published was not written.
REPORT_NOT_WRITTEN: Final = "report_not_written"


def percent(rate: float) -> dg.MetadataValue:
    """A rate in [0, 1] shown as a percentage (2.5, under a label ending in `(%)`)."""
    return dg.MetadataValue.float(round(rate * 100.0, 4))


def rate_label(name: str) -> str:
    return f"{name} (%)"


def stage_metadata(report: StageReport) -> dict[str, Any]:
    """The counters every stage reports, named alike on every stage. A reused stage shows the
    counts it reused and the time the reuse took, but no throughput (it read nothing)."""
    meta: dict[str, Any] = {
        ROW_COUNT: dg.MetadataValue.int(report.records_out),
        RECORDS_IN: dg.MetadataValue.int(report.records_in),
        RECORDS_OUT: dg.MetadataValue.int(report.records_out),
        RECORDS_QUARANTINED: dg.MetadataValue.int(report.quarantined),
        BYTES_IN: dg.MetadataValue.int(report.bytes_in),
        BYTES_OUT: dg.MetadataValue.int(report.bytes_out),
        DURATION: dg.MetadataValue.float(round(report.seconds, 3)),
        REUSED: dg.MetadataValue.bool(report.reused),
    }
    if not report.reused:
        meta[RECORDS_PER_SECOND] = dg.MetadataValue.float(round(report.records_per_second, 1))
        meta[MB_PER_SECOND] = dg.MetadataValue.float(round(report.mb_per_second, 2))
    q = report.quarantine
    if "by_reason" in q:
        meta[QUARANTINE_TABLE] = dg.MetadataValue.md(quarantine_table(q))
        meta[QUARANTINE_FILE] = dg.MetadataValue.path(q["path"])
    return meta


def rate_metadata(count_label: str, evaluation: RateEvaluation) -> dict[str, Any]:
    """A rate check's numbers as a stage shows them, one rule for every stage: `count_label`
    counts the partition's quarantined inputs whose reason counts toward the rate by the
    reason table (reject_reasons.py), whichever stage quarantined them, and the rate is theirs
    over every input of the partition (RateEvaluation.all_inputs); a source judged on its own
    threshold is also shown on its own (`<rate>: own thresholds`)."""
    shown = evaluation.all_inputs
    meta: dict[str, Any] = {
        count_label: dg.MetadataValue.int(shown.failed),
        rate_label(evaluation.check): percent(shown.rate),
    }
    if own := evaluation.own_thresholds:
        meta[f"{evaluation.check}: own thresholds"] = dg.MetadataValue.json(
            {
                c.scope: {
                    "failed": c.failed,
                    "total": c.total,
                    "rate (%)": round(c.rate * 100.0, 4),
                    "threshold (%)": round(c.threshold * 100.0, 4),
                }
                for c in own
            }
        )
    return meta
