"""Markdown tables the Dagster UI shows for partitions and the package. Every cell goes
through core/report/markdown_text.py (the one escaping of text that is not ours): a file name,
reason or trace adds no HTML, link, image, heading or row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from jsonl_assets.core.report.markdown_text import Md, md_table
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.traces import format_trace

# Rows a table shows at most: metadata of thousands of files (long names) would otherwise
# reach Dagster's event and gRPC limits; the counts and totals are numeric metadata beside it.
MAX_TABLE_ROWS: Final = 100


def table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], max_rows: int = MAX_TABLE_ROWS
) -> str:
    """A Markdown table (`md_table`: every cell escaped) of the first `max_rows` rows, in the
    order given, then a line `_and K more (N rows in all)_` when there are more."""
    more = len(rows) - max_rows
    shown = md_table(headers, rows[:max_rows])
    return Md(shown + (f"\n\n_and {more:,} more ({len(rows):,} rows in all)_" if more > 0 else ""))


def shards_table(shards: Sequence[Mapping[str, Any]]) -> str:
    if not shards:
        return "_no shards: this partition has no records_"
    return table(
        ["path", "records", "bytes", "sha256"],
        [[s["path"], s["record_count"], s["bytes"], s["sha256"][:12]] for s in shards],
    )


def quarantine_table(summary: Mapping[str, Any]) -> str:
    by_reason = summary.get("by_reason") or {}
    if not by_reason:
        return "_nothing quarantined_"
    examples = summary.get("examples") or {}
    return table(
        ["reason", "records", "first traces"],
        [
            [reason, count, "; ".join(format_trace(t) for t in examples.get(reason, [])[:3])]
            for reason, count in by_reason.items()
        ],
    )


def accounting_table(per_source: Mapping[str, Mapping[str, Any]]) -> str:
    rows = [
        [
            name,
            c["read"],
            c["written"],
            c["quarantined"],
            f"{c['unread_files']} of {c['files']}" if c.get("unread_files") else 0,
            ", ".join(f"{r} {n}" for r, n in (c.get("quarantined_by_reason") or {}).items()),
        ]
        for name, c in per_source.items()
    ]
    header = ["source", "read", "written", "quarantined", "unread files", "by reason"]
    return table(header, rows)


def content_table(content: Mapping[str, Mapping[str, Any]]) -> str:
    """Per shard family: the accepted records' count, bytes and sha256 (shortened)."""
    if not content:
        return "_no records_"
    return table(
        ["family", "records", "bytes", "sha256"],
        [
            [family, c.get("records", 0), c.get("bytes", 0), (c.get("sha256") or "-")[:12]]
            for family, c in content.items()
        ],
    )


@dataclass(frozen=True)
class Cell:
    """One objective × split of the package: what was written, what was quarantined (None:
    not known, for a partition left out whose record stages are out of date), and how its
    checks ended (`checks passed`, `WARNING empty_partition`, or why it was left out)."""

    records: int
    quarantined: int | None
    shards: int
    outcome: str

    def text(self) -> str:
        quarantined = "" if self.quarantined is None else f"{self.quarantined} quarantined, "
        return f"{self.records} written, {quarantined}{self.shards} shards: {self.outcome}"


def package_summary_table(cells: Mapping[tuple[str, str], Cell]) -> str:
    """Split × objective grid of `records / quarantined / shards, outcome`; a dash where
    nothing was built."""
    rows = []
    for split in SPLITS:
        row: list[Any] = [split]
        for objective in OBJECTIVES:
            c = cells.get((objective, split))
            row.append(c.text() if c else "-")
        rows.append(row)
    return table(["split", *OBJECTIVES], rows)
