"""Quarantine reasons, example traces and the parse-failure and duplicate rates in the report
equal what the quarantine files and the published shards hold."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from jsonl_assets.core.config import load_config
from jsonl_assets.core.report.accounting import ACCOUNTING_KEY
from jsonl_assets.core.report.package_report import DATACARD, REPORT_HTML, report_dir
from jsonl_assets_tests.conftest import build_with_core, published_quarantine, write_config
from jsonl_assets_tests.core.report.independent import (
    embedded_data,
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


def test_a_partition_whose_source_is_an_empty_file_is_accounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source that is one empty file feeds its partition with 0 records read: metadata.json
    accounts for that partition (its file charged to it), so report.html's totals count every
    file of `source_files` and both rate tables have its row, as the build's summary does."""
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "1")
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "zero.jsonl").write_bytes(b"")
    doc = {"id": "d1", "messages": [{"role": "document", "content": "a doc"}]}
    (raw / "doc.jsonl").write_bytes(orjson.dumps(doc) + b"\n")
    source = {"adapter": "native", "id_field": "id", "split": "train"}
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "edge", "description": "an empty source", "license": "MIT"},
            "output": {"dir": "package"},
            "sources": [
                {"name": "zero", "paths": ["raw/zero.jsonl"], "objective": "sft", **source},
                {"name": "docs", "paths": ["raw/doc.jsonl"], "objective": "cpt", **source},
            ],
        },
    )
    build_with_core(config)
    cfg = load_config(config)
    manifest = orjson.loads((cfg.output.dir / "metadata.json").read_bytes())
    extension = manifest["extensions"][ACCOUNTING_KEY]
    assert [f["file"] for f in extension["source_files"]] == ["raw/doc.jsonl", "raw/zero.jsonl"]
    assert list(extension["accounting"]) == ["sft|train", "cpt|train"]
    empty = extension["accounting"]["sft|train"]
    assert (empty["read"], empty["written"], empty["files"], empty["unread_files"]) == (0, 0, 1, 0)
    assert empty["sources"]["zero"]["files"] == 1
    assert [(f["objective"], f["split"]) for f in manifest["files"]] == [("cpt", "train")]
    folder = report_dir(cfg)
    data = embedded_data((folder / REPORT_HTML).read_bytes())
    assert data["totals"]["files"] == len(extension["source_files"]) == 2
    assert [r["partition"] for r in data["accounting"]] == ["sft|train", "cpt|train"]
    html = (folder / REPORT_HTML).read_text()
    assert "<td>sft|train</td>" in html
    card = (folder / DATACARD).read_text()
    assert "| sft\\|train | 0/0 = 0.00% (max 5.00%) |" in card
