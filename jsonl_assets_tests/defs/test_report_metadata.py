"""The manifest's report metadata shows the package-wide rates as every other rate is shown:
in percent, rounded (stage_metadata.percent), under `<name> (%)`. Before, 0.001049 read
`parse_failure_rate_pct 0.10490000000000001`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonl_assets.core.named_list import some_names
from jsonl_assets.core.report import ReportResult
from jsonl_assets.core.report.charts import mixture_chart
from jsonl_assets.core.report.markdown_text import md_table
from jsonl_assets.defs.report_metadata import (
    SOURCES_SHOWN,
    _counts,
    _images,
    _mixture_rows,
    _where,
    report_metadata,
)

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


def test_the_report_metadata_is_bounded_whatever_the_number_of_sources(tmp_path: Path) -> None:
    """600 sources made `report_mixture` a 1.25 MB value (a chart and a table row for each
    source): its chart, its table and the records table's source list are now bounded."""

    def size(n: int) -> int:
        sources = {f"source_{i:04d}": {"records": 1 + i % 7, "chars": 50} for i in range(n)}
        cell = {"objective": "sft", "split": "train", "sources": sources}
        report = ReportResult(tmp_path / "r.html", tmp_path / "D.md", EMPTY,
                              {"mixture": mixture_chart([cell])})  # fmt: skip
        rows = md_table(["a", "b", "c", "d"], _mixture_rows(cell))
        return len(
            rows
            + _images(report, "report_mixture")
            + some_names(list(sources), "sources", SOURCES_SHOWN)
        )

    assert size(600) < 1.2 * size(SOURCES_SHOWN)


def test_values_from_the_data_are_quoted_so_none_reads_as_two() -> None:
    """A grading type `b: 2, c` read as two types and the empty one showed as nothing; a file
    named `x.jsonl:9; y.jsonl` could forge the examples' traces."""
    grading = {"": 1, "b: 2, c": 1, 'say "hi"': 1}
    assert _counts(grading, quoted=True) == '"": 1, "b: 2, c": 1, "say \\u0022hi\\u0022": 1'
    assert _counts({"1": 3, "2": 1}) == "1: 3, 2: 1"  # counts the report made, not values
    assert _where({"trace": {"file": "x.jsonl:9; y.jsonl", "line": 4}}) == '"x.jsonl:9; y.jsonl":4'
