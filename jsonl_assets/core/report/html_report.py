"""report.html: one self-contained page (inline SVG charts, inline CSS, no script that runs,
nothing fetched) with the report's data embedded as JSON for machines. Text that is not ours
(the dataset's name and description, source and file names, licences, trace details) is
shown by the rule DATACARD.md uses (markdown_text.visible_value, `visible` for prose): every
character that shows nothing of itself, and every space that would not show as one, is an
escape (`\\u200b`, `\\u202e`, `\\u0020`), so no value looks like another or reorders
the text beside it."""

from __future__ import annotations

import re
from html import escape
from typing import Any, Final

from jsonl_assets.core.report.licences import licences_by_source
from jsonl_assets.core.report.markdown_text import unfenced_value, visible, visible_value
from jsonl_assets.core.report.report_data import embed_data, mean, mixture_rows

CSS: Final = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px auto;max-width:1000px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:2em}
table{border-collapse:collapse;margin:8px 0;font-size:0.85em}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}td.n{text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}
.chart svg{width:100%;height:auto}code{background:#f6f6f6;padding:0 3px}
dl.defs dt{font-weight:bold}dl.defs dd{margin:0 0 6px 16px}
"""


_RATES_NOTE: Final = (
    "<p>As the build's blocking rate checks count them: the share of the inputs read that "
    "were quarantined for the rate's reasons; for parse failures, the larger of that and the "
    "share of the source files left unread.</p>"
)


def table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(_td(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(value: Any) -> str:
    number = isinstance(value, int | float) or (isinstance(value, str) and value.endswith("%"))
    attribute = ' class="n"' if number else ""
    return f"<td{attribute}>{escape(visible_value(_cell(value)))}</td>"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _quoted(value: str) -> str:
    """A licence in a list of them: quoted, as a value shows without a fence
    (markdown_text.unfenced_value: its `"` escaped, the empty string `""`)."""
    return f'"{unfenced_value(value)}"' if value else unfenced_value(value)


def percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def _chart(svgs: dict[str, str | None], name: str) -> str:
    svg = svgs.get(name)
    return f'<div class="chart" data-chart="{name}">{svg}</div>' if svg else ""


CHART: Final = re.compile(r'<div class="chart" data-chart="([a-z_]+)">(<svg.*?</svg>)</div>', re.S)


def charts_of(html: bytes) -> dict[str, str | None]:
    """The charts a report.html holds, by name (as `charts.draw_all` made them)."""
    return {name: svg for name, svg in CHART.findall(html.decode())}


def _section(anchor: str, title: str, *parts: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>{"".join(parts)}</section>'


def length_rows(data: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for c in data["cells"]:
        for kind, units in c["lengths"].items():
            ch, wo = units["chars"], units["words"]
            if ch["count"]:
                rows.append(
                    [f"{c['objective']}/{c['split']}", kind, ch["count"], ch["min"], mean(ch),
                     ch["max"], wo["min"], mean(wo), wo["max"]]
                )  # fmt: skip
    return rows


def mixture_table_rows(cells: list[dict[str, Any]]) -> list[list[Any]]:
    """Every source's records and characters and its share of them: in the whole package,
    in each split over all objectives (`train (all)`), then in each objective x split, as the
    mixture chart's bars are grouped (report_data.mixture_rows); every source by name, where
    the chart shows the smaller ones past its ninth as one `other` bar."""
    rows = []
    for label, sums in mixture_rows(cells):
        records = max(sum(v["records"] for v in sums.values()), 1)
        chars = max(sum(v["chars"] for v in sums.values()), 1)
        rows += [
            [label, source, v["records"], percent(v["records"] / records), v["chars"],
             percent(v["chars"] / chars)]
            for source, v in sorted(sums.items())
        ]  # fmt: skip
    return rows


def render_html(data: dict[str, Any], svgs: dict[str, str | None] | None = None) -> bytes:
    """The page; `svgs`: the charts already drawn by `charts.draw_all(data)`."""
    if svgs is None:
        from jsonl_assets.core.report import charts  # matplotlib: imported when drawing

        svgs = charts.draw_all(data)
    cells, totals = data["cells"], data["totals"]
    dataset = data["dataset"]
    name = escape(visible(str(dataset.get("name", "package"))))
    objectives = dict.fromkeys(c["objective"] for c in cells)
    records = table(
        ["objective/split", "records", "shards", "tool-call share", "sources"],
        [
            [f"{c['objective']}/{c['split']}", c["records"], c["shards"],
             percent(c["tool_call_records"] / c["records"]) if c["records"] else "-",
             ", ".join(map(visible_value, c["sources"]))]
            for c in cells
        ],
    )  # fmt: skip
    mixture = table(
        ["group (objective/split)", "source", "records", "% records", "characters",
         "% characters"],
        mixture_table_rows(cells),
    )  # fmt: skip
    configured = {s["name"]: s.get("license") for s in data.get("sources", [])}
    licences = table(
        ["source", "configured licence", "licences written (records)"],
        [
            [source, configured.get(source) or "not stated", counts.describe(_quoted)]
            for source, counts in sorted(licences_by_source(cells).items())
        ],
    )
    rates = table(
        ["partition", "read", "written", "quarantined", "parse failures", "files unread",
         "parse-failure rate", "duplicates", "duplicate rate"],
        [
            [r["partition"], r["read"], r["written"], r["quarantined"], r["parse_failures"],
             f"{r['unread_files']:,} of {r['files']:,}", percent(r["parse_failure_rate"]),
             r["duplicates"], percent(r["duplicate_rate"])]
            for r in data["accounting"]
        ],
    )  # fmt: skip
    quarantine = data["quarantine"]
    examples = table(
        ["reason", "partition", "stage", "file", "line", "detail"],
        [
            [reason, e["partition"], e["stage"], (e["trace"] or {}).get("file"),
             _position(e["trace"]), e["detail"]]
            for reason, items in quarantine["examples"].items()
            for e in items
        ],
    )  # fmt: skip
    definitions = "".join(
        f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in data["definitions"].items()
    )
    body = "".join(
        [
            f"<h1>Data report: {name}</h1>",
            f"<p>{escape(visible(str(dataset.get('description', ''))))}</p>",
            f"<p>{totals['records']:,} records in {totals['shards']:,} shards; "
            f"{totals['read']:,} read, {totals['quarantined']:,} quarantined "
            f"(parse-failure rate {percent(totals['parse_failure_rate'])}, "
            f"duplicate rate {percent(totals['duplicate_rate'])}).</p>",
            _section("records", "Records per objective and split",
                     _chart(svgs, "records"), records),
            _section("lengths", "Length histograms",
                     table(["objective/split", "text", "values", "min chars", "mean chars",
                            "max chars", "min words", "mean words", "max words"],
                           length_rows(data)),
                     *(_chart(svgs, f"lengths_{o}") for o in objectives)),
            _section("conversations", "Conversations",
                     *(_chart(svgs, k) for k in ("turns", "tool_calls", "candidates",
                                                 "grading_types"))),
            _section("mixture", "Realised source mixture",
                     _chart(svgs, "mixture"), mixture,
                     "<h3>Licences of the published records (<code>metadata.license</code>)</h3>",
                     licences),
            _section("quarantine", "Quarantine reasons",
                     _chart(svgs, "quarantine"),
                     *(("<h3>Example traces</h3>", examples) if quarantine["by_reason"]
                       else ("<p>Nothing was quarantined.</p>",))),
            _section("rates", "Parse-failure and duplicate rates", _RATES_NOTE, rates),
            _section("definitions", "Definitions", f'<dl class="defs">{definitions}</dl>'),
        ]
    )  # fmt: skip
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Data report: {name}</title><style>{CSS}</style></head><body>{body}"
        f"{embed_data(data)}</body></html>\n"
    )
    return page.encode()


def _position(trace: dict[str, Any] | None) -> Any:
    if not trace:
        return None
    for key in ("line", "row", "item", "offset"):
        if key in trace:
            return f"{key} {trace[key]}"
    return None
