"""The data report as the manifest's materialisation metadata: the report's tables as
markdown, its charts as inline SVG images (`data:` URLs, which the UI's markdown renders),
paths to report.html and DATACARD.md, and the package-wide rates as percentages."""

from __future__ import annotations

import base64
from typing import Any

import dagster as dg

from jsonl_assets.core.named_list import some_names
from jsonl_assets.core.report import ReportResult
from jsonl_assets.core.report.bounded_counts import OTHER_NOTE
from jsonl_assets.core.report.charts import MIXTURE_SOURCES, mixture_sources
from jsonl_assets.core.report.html_report import length_rows, percent
from jsonl_assets.core.report.markdown_text import (
    EMPTY_VALUE,
    md_table,
    unfenced_value,
    visible_value,
)
from jsonl_assets.defs.stage_metadata import percent as rate_percent
from jsonl_assets.defs.stage_metadata import rate_label

# Sources a table cell names or a cell's mixture rows show: the metadata stays bounded
# however many sources the config has.
SOURCES_SHOWN = MIXTURE_SOURCES
IMAGES = {
    "report_records": ("records",),
    "report_lengths": ("lengths_sft", "lengths_preference", "lengths_rft", "lengths_cpt"),
    "report_conversations": ("turns", "tool_calls", "candidates", "grading_types"),
    "report_mixture": ("mixture",),
    "report_quarantine": ("quarantine",),
}


def _image(name: str, svg: str | None) -> str:
    if not svg:
        return ""
    encoded = base64.b64encode(svg.encode()).decode()
    return f"\n\n![{name}](data:image/svg+xml;base64,{encoded})"


def _images(report: ReportResult, key: str) -> str:
    return "".join(_image(n, report.svgs.get(n)) for n in IMAGES[key])


def _cell(c: dict[str, Any]) -> str:
    return f"{c['objective']}/{c['split']}"


def report_tables(data: dict[str, Any]) -> dict[str, str]:
    """The report's tables as markdown, by metadata key."""
    cells, quarantine = data["cells"], data["quarantine"]
    return {
        "report_records": md_table(
            ["objective/split", "records", "shards", "tool-call share", "sources"],
            [
                [_cell(c), c["records"], c["shards"],
                 percent(c["tool_call_records"] / c["records"]) if c["records"] else "-",
                 some_names(list(c["sources"]), "sources", SOURCES_SHOWN)]
                for c in cells
            ],
        ),
        "report_lengths": md_table(
            ["objective/split", "text", "values", "min chars", "mean chars", "max chars",
             "min words", "mean words", "max words"],
            length_rows(data),
        ),
        "report_conversations": md_table(
            ["objective/split", "turns", "candidates", "grading types"],
            [
                [_cell(c), _counts(c["turns"]), _counts(c["candidates"]),
                 _counts(c["grading_types"], c.get("grading_types_other", 0), quoted=True)]
                for c in cells
            ],
        ),
        "report_mixture": md_table(
            ["objective/split", "source", "records", "characters"],
            [row for c in cells for row in _mixture_rows(c)],
        ),
        "report_quarantine": md_table(
            ["reason", "records", "example (file:line)"],
            [
                [reason, n, "; ".join(_where(e) for e in quarantine["examples"].get(reason, []))]
                for reason, n in quarantine["by_reason"].items()
            ],
        ),
        "report_rates": md_table(
            ["partition", "read", "quarantined", "parse-failure rate", "duplicate rate"],
            [
                [r["partition"], r["read"], r["quarantined"], percent(r["parse_failure_rate"]),
                 percent(r["duplicate_rate"])]
                for r in data["accounting"]
            ],
        ),
    }  # fmt: skip


def _mixture_rows(c: dict[str, Any]) -> list[list[Any]]:
    """A cell's rows of the mixture table: its `SOURCES_SHOWN - 1` largest sources and one
    `other` row past `SOURCES_SHOWN` (report.html has every source's row)."""
    shown, rest = mixture_sources([c], SOURCES_SHOWN)
    rows = [[_cell(c), s, c["sources"][s]["records"], c["sources"][s]["chars"]] for s in shown]
    if rest:
        other = [c["sources"][s] for s in rest]
        rows.append([_cell(c), f"other ({len(rest)} sources)",
                     sum(v["records"] for v in other), sum(v["chars"] for v in other)])  # fmt: skip
    return rows


def _counts(counts: dict[str, int], other: int = 0, quoted: bool = False) -> str:
    """`1: 3, 2: 1` (and `other: n`, the records past the values kept). `quoted`: the values
    come from the data, each shown quoted (`"b: 2, c": 1`, `"": 1`) so none reads as two."""
    more = [f"other ({OTHER_NOTE}): {other}"] if other else []
    shown = (f"{_quoted(k) if quoted else visible_value(k)}: {v}" for k, v in counts.items())
    return ", ".join([*shown, *more]) or "-"


def _quoted(value: str) -> str:
    return f'"{unfenced_value(value)}"' if value else EMPTY_VALUE


def _where(example: dict[str, Any]) -> str:
    """`"file":line`: the file quoted, since a name may hold `:` or `; `."""
    trace = example.get("trace") or {}
    position = next((trace[k] for k in ("line", "row", "item", "offset") if k in trace), "?")
    return f"{_quoted(str(trace.get('file', '?')))}:{position}"


def report_metadata(report: ReportResult | None) -> dict[str, Any]:
    """Metadata entries of the manifest's materialisation (none without a report)."""
    if report is None:
        return {}
    totals = report.data["totals"]
    meta: dict[str, Any] = {
        "report_html": dg.MetadataValue.path(str(report.html)),
        "datacard": dg.MetadataValue.path(str(report.datacard)),
        # Named and rounded as every rate the assets show (stage_metadata.percent).
        rate_label("parse_failure_rate"): rate_percent(totals["parse_failure_rate"]),
        rate_label("duplicate_rate"): rate_percent(totals["duplicate_rate"]),
    }
    for key, text in report_tables(report.data).items():
        images = _images(report, key) if key in IMAGES else ""
        meta[key] = dg.MetadataValue.md(text + images)
    return meta
