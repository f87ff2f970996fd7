"""The manifest's report metadata shows the package-wide rates as every other rate is shown:
in percent, rounded (stage_metadata.percent), under `<name> (%)`. Before, 0.001049 read
`parse_failure_rate_pct 0.10490000000000001`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonl_assets.core.report import ReportResult
from jsonl_assets.defs.report_metadata import report_metadata

EMPTY: dict[str, Any] = {"cells": [], "quarantine": {"by_reason": {}, "examples": {}}}


def test_the_package_rates_are_rounded_percentages_named_as_the_readme_says(
    tmp_path: Path,
) -> None:
    totals = {"parse_failure_rate": 0.001049, "duplicate_rate": 0.001049}
    data = {**EMPTY, "accounting": [], "totals": totals}
    report = ReportResult(tmp_path / "report.html", tmp_path / "DATACARD.md", data, {})
    meta = report_metadata(report)
    rates = {k: v.value for k, v in meta.items() if "rate" in k and not k.startswith("report_")}
    assert rates == {"parse_failure_rate (%)": 0.1049, "duplicate_rate (%)": 0.1049}
