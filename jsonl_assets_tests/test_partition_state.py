"""Which partitions `jsonl-assets build` starts no run for: no source and no earlier output,
or every stage up to date with its checks passing on the current thresholds."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from jsonl_assets.core.build import build_partition, built_partition, dirs_for
from jsonl_assets.core.config import load_config
from jsonl_assets.core.manifest_builder import PartitionShards
from jsonl_assets.core.partition_state import BUILD, NO_SOURCES, UP_TO_DATE, partition_state
from jsonl_assets.defs.partitions import all_partition_keys

from .conftest import materialize

CLI = Path(sys.executable).parent / "jsonl-assets"


def state(config: Path, key: str) -> str:
    cfg = load_config(config)
    return partition_state(cfg, dirs_for(cfg, key))


def test_partition_state_follows_sources_markers_and_thresholds(sample_project: Path) -> None:
    cfg = load_config(sample_project)
    assert state(sample_project, "rft|validation") == NO_SOURCES
    assert state(sample_project, "rft|test") == BUILD  # never built
    build_partition(cfg, "rft|test")
    assert state(sample_project, "rft|test") == UP_TO_DATE
    # A source file whose stat moved, with the same bytes (touched): nothing to build.
    source = sample_project.parent / "raw" / "rft" / "seedlings_test.jsonl"
    st = source.stat()
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert state(sample_project, "rft|test") == UP_TO_DATE
    # Its bytes changed: its stages must look at it again.
    source.write_bytes(source.read_bytes().replace(b'"beds-1000"', b'"beds-9999"'))
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


def test_a_marker_that_is_not_a_file_means_build_not_a_traceback(sample_project: Path) -> None:
    """Before: a stage marker that is a FIFO, a folder or a link to /dev/zero made the CLI's
    up-to-date check raise (a 37-line traceback); the build's own steps say it in one line."""
    cfg = load_config(sample_project)
    build_partition(cfg, "rft|test")
    marker = dirs_for(cfg, "rft|test").file("extracted.json")
    for make in (os.mkfifo, os.mkdir, lambda p: os.symlink("/dev/zero", p)):
        marker.unlink() if not marker.is_dir() or marker.is_symlink() else marker.rmdir()
        make(marker)
        assert state(sample_project, "rft|test") == BUILD


def test_a_sourceless_partition_built_once_is_up_to_date_after(sample_project: Path) -> None:
    """A partition no source feeds, built anyway (`--force`, a schedule tick or a backfill
    build all twelve) or whose source was removed from the config, is built (empty) once to
    drop its old output, then costs no run: it used to be BUILD on every later build."""
    cfg = load_config(sample_project)
    assert state(sample_project, "rft|validation") == NO_SOURCES
    build_partition(cfg, "rft|validation")
    assert state(sample_project, "rft|validation") == UP_TO_DATE
    # A source removed from the config: its partition's old shards go, once.
    build_partition(cfg, "rft|test")
    old = sorted((dirs_for(cfg, "rft|test").package / "data").glob("rft-test-*"))
    assert old and state(sample_project, "rft|test") == UP_TO_DATE
    doc = yaml.safe_load(sample_project.read_text())
    doc["sources"] = [s for s in doc["sources"] if s["name"] != "seedlings_test"]
    sample_project.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert state(sample_project, "rft|test") == BUILD
    cfg = load_config(sample_project)
    result = build_partition(cfg, "rft|test")
    assert result.shards is not None
    built = built_partition(cfg, "rft|test")
    assert isinstance(built, PartitionShards) and not built.shards
    assert state(sample_project, "rft|test") == UP_TO_DATE
    assert state(sample_project, "rft|validation") == UP_TO_DATE


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".jsonl-assets")  # the package lock
    }


@pytest.mark.slow
def test_cli_and_dagster_leave_the_same_package_and_quarantine(
    sample_project: Path, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    """`jsonl-assets build` (which starts no run for rft|validation: no source feeds it) and a
    materialisation of all twelve partitions (a schedule tick, a backfill) then the manifest:
    the same package and the same quarantine dir, snapshot pointer included (a partition no
    source feeds with nothing quarantined publishes no quarantine)."""
    dagster_copy = tmp_path / "dagster"
    shutil.copytree(sample_project.parent, dagster_copy)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}  # the report is off (conftest)
    (tmp_path / "home").mkdir()
    done = subprocess.run(
        [str(CLI), "build", "--config", str(sample_project), "--workers", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    config = dagster_copy / "pipeline.yaml"
    for key in all_partition_keys():  # what a schedule tick or a backfill runs
        assert materialize(config, instance, key).success, key
    assert materialize(config, instance, None).success
    for folder in ("package", "quarantine"):
        cli, dagster = _tree(sample_project.parent / folder), _tree(dagster_copy / folder)
        assert cli == dagster, folder
    snapshots = [p for p in _tree(dagster_copy / "quarantine") if p.startswith("snapshots/")]
    assert len(snapshots) == 1
    assert not any(p.startswith("rft-validation-") for p in _tree(dagster_copy / "quarantine"))
