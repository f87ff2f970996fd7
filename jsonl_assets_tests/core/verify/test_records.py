"""verify's record check (records.py) and `defaults.system` (package.py): what a walk only
counted is counted in the report, so the totals are those of every finding while the walk
holds a bounded number."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonl_assets.core.verify.package import verify_package


def _package(path: Path, record: dict[str, Any], **defaults: Any) -> None:
    (path / "data").mkdir()
    (path / "data" / "a.jsonl").write_text(json.dumps(record) + "\n")
    meta = {
        "schema_version": "llm-training-data/v1",
        "dataset": {"name": "t"},
        "defaults": {"toolset_id": "ts", **defaults},
        "toolsets": [{"id": "ts", "tools": [{"name": "f"}]}],
        "files": [
            {"split": "train", "objective": "preference", "shards": [{"path": "data/a.jsonl"}]}
        ],
    }
    (path / "metadata.json").write_text(json.dumps(meta))


def test_counted_problems_reach_the_report(tmp_path: Path) -> None:
    m, k = 100, 100  # context calls, empty candidates
    calls = [
        {"type": "tool_call", "name": "f", "call_id": f"c{i}", "arguments": {}} for i in range(m)
    ]
    candidates: list[dict[str, Any]] = [
        {
            "label": "chosen",
            "messages": [{"role": "assistant", "content": [{"type": "text", "text": "a"}]}],
        }
    ]
    candidates += [{"label": "rejected", "messages": []} for _ in range(k)]
    record = {
        "id": "p",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "q"}]},
            {"role": "assistant", "content": calls},
        ],
        "candidates": candidates,
    }
    _package(tmp_path, record)
    report = verify_package(tmp_path)
    assert report.error_count == k  # D4: each empty candidate
    assert report.warning_count == m * (k + 1)  # E7: every context call, in every branch
    assert {f.rule for f in report.findings} == {"D4", "E7"}
    assert len(report.findings) == 40  # 20 per (rule, file), as before
    assert report.omitted == {
        ("D4", "data/a.jsonl"): k - 20,
        ("E7", "data/a.jsonl"): m * (k + 1) - 20,
    }


def test_counted_problems_of_defaults_system_reach_the_report(tmp_path: Path) -> None:
    context = [{"role": "user", "content": [{"type": "text", "text": "q"}]}]
    answer = [{"role": "assistant", "content": [{"type": "text", "text": "a"}]}]
    record = {
        "id": "p",
        "messages": context,
        "candidates": [
            {"label": "chosen", "messages": answer},
            {"label": "rejected", "messages": answer},
        ],
    }
    _package(tmp_path, record, system=[{"type": "text"}] * 30)  # D15 x 30
    report = verify_package(tmp_path)
    assert report.error_count == 30
    assert [f.rule for f in report.findings] == ["A13"] * 20
    assert report.omitted == {("A13", "metadata.json"): 10}
