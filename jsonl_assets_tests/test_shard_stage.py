"""`shards_verified`: every shard re-read from disk must be, byte for byte, the accepted records.

A partition of the sample is built by the core stages in each compression; then its shards
are damaged in ways each rule must catch: flipped bytes (sha256), a missing shard, a cut
shard, and a shard rewritten as valid JSONL with a consistent sha256, size and count whose
records are not the ones the validated stage accepted (only the comparison catches that).
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml
import zstandard

from jsonl_assets.core.compression import iter_decompressed
from jsonl_assets.core.config import PipelineConfig, load_config
from jsonl_assets.core.stage_report import StageReport
from jsonl_assets.core.stages.record_stages import run_record_stages
from jsonl_assets.core.stages.shard_stage import (
    ACCEPTED,
    run_shards,
    verify_partition_shards,
)
from jsonl_assets.core.store.work_files import PartitionDirs, partition_dirs


def _build(config: Path, compression: str) -> tuple[PipelineConfig, PartitionDirs, StageReport]:
    data = yaml.safe_load(config.read_text())
    data["output"] = {**data.get("output", {}), "compression": compression}
    data["output"]["max_records_per_shard"] = 60
    if compression == "none":
        data["output"].pop("level", None)  # a level needs a codec (a config error otherwise)
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    cfg = load_config(config)
    out = cfg.output
    dirs = partition_dirs(out.work_dir, out.quarantine_dir, out.dir, "cpt", "train")
    run_record_stages(cfg, dirs)
    return cfg, dirs, run_shards(cfg, dirs)


def _content(path: Path, compression: str) -> bytes:
    with open(path, "rb") as handle:
        return b"".join(iter_decompressed(handle, compression))


def _rules(result: dict[str, Any]) -> set[str]:
    return {f["rule"] for f in result["findings"]}


@pytest.mark.parametrize("compression", ["zstd", "gzip", "none"])
def test_clean_shards_pass(sample_project: Path, compression: str) -> None:
    cfg, dirs, report = _build(sample_project, compression)
    assert len(report.details.shards) > 1
    result = verify_partition_shards(cfg, dirs, report)
    assert result["passed"], result["findings"]
    assert result["records"] == report.records_out > 0


def test_a_flipped_byte_fails_on_sha256(sample_project: Path) -> None:
    cfg, dirs, report = _build(sample_project, "zstd")
    path = dirs.package / report.details.shards[0]["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = verify_partition_shards(cfg, dirs, report)
    assert not result["passed"]
    assert "C17" in _rules(result)


def test_a_missing_or_cut_shard_fails(sample_project: Path) -> None:
    cfg, dirs, report = _build(sample_project, "zstd")
    first, second = (dirs.package / s["path"] for s in report.details.shards[:2])
    first.unlink()
    second.write_bytes(second.read_bytes()[:-7])
    result = verify_partition_shards(cfg, dirs, report)
    assert not result["passed"]
    assert result["bad_shards"] == 2
    assert {"C13", "C17"} <= _rules(result)
    assert result["records"] < report.records_out


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
def test_records_other_than_the_accepted_ones_fail(sample_project: Path, compression: str) -> None:
    """The shard is rewritten with two records swapped: valid JSONL, and its recorded sha256,
    size and count are updated to match, so only the comparison with what validated
    accepted can tell."""
    cfg, dirs, report = _build(sample_project, compression)
    shard = report.details.shards[1]
    path = dirs.package / shard["path"]
    lines = _content(path, compression).splitlines(keepends=True)
    lines[3], lines[4] = lines[4], lines[3]
    body = b"".join(lines)
    data = (
        zstandard.ZstdCompressor().compress(body)
        if compression == "zstd"
        else (gzip.compress(body, mtime=0))
    )
    path.write_bytes(data)
    shard.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    result = verify_partition_shards(cfg, dirs, report)
    assert not result["passed"]
    assert _rules(result) == {ACCEPTED}
    assert result["bad_shards"] == 0
    assert result["bad_families"] == ["cpt-train"]
    finding = result["findings"][0]
    assert (finding["file"], finding["line"]) == ("cpt-train", None)
    expected = report.details.content["cpt-train"]
    assert f"{expected['records']} lines, {expected['bytes']} bytes" in finding["message"]


def test_a_missing_shard_also_breaks_its_family_content(sample_project: Path) -> None:
    cfg, dirs, report = _build(sample_project, "zstd")
    (dirs.package / report.details.shards[-1]["path"]).unlink()
    result = verify_partition_shards(cfg, dirs, report)
    assert _rules(result) == {"C13", ACCEPTED}
    assert result["bad_families"] == ["cpt-train"]
