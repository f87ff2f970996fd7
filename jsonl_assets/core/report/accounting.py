"""Rejections: per partition counts and rates from metadata.json's accounting (the rates as
the build's rate checks count them), and a few
example traces per reason from the snapshot's quarantine files (streamed, a few kept per
reason)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.blank_text import JSON_WHITESPACE_BYTES
from jsonl_assets.core.rules.rate_checks import RateLimits, evaluate_accounting, together
from jsonl_assets.core.rules.reject_reasons import (
    DUPLICATE_ID_RATE,
    PARSE_FAILURE_RATE,
    THRESHOLD_KEYS,
)
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.store.base import store_for

EXAMPLES_PER_REASON: Final = 3
DETAIL_CHARS: Final = 200
ACCOUNTING_KEY: Final = "x-jsonl-assets"


# Judges nothing (every rate passes): the rates of a package whose metadata.json records no
# thresholds (an older build's) are still the build's counts; only the card judges, by the
# config at report time then (datacard.rate_results).
RATES_ONLY: Final = RateLimits(dict.fromkeys(THRESHOLD_KEYS.values(), 1.0))


def partition_accounting(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per partition: read, written, quarantined, by reason, the source files charged
    and the unread ones, and the parse-failure and duplicate counts and rates: the rates of the
    build's rate checks (rate_checks.evaluate_accounting: for parse failures, the larger of the
    record rate and the file rate). `sources` and `thresholds` are metadata.json's (a row is
    an accounting entry evaluate_accounting reads); `thresholds` only when it records them."""
    extension = manifest.get("extensions", {}).get(ACCOUNTING_KEY, {})
    rows = []
    for key, entry in extension.get("accounting", {}).items():
        reasons: Counter[str] = Counter()
        for source in entry.get("sources", {}).values():
            reasons.update(source.get("quarantined_by_reason") or {})
        judged = evaluate_accounting(key, entry, RATES_ONLY)
        parse = judged[PARSE_FAILURE_RATE].all_inputs
        duplicate = judged[DUPLICATE_ID_RATE].all_inputs
        sources = {
            name: {
                "read": source.get("read", 0),
                "written": source.get("written", 0),
                "quarantined": source.get("quarantined", 0),
                "quarantined_by_reason": dict(
                    sorted((source.get("quarantined_by_reason") or {}).items())
                ),
                **{k: source[k] for k in ("files", "unread_files", "thresholds") if k in source},
            }
            for name, source in sorted(entry.get("sources", {}).items())
        }
        rows.append(
            {
                "partition": key,
                "read": entry.get("read", 0),
                "written": entry.get("written", 0),
                "quarantined": entry.get("quarantined", 0),
                "files": parse.files,
                "unread_files": parse.unread_files,
                "by_reason": {r: reasons[r] for r in sorted(reasons)},
                "parse_failures": parse.failed,
                "parse_failure_rate": round(parse.rate, 6),
                "duplicates": duplicate.failed,
                "duplicate_rate": round(duplicate.rate, 6),
                **({"thresholds": entry["thresholds"]} if "thresholds" in entry else {}),
                "sources": sources,
            }
        )
    return rows


def package_rate(rows: list[dict[str, Any]], check: str) -> float:
    """A rate over every partition (the report's totals), counted as the rate checks count
    it: the partitions' inputs and files summed, then the larger of the record and file rate
    (evaluate_accounting, rate_checks.together)."""
    counts = [evaluate_accounting(r["partition"], r, RATES_ONLY, [check])[check] for r in rows]
    return round(together([c.all_inputs for c in counts], 1.0).rate, 6)


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
                    if not line.strip(JSON_WHITESPACE_BYTES):
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
