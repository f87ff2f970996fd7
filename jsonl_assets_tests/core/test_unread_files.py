"""A rejection that leaves bytes of its file unread makes it an *unread file*: the parse-failure
rate is the larger of the record rate and the file rate, so a whole file rejected as one input
(a CSV with a repeated column, a JSON file with no array at items_path, a gzip file whose
second member does not decode) cannot hide thousands of lost records behind the other files.
The failure names the files; the accounting counts them, however the partition is chunked."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.build_summary import failure_block
from jsonl_assets.core.config import load_config
from jsonl_assets.core.rules.reject_reasons import PARSE_FAILURE_RATE

from ..conftest import write_config

LOST = 2000
UNREAD = ["raw/csv/bad_header.csv", "raw/gz/chats.jsonl.gz", "raw/json/wrapped.json"]


def _pair(tag: str, i: int) -> dict[str, str]:
    return {"prompt": f"{tag} p{i}", "response": f"{tag} r{i}"}


def _lines(tag: str, n: int) -> bytes:
    return b"".join(orjson.dumps(_pair(tag, i)) + b"\n" for i in range(n))


def _project(root: Path, chunk_bytes: int, **thresholds: float) -> Path:
    for folder in ("csv", "json", "gz"):
        (root / "raw" / folder).mkdir(parents=True, exist_ok=True)
    rows = "".join(f"good p{i},good r{i}\n" for i in range(100))
    (root / "raw/csv/good.csv").write_text("prompt,response\n" + rows)
    bad = "".join(f"bad p{i},bad r{i}\n" for i in range(LOST))
    (root / "raw/csv/bad_header.csv").write_text("prompt,prompt\n" + bad)  # repeated column
    (root / "raw/json/good.json").write_text(json.dumps([_pair("j", i) for i in range(100)]))
    wrapped = {"rows": [_pair("x", i) for i in range(LOST)]}  # the default items_path: no array
    (root / "raw/json/wrapped.json").write_text(json.dumps(wrapped))
    second = bytearray(gzip.compress(_lines("h", LOST), mtime=0))
    second[12] ^= 0xFF  # its deflate data no longer decodes: the rest of the file is unread
    (root / "raw/gz/chats.jsonl.gz").write_bytes(
        gzip.compress(_lines("g", 100), mtime=0) + bytes(second)
    )
    (root / "raw/gz/cut.jsonl.gz").write_bytes(gzip.compress(_lines("c", 100), mtime=0)[:-40])
    source: dict[str, Any] = {"objective": "sft", "adapter": "prompt_response", "split": "train"}
    return write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": "unread", "description": "whole-file rejections"},
            "output": {"dir": "package", "chunk_bytes": chunk_bytes},
            "thresholds": thresholds,
            "sources": [
                {"name": "sheet", "paths": ["raw/csv/*.csv"], **source},
                {"name": "gz", "paths": ["raw/gz/*.jsonl.gz"], **source},
                {"name": "arr", "paths": ["raw/json/*.json"], **source},
            ],
        },
    )


def test_whole_file_rejections_fail_the_parse_check_and_are_named(tmp_path: Path) -> None:
    cfg = load_config(_project(tmp_path, 256 << 20))
    result = build_partition(cfg, "sft|train")
    evaluation = result.evaluations[PARSE_FAILURE_RATE]
    assert not evaluation.passed and result.shards is None
    overall = evaluation.overall
    # 4 quarantined inputs of about 400 (the cut gzip file's last line is one), under 5%...
    assert overall.failed == 4 and overall.record_rate < 0.05
    # ...but 3 of the 6 files were left unread (a file cut at its end is not: nothing follows).
    assert (overall.unread_files, overall.files) == (3, 6)
    assert overall.rate == 0.5
    assert sorted(overall.unread_names) == UNREAD
    by_source = {s.scope: (s.unread_files, s.files) for s in evaluation.sources}
    assert by_source == {"arr": (1, 2), "gz": (1, 2), "sheet": (1, 2)}
    block = failure_block({**evaluation.to_json(), "asset": "extracted"})
    assert all(name in block for name in UNREAD), block
    assert "3 of 6 files unread (50.000%)" in block


def _accounting(root: Path, chunk_bytes: int) -> tuple[Any, ...]:
    cfg = load_config(_project(root, chunk_bytes, max_parse_failure_rate=1.0))
    result = build_partition(cfg, "sft|train")
    assert result.shards is not None
    names = result.evaluations[PARSE_FAILURE_RATE].all_inputs.unread_names
    assert publish(cfg).manifest is not None
    doc = json.loads((root / "package" / "metadata.json").read_bytes())
    return names, doc["extensions"]["x-jsonl-assets"]["accounting"]


def test_unread_files_are_in_the_accounting_however_the_partition_is_chunked(
    tmp_path: Path,
) -> None:
    whole = _accounting(tmp_path / "one", 256 << 20)
    assert whole == _accounting(tmp_path / "many", 4096)
    names, accounting = whole
    assert sorted(names) == UNREAD
    partition = accounting["sft|train"]
    assert partition["unread_files"] == 3
    assert {n: (s["unread_files"], s["files"]) for n, s in partition["sources"].items()} == {
        "arr": (1, 2),
        "gz": (1, 2),
        "sheet": (1, 2),
    }
