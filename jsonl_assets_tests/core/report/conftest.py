"""A tiny package for the report's tests: slices of the sample's sources plus records made
here (three candidates, other grading types, a source without a licence), built once through
the core's build path; and its report data."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from jsonl_assets.core.config import load_config
from jsonl_assets.core.report.report_data import compute_report
from jsonl_assets_tests.conftest import SAMPLE_DATA, build_with_core, write_config

RAW = SAMPLE_DATA / "raw"


def _lines(path: Path, count: int) -> list[bytes]:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return data.splitlines()[:count]


def _rft(i: int, reference: dict | None) -> bytes:
    text = f"Name the colour of healthy basil leaves, variant {i}."
    record = {"id": f"extra-{i}", "messages": [{"role": "user", "content": text}]}
    if reference is not None:
        record["reference"] = reference
    return orjson.dumps(record)


def tiny_config(root: Path) -> Path:
    raw = root / "raw"
    raw.mkdir(parents=True)
    chats = _lines(RAW / "sft" / "support_chats.jsonl", 40)
    chats += [chats[4], b'{"messages": [{"role": "user", "content": "cut off']
    (raw / "chats.jsonl").write_bytes(b"\n".join(chats) + b"\n")
    tips = _lines(RAW / "preference" / "ranked_tips.jsonl.gz", 20)
    three = orjson.loads(tips[0])
    three["candidates"].append({**three["candidates"][1], "candidate_id": "c"})
    three["messages"][0]["content"] += " (three)"
    (raw / "tips.jsonl").write_bytes(b"\n".join([*tips, orjson.dumps(three)]) + b"\n")
    problems = _lines(RAW / "rft" / "seedlings_test.jsonl", 15)
    problems += [
        _rft(1, {"grading": {"type": "exact_match"}, "answer": "green"}),
        _rft(2, {"grading": {"type": "exact_match"}, "answer": "green"}),
        _rft(3, {"grading": {"type": "rubric"}, "rubric": {"must_have": ["green"]}}),
        _rft(4, None),  # no reference: quarantined (schema:F7)
    ]
    (raw / "problems.jsonl").write_bytes(b"\n".join(problems) + b"\n")
    notes = _lines(RAW / "cpt" / "garden_notes.jsonl", 25)
    (raw / "notes.jsonl").write_bytes(b"\n".join(notes) + b"\n")
    source = {"split": "auto"}
    return write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": "tiny", "description": "A tiny package for the report tests",
                        "license": "CC0-1.0"},
            "output": {"dir": "package", "max_records_per_shard": 10},
            "splits": {"validation": 0.2, "test": 0.2},
            "thresholds": {"max_parse_failure_rate": 0.5, "max_duplicate_id_rate": 0.5,
                           "max_invalid_rate": 0.5},
            "sources": [
                {"name": "chats", "paths": ["raw/chats.jsonl"], "objective": "sft",
                 "adapter": "chat", **source, "license": "CC-BY-4.0"},
                {"name": "tips", "paths": ["raw/tips.jsonl"], "objective": "preference",
                 "adapter": "native", **source},
                {"name": "problems", "paths": ["raw/problems.jsonl"], "objective": "rft",
                 "adapter": "native", "split": "train", "id_field": "id", "license": "MIT"},
                {"name": "notes", "paths": ["raw/notes.jsonl"], "objective": "cpt",
                 "adapter": "native", **source, "license": "CC0-1.0"},
            ],
        },
    )  # fmt: skip


@pytest.fixture(scope="package")
def tiny_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The config path of a built tiny package (the build's report is off: drawing it costs
    seconds; test_package_report.py has the build write it)."""
    config = tiny_config(tmp_path_factory.mktemp("tiny") / "data")
    build_with_core(config)
    return config


@pytest.fixture(scope="package")
def tiny_data(tiny_package: Path) -> dict[str, Any]:
    """The report's data of the tiny package, through JSON (as report.html embeds it)."""
    cfg = load_config(tiny_package)
    return orjson.loads(orjson.dumps(compute_report(cfg.output.dir, cfg.output.quarantine_dir)))


def chat_config(root: Path, records: int) -> Path:
    """The config of a one-source sft package of `records` chats under `root` (not built)."""
    (root / "raw").mkdir(exist_ok=True)
    lines = [
        orjson.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                   {"role": "assistant", "content": f"a{i}"}]})
        for i in range(records)
    ]  # fmt: skip
    (root / "raw" / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": "stale", "description": "stale card"},
            "output": {"dir": "package"},
            "sources": [{"name": "a", "paths": ["raw/a.jsonl"], "objective": "sft",
                         "adapter": "chat", "split": "train"}],
        },
    )  # fmt: skip
