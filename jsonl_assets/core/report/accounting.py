"""Rejections: per partition counts and rates from metadata.json's accounting, and a few
example traces per reason from the snapshot's quarantine files (streamed, a few kept per
reason)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.rules.reject_reasons import (
    DUPLICATE_ID_RATE,
    PARSE_FAILURE_RATE,
    known_rate,
)
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.store.base import store_for

EXAMPLES_PER_REASON: Final = 3
DETAIL_CHARS: Final = 200
ACCOUNTING_KEY: Final = "x-jsonl-assets"


def rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def partition_accounting(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per partition: read, written, quarantined, by reason, and the parse-failure
    and duplicate counts and rates (shares of the records read)."""
    extension = manifest.get("extensions", {}).get(ACCOUNTING_KEY, {})
    rows = []
    for key, entry in extension.get("accounting", {}).items():
        reasons: Counter[str] = Counter()
        for source in entry.get("sources", {}).values():
            reasons.update(source.get("quarantined_by_reason") or {})
        parse = sum(n for r, n in reasons.items() if known_rate(r) == PARSE_FAILURE_RATE)
        duplicate = sum(n for r, n in reasons.items() if known_rate(r) == DUPLICATE_ID_RATE)
        read = entry.get("read", 0)
        sources = {
            name: {
                "read": source.get("read", 0),
                "written": source.get("written", 0),
                "by_reason": dict(sorted((source.get("quarantined_by_reason") or {}).items())),
                **{k: source[k] for k in ("files", "unread_files") if k in source},
            }
            for name, source in sorted(entry.get("sources", {}).items())
        }
        rows.append(
            {
                "partition": key,
                "read": read,
                "written": entry.get("written", 0),
                "quarantined": entry.get("quarantined", 0),
                "by_reason": {r: reasons[r] for r in sorted(reasons)},
                "parse_failures": parse,
                "parse_failure_rate": rate(parse, read),
                "duplicates": duplicate,
                "duplicate_rate": rate(duplicate, read),
                "sources": sources,
            }
        )
    return rows


def reason_totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Quarantined records per reason over all partitions, most frequent first."""
    totals: Counter[str] = Counter()
    for row in rows:
        totals.update(row["by_reason"])
    return {r: totals[r] for r in sorted(totals, key=lambda r: (-totals[r], r))}


def quarantine_examples(files: dict[str, list[Path]]) -> dict[str, list[Any]]:
    """Up to EXAMPLES_PER_REASON example rejections per reason (partition, stage, trace and
    the start of the detail), in partition and file order, from a snapshot's quarantine
    files (`objective|split` -> its files, quarantine_snapshot.published_quarantine)."""
    examples: dict[str, list[Any]] = {}
    for key in sorted(files, key=_partition_order):
        for path in files[key]:
            stage = path.stem
            with store_for(path).open_read(path) as handle:
                for line in handle:  # one quarantine line at a time
                    if not line.strip():
                        continue
                    item = orjson.loads(line)
                    kept = examples.setdefault(str(item.get("reason")), [])
                    if len(kept) < EXAMPLES_PER_REASON:
                        kept.append(
                            {
                                "partition": key,
                                "stage": stage,
                                "trace": item.get("trace"),
                                "detail": str(item.get("detail", ""))[:DETAIL_CHARS],
                            }
                        )
    return {r: examples[r] for r in sorted(examples)}


def _partition_order(key: str) -> tuple[int, int]:
    objective, _, split = key.partition("|")
    return OBJECTIVES.index(objective), SPLITS.index(split)
