"""What `jsonl-assets build` prints about its partitions: the per-source accounting, the
partitions whose sources held no records, and one clear block per failed check.

Plain Python: `collect` reads a finished Dagster run result by duck typing (its check events)
and the shards stage's persisted result, the rest formats what it collected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from jsonl_assets.core.named_list import some_names
from jsonl_assets.core.report.markdown_text import visible
from jsonl_assets.core.rules.rate_checks import count_text
from jsonl_assets.core.traces import format_trace

# Metadata key written by the Dagster layer (checks.RATE_REPORT).
RATE_REPORT = "rate_report"
TOP_REASONS = 3


def _value(metadata: Mapping[str, Any], key: str) -> Any:
    entry = metadata.get(key)
    return getattr(entry, "value", entry)


def collect(result: Any | None, shards: Mapping[str, Any] | None) -> dict[str, Any]:
    """From a `build_partition` run result (None: no run, the partition was up to date) and
    the details its shards step persisted (None when it did not run): the accounting per
    source, the source files, and each failed rate check's structured report."""
    out: dict[str, Any] = {"failed_rate_checks": []}
    if shards:
        out["per_source"] = shards["accounting"].get("per_source", {})
        out["source_files"] = [[f["source"], f["file"]] for f in shards["files"]]
    for evaluation in result.get_asset_check_evaluations() if result is not None else ():
        report = _value(evaluation.metadata, RATE_REPORT)
        if not evaluation.passed and report:
            out["failed_rate_checks"].append(
                {**report, "asset": evaluation.asset_key.to_user_string()}
            )
    return out


def _table(rows: Sequence[Sequence[str]], out: TextIO, numeric_from: int = 2) -> None:
    rows = [[visible(c) for c in row] for row in rows]  # a source name holds no line break
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        cells = [
            c.rjust(w) if numeric_from <= i < len(row) - 1 else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def print_sources(results: Sequence[Mapping[str, Any]], out: TextIO) -> None:
    """Per partition and source: read = written + quarantined, the unread files (of the
    source's files, when a rejection left bytes of a file unread), the quarantined by reason;
    then a line for each built partition whose sources held no records."""
    rows = [
        ["partition", "source", "read", "written", "quarantined", "unread files", "quarantined by reason"]
    ]  # fmt: skip
    for r in results:
        for name, c in (r.get("per_source") or {}).items():
            reasons = c.get("quarantined_by_reason") or {}
            unread = f"{c['unread_files']} of {c['files']}" if c.get("unread_files") else "0"
            rows.append(
                [
                    r["key"],
                    name,
                    str(c["read"]),
                    str(c["written"]),
                    str(c["quarantined"]),
                    unread,
                    ", ".join(f"{reason} {n}" for reason, n in reasons.items()) or "-",
                ]
            )
    if len(rows) > 1:
        print("\nper source (read = written + quarantined):", file=out)
        _table(rows, out)
    for r in results:
        if line := empty_partition_line(r):
            print(line, file=out)


def empty_partition_line(r: Mapping[str, Any]) -> str | None:
    """`<partition>: no records in <sources> (<files>)` for a partition that read nothing."""
    per_source = r.get("per_source")
    if per_source is None or any(c["read"] for c in per_source.values()):
        return None
    files = r.get("source_files") or []
    if not files:
        return None
    sources = sorted({source for source, _ in files})
    named = some_names([f for _, f in files])  # bounded: a source may match 10^5 files
    said = f"{r['key']}: no records in {some_names(sources, 'sources')} ({named})"
    return visible(said)  # file and source names escaped: one line, shown as they are


def failure_block(check: Mapping[str, Any]) -> str:
    """One failed rate check: the check and partition; each scope above its threshold with
    its numbers, its top reasons with one example trace each; the quarantine file(s)."""
    lines = [f"FAILED {check['check']} on {check['partition']} ({check['asset']})"]
    scopes = [check["overall"], *check["sources"]]
    for scope in scopes:
        if scope["rate"] <= scope["threshold"]:
            continue
        what = "all sources" if scope["scope"] == "partition" else f"source {scope['scope']}"
        if scope["scope"] == "partition" and len(check["sources"]) == 1:
            continue  # the one source's line below says the same
        lines.append(
            f"  {what}: {count_text(scope)}; {scope['rate']:.3%} is above the threshold of "
            f"{scope['threshold']:.3%}"
        )
        reasons = list(scope["reasons"].items())
        for reason, n in reasons[:TOP_REASONS]:
            example = scope["examples"].get(reason)
            where = f"  e.g. {format_trace(example)}" if example else ""
            lines.append(f"    {reason}: {n}{where}")
        if len(reasons) > TOP_REASONS:
            lines.append(f"    ... {len(reasons) - TOP_REASONS} more reasons")
    if not check["exact"]:
        lines.append("  (split: auto records not yet routed: counted on every input read)")
    for path in check["quarantine_files"]:
        lines.append(f"  quarantine: {shown_path(path)}")
    # Each line escaped (file names, source names, values in reasons): none can add a line.
    return "\n".join(visible(line) for line in lines)


def shown_path(path: str | Path) -> str:
    """A path relative to the current folder when it lies inside it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def print_failures(results: Sequence[Mapping[str, Any]], out: TextIO) -> None:
    """Every failed partition: a block per failed rate check, else its failed checks and
    stage errors, one line each."""
    for r in results:
        if r["success"]:
            continue
        blocks = r.get("failed_rate_checks") or []
        for check in blocks:
            print(failure_block(check), file=out)
        named = {c["check"] for c in blocks}
        others = [c for c in r["failed_checks"] if c.split(":", 1)[0].split(".")[-1] not in named]
        errors = [] if blocks else r["errors"]
        for line in others or errors or ([] if blocks else ["failed"]):
            print(visible(f"{r['key']}: {line}"), file=out)
