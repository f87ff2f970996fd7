"""The data report and data card of a published package: statistics streamed from its
shards (statistics.py, accounting.py), charts (charts.py), report.html, DATACARD.md."""

from jsonl_assets.core.report.package_report import (
    DATACARD,
    REPORT_HTML,
    ReportResult,
    report_dir,
    write_report,
)

__all__ = ["DATACARD", "REPORT_HTML", "ReportResult", "report_dir", "write_report"]
