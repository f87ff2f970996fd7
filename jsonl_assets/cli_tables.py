"""The tables `jsonl-assets build` prints: one row per partition, and the warned records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jsonl_assets.console_text import printable


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    headers = [
        "partition",
        "read",
        "written",
        "quarantined",
        "shards",
        "bytes",
        "seconds",
        "status",
    ]
    lines = [headers]
    for r in rows:
        status = "ok" if r["success"] else "FAILED"
        if r["success"] and r.get("reused"):
            status = "ok (up to date, no run)" if r.get("up_to_date") else "ok (reused)"
        lines.append(
            [
                r["key"],
                str(r.get("read", "-")),
                str(r.get("written", "-")),
                str(r.get("quarantined", "-")),
                str(r.get("shards", "-")),
                str(r.get("bytes", "-")),
                f"{r['seconds']:.1f}",
                status,
            ]
        )
    lines = [[printable(cell) for cell in row] for row in lines]
    widths = [max(len(row[i]) for row in lines) for i in range(len(headers))]
    for n, row in enumerate(lines):
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


def print_warned(rows: Sequence[dict[str, Any]]) -> None:
    """Records written in spite of a quality finding or spec warning set to `warn`."""
    for r in rows:
        if r.get("warned"):
            counts = ", ".join(f"{reason} {n}" for reason, n in r["warned"].items())
            print(printable(f"{r['key']}: written with warnings: {counts}"))
