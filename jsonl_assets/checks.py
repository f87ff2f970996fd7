"""The five blocking asset checks: names, specs and how each is decided from a stage report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import dagster as dg

from jsonl_assets.ui_metadata import format_trace, table

PARSE_FAILURE_RATE: Final = "parse_failure_rate"
DUPLICATE_ID_RATE: Final = "duplicate_id_rate"
INVALID_RATE: Final = "invalid_rate"
SHARDS_VERIFIED: Final = "shards_verified"
PACKAGE_VALID: Final = "package_valid"

CHECK_DESCRIPTIONS: Final = {
    PARSE_FAILURE_RATE: "Share of this partition's raw inputs that could not be read or parsed, against thresholds.max_parse_failure_rate.",
    DUPLICATE_ID_RATE: "Share of records dropped as duplicate ids, against thresholds.max_duplicate_id_rate.",
    INVALID_RATE: "Share of records that break a rule of the spec for the objective, against thresholds.max_invalid_rate.",
    SHARDS_VERIFIED: "Every shard re-read from disk: size and sha256 match, it decompresses to its end, its line count is its record_count, and its lines are byte for byte the records the validated stage accepted (each parsed and judged against the spec there), in order.",
    PACKAGE_VALID: "The package passes the verifier (spec checklist A-G) and no id appears in two splits. metadata.json is only published when this passes.",
}


def spec(name: str, asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, blocking=True, description=CHECK_DESCRIPTIONS[name])


def _examples_md(examples: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(f"- {format_trace(t)}" for t in examples) or "_none_"


def within_threshold(failed: int, total: int, threshold: float) -> bool:
    """The rule of every rate check: failed / total (0 when there is nothing) <= threshold."""
    return (failed / total if total else 0.0) <= threshold


def rate_check(
    name: str,
    failed: int,
    total: int,
    threshold: float,
    what: str,
    examples: Sequence[Mapping[str, Any]] = (),
    asset: dg.AssetKey | None = None,
) -> dg.AssetCheckResult:
    rate = failed / total if total else 0.0
    passed = within_threshold(failed, total, threshold)
    verdict = "within" if passed else "ABOVE"
    return dg.AssetCheckResult(
        check_name=name,
        asset_key=asset,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{failed} of {total} records {what} ({rate:.3%}), {verdict} the threshold of {threshold:.3%}",
        metadata={
            "failed": failed,
            "total": total,
            "rate": dg.MetadataValue.float(rate),
            "threshold": dg.MetadataValue.float(threshold),
            "example_traces": dg.MetadataValue.md(_examples_md(examples)),
        },
    )


def examples_for(
    quarantine: Mapping[str, Any], reasons: Sequence[str] | None = None, prefix: str = ""
) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for reason, traces in (quarantine.get("examples") or {}).items():
        if (reasons is None or reason in reasons) and reason.startswith(prefix):
            out.extend(traces)
    return out[:5]


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
    parts = [f"{errors} errors, {warnings} warnings, {leaked_ids} ids in two splits"]
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
