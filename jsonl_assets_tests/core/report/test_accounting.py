"""Quarantine reasons, example traces and the parse-failure and duplicate rates in the report
equal what the quarantine files and the published shards hold."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from jsonl_assets.core.config import load_config
from jsonl_assets_tests.conftest import published_quarantine
from jsonl_assets_tests.core.report.independent import (
    published_records,
    quarantined,
)


def test_rejections_match_the_quarantine_files(
    tiny_package: Path, tiny_data: dict[str, Any]
) -> None:
    cfg = load_config(tiny_package)
    data = tiny_data
    reasons = quarantined(cfg.output.dir, cfg.output.quarantine_dir)
    written = {f"{o}|{s}": len(r) for (o, s), r in published_records(cfg.output.dir).items()}
    everything = sum(reasons.values(), Counter())
    assert everything == Counter({"parse_error": 1, "duplicate_id": 1, "schema:F7": 1})
    assert data["quarantine"]["by_reason"] == dict(everything)
    rows = {r["partition"]: r for r in data["accounting"]}
    for key, row in rows.items():
        mine = reasons.get(key, Counter())
        read = written.get(key, 0) + sum(mine.values())
        assert (row["read"], row["written"]) == (read, written.get(key, 0)), key
        assert row["parse_failures"] == mine["parse_error"], key
        assert row["duplicates"] == mine["duplicate_id"], key
        assert row["parse_failure_rate"] == round(mine["parse_error"] / read, 6), key
        assert row["duplicate_rate"] == round(mine["duplicate_id"] / read, 6), key
    assert data["totals"]["parse_failures"] == 1 and data["totals"]["duplicates"] == 1
    # Every example is a line of a quarantine file, with the trace it was written with.
    lines = [
        orjson.loads(line)
        for path in published_quarantine(cfg.output.dir, cfg.output.quarantine_dir).values()
        for line in path.read_bytes().splitlines()
    ]
    examples = data["quarantine"]["examples"]
    assert set(examples) == set(everything)
    for reason, items in examples.items():
        for item in items:
            assert any(q["reason"] == reason and q["trace"] == item["trace"] for q in lines)
    assert examples["parse_error"][0]["trace"]["line"] == 42  # the truncated last line
