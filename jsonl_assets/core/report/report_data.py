"""The report's data: one JSON-ready document that the HTML, the data card, the Dagster
metadata and the tests all read (it is also embedded in report.html)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.file_names import shown
from jsonl_assets.core.quarantine_snapshot import (
    QuarantineMissing,
    published_quarantine,
    snapshot_path,
)
from jsonl_assets.core.report.accounting import (
    ACCOUNTING_KEY,
    package_rate,
    partition_accounting,
    quarantine_examples,
    reason_totals,
)
from jsonl_assets.core.report.record_measures import DEFINITIONS
from jsonl_assets.core.report.statistics import (
    LENGTH_EDGES,
    MANIFEST,
    MeasuredCells,
    load_manifest,
    package_cells,
)
from jsonl_assets.core.rules.reject_reasons import DUPLICATE_ID_RATE, PARSE_FAILURE_RATE
from jsonl_assets.core.rules.spec_vocabulary import SPLITS
from jsonl_assets.core.store.base import read_bytes

REPORT_SCHEMA: Final = "jsonl-assets-report/1"
DATA_SCRIPT: Final = '<script type="application/json" id="report-data">'


def compute_report(
    package: Path,
    quarantine_dir: Path | None = None,
    workers: int = 1,
    measured: MeasuredCells | None = None,
) -> dict[str, Any]:
    """Statistics of the published package in `package` (the build's, for the cells in
    `measured`; the others streamed from their shards on up to `workers` processes: see
    statistics.package_cells) and of its rejections (counts from metadata.json, examples from
    the quarantine published with it under `quarantine_dir`, when given: `QuarantineMissing`
    when records were quarantined and it is not there, see `_published_quarantine`)."""
    manifest = load_manifest(package)
    rows = partition_accounting(manifest)
    published = _published_quarantine(package, quarantine_dir, rows) if quarantine_dir else None
    cells = [c.to_json() for c in package_cells(package, manifest, workers, measured)]
    extension = manifest.get("extensions", {}).get(ACCOUNTING_KEY, {})
    read = sum(r["read"] for r in rows)
    listed = [r["partition"] for r in rows]  # the partitions the counts are of
    examples = quarantine_examples({k: published[k] for k in listed if k in (published or {})})
    return {
        "schema": REPORT_SCHEMA,
        "dataset": manifest.get("dataset", {}),
        "definitions": DEFINITIONS,
        "length_edges": list(LENGTH_EDGES),
        "totals": {
            "records": sum(c["records"] for c in cells),
            "shards": sum(c["shards"] for c in cells),
            "read": read,
            "quarantined": sum(r["quarantined"] for r in rows),
            "files": sum(r["files"] for r in rows),
            "unread_files": sum(r["unread_files"] for r in rows),
            "parse_failures": sum(r["parse_failures"] for r in rows),
            "parse_failure_rate": package_rate(rows, PARSE_FAILURE_RATE),
            "duplicates": sum(r["duplicates"] for r in rows),
            "duplicate_rate": package_rate(rows, DUPLICATE_ID_RATE),
        },
        "cells": cells,
        "accounting": rows,
        "quarantine": {"by_reason": reason_totals(rows), "examples": examples},
        "sources": extension.get("sources", []),
        "compression": sorted(
            {s.get("compression", "none") for f in manifest.get("files", []) for s in f["shards"]}
        ),
        "default_system": "system" in (manifest.get("defaults") or {}),
        "source_files": extension.get("source_files", []),
    }


def _published_quarantine(
    package: Path, quarantine_dir: Path, rows: list[dict[str, Any]]
) -> dict[str, list[Path]] | None:
    """The quarantine files published with the package. When its accounting counts quarantined
    records, their example traces are part of the report: a quarantine dir without the
    package's snapshot (moved, not copied along, unreachable) fails the report, naming it,
    rather than drawing another report of the same package without them (and stamping it)."""
    published = published_quarantine(package, quarantine_dir)
    quarantined = sum(r["quarantined"] for r in rows)
    if published is None and quarantined:
        pointer = snapshot_path(quarantine_dir, read_bytes(package / MANIFEST))
        raise QuarantineMissing(
            f"the quarantine published with {shown(str(package / MANIFEST))} is not in "
            f"{shown(str(quarantine_dir))} (no {shown(str(pointer))}), and the report's example "
            f"traces of its {quarantined:,} quarantined records are read from it: make "
            f"{shown(str(quarantine_dir))} available (or build the package again to publish its "
            "quarantine anew), then `jsonl-assets report`"
        )
    return published


def bin_labels(edges: list[int]) -> list[str]:
    """`a-b` labels of the length bins (`a+` for the last)."""
    labels = []
    for i, low in enumerate(edges):
        high = edges[i + 1] - 1 if i + 1 < len(edges) else None
        labels.append(
            f"{low:,}+" if high is None else (f"{low:,}" if high == low else f"{low:,}-{high:,}")
        )
    return labels


def mixture_rows(cells: list[dict[str, Any]]) -> list[tuple[str, dict[str, dict[str, int]]]]:
    """(label, per source records and chars): the whole package, each split over all
    objectives, then each objective x split (the mixture chart's bars and report.html's
    mixture table)."""
    groups: list[tuple[str, list[dict[str, Any]]]] = [("package", cells)]
    groups += [(f"{s} (all)", [c for c in cells if c["split"] == s]) for s in SPLITS]
    groups += [(f"{c['objective']}/{c['split']}", [c]) for c in cells]
    rows = []
    for label, members in groups:
        if not members:
            continue
        sums: dict[str, dict[str, int]] = {}
        for c in members:
            for source, v in c["sources"].items():
                mine = sums.setdefault(source, {"records": 0, "chars": 0})
                mine["records"] += v["records"]
                mine["chars"] += v["chars"]
        rows.append((label, sums))
    return rows


def mean(histogram: dict[str, Any]) -> float | None:
    """The mean of a length histogram to the two decimals the tables show (it was rounded
    to one and shown with two: 4/3 read 1.30)."""
    return round(histogram["sum"] / histogram["count"], 2) if histogram["count"] else None


# JSON escapes for the characters HTML gives a meaning to in a script element (`</script`,
# `<!--` and `<script` change how it ends): they occur only inside JSON strings.
_HTML_SAFE: Final = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def embed_data(data: dict[str, Any]) -> str:
    """The data as report.html carries it: JSON without a `<`, `>` or `&` (escaped as
    `\\u003c` ...: no record value can end the script element or keep it open)."""
    payload = orjson.dumps(data).decode().translate(_HTML_SAFE)
    return f"{DATA_SCRIPT}{payload}</script>"


def embedded_data(html: bytes) -> dict[str, Any]:
    """The data a report.html carries (an older report's `<\\/` escapes too)."""
    text = html.decode()
    start = text.index(DATA_SCRIPT) + len(DATA_SCRIPT)
    payload = text[start : text.index("</script>", start)]
    return orjson.loads(payload.replace("<\\/", "</"))  # type: ignore[no-any-return]
