"""Which partitions `jsonl-assets build` starts no run for: no source and no earlier output,
or every stage up to date with its checks passing on the current thresholds."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from jsonl_assets.core.build import build_partition, dirs_for
from jsonl_assets.core.config import load_config
from jsonl_assets.core.partition_state import BUILD, NO_SOURCES, UP_TO_DATE, partition_state


def state(config: Path, key: str) -> str:
    cfg = load_config(config)
    return partition_state(cfg, dirs_for(cfg, key))


def test_partition_state_follows_sources_markers_and_thresholds(sample_project: Path) -> None:
    cfg = load_config(sample_project)
    assert state(sample_project, "rft|validation") == NO_SOURCES
    assert state(sample_project, "rft|test") == BUILD  # never built
    build_partition(cfg, "rft|test")
    assert state(sample_project, "rft|test") == UP_TO_DATE
    # A source file whose stat moved: its stages must look at it again.
    source = sample_project.parent / "raw" / "rft" / "seedlings_test.jsonl"
    st = source.stat()
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert state(sample_project, "rft|test") == BUILD
    build_partition(cfg, "rft|test")
    assert state(sample_project, "rft|test") == UP_TO_DATE
    # A stricter threshold is not in any stage's fingerprint, but the check must run again.
    doc = yaml.safe_load(sample_project.read_text())
    doc.setdefault("thresholds", {})["max_invalid_rate"] = 0.0
    doc["thresholds"].setdefault("per_objective", {}).pop("rft", None)
    sample_project.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert state(sample_project, "rft|test") == UP_TO_DATE  # 0 of 50 invalid
    assert state(sample_project, "rft|train") == BUILD
    build_partition(load_config(sample_project), "rft|train")  # 1 invalid: the check fails
    assert state(sample_project, "rft|train") == BUILD
    # A removed shard: the partition is built again.
    dirs = dirs_for(cfg, "rft|test")
    for shard in (dirs.package / "data").glob("rft-test-*/*.jsonl*"):
        shard.unlink()
    assert state(sample_project, "rft|test") == BUILD
