"""Shards staged by the one-pass build: out of the package until adopted, adoption resumable.

A partition of the sample is built by the one pass; its shards wait in the work dir. The
shards stage moves them into the package, the same bytes a clean build gives, also when the
adoption was killed halfway (a shard renamed but not journaled), when a staged shard is gone
(the stage refuses; the record stages run again and stage them anew), and when the work dir
is on another file system (copied, not renamed).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from jsonl_assets.core.config import PipelineConfig, load_config
from jsonl_assets.core.shard_writer import ShardInfo, ShardJournal, ShardWriteError
from jsonl_assets.core.stage_report import StageError
from jsonl_assets.core.stages.record_stages import run_record_stages
from jsonl_assets.core.stages.shard_stage import (
    JOURNAL,
    run_shards,
    shard_fingerprint,
    verify_partition_shards,
)
from jsonl_assets.core.stages.staged_shards import MARKER, STAGED_DIR, staged_folder
from jsonl_assets.core.stages.validate_stage import MARKER as VALIDATE_MARKER
from jsonl_assets.core.store import local
from jsonl_assets.core.store.package_files import LEDGER, claim
from jsonl_assets.core.store.work_files import PartitionDirs, partition_dirs, read_marker

from .conftest import write_config


def _project(sample_project: Path) -> tuple[PipelineConfig, PartitionDirs]:
    data = yaml.safe_load(sample_project.read_text())
    data["output"] = {**data.get("output", {}), "max_records_per_shard": 40}
    write_config(sample_project, data)
    cfg = load_config(sample_project)
    out = cfg.output
    return cfg, partition_dirs(out.work_dir, out.quarantine_dir, out.dir, "cpt", "train")


def _shards(package: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((package / "data").glob("cpt-train-*/cpt-train-*"))
    }


@pytest.fixture
def reference(sample_project: Path, tmp_path: Path) -> dict[str, str]:
    """The shards of a clean build in a copy of the project."""
    copy = tmp_path / "reference"
    shutil.copytree(sample_project.parent, copy)
    cfg, dirs = _project(copy / sample_project.name)
    run_record_stages(cfg, dirs)
    run_shards(cfg, dirs)
    shards = _shards(dirs.package)
    assert len(shards) >= 3
    return shards


def test_staged_shards_stay_out_of_the_package_until_adopted(
    sample_project: Path, reference: dict[str, str]
) -> None:
    cfg, dirs = _project(sample_project)
    run_record_stages(cfg, dirs)
    assert _shards(dirs.package) == {}
    assert dirs.file(MARKER).is_file()
    assert len(list((dirs.work / STAGED_DIR / "data").iterdir())) == len(reference)
    report = run_shards(cfg, dirs)
    assert _shards(dirs.package) == reference
    assert not dirs.file(MARKER).exists() and not (dirs.work / STAGED_DIR).exists()
    assert not dirs.file("transformed.jsonl").exists()  # adopted: the work file was not needed
    assert verify_partition_shards(cfg, dirs, report)["passed"]


def test_an_adoption_killed_after_a_rename_resumes(
    sample_project: Path, reference: dict[str, str]
) -> None:
    """The state a kill leaves between renaming a staged shard and journaling it, after two
    shards were adopted and journaled."""
    cfg, dirs = _project(sample_project)
    run_record_stages(cfg, dirs)
    validate_fp = orjson.loads(dirs.file(VALIDATE_MARKER).read_bytes())["fingerprint"]
    stage_fp = shard_fingerprint(cfg, dirs, validate_fp)
    staged_report = read_marker(dirs.file(MARKER), stage_fp)
    assert staged_report is not None
    folder = staged_folder(dirs, staged_report)
    staged = dirs.work / STAGED_DIR / "data"
    names = sorted(p.name for p in staged.iterdir())
    (dirs.package / folder).mkdir(parents=True, exist_ok=True)
    for name in names[:3]:  # each claimed in the ledger before its rename, as adopt does
        claim(dirs.file(LEDGER), f"{folder}/{name}")
        os.replace(staged / name, dirs.package / folder / name)
    journal = ShardJournal(dirs.file(JOURNAL), stage_fp)
    journal.load(dirs.package)
    for entry in staged_report["shards"][:2]:
        journal.append(ShardInfo(**{**entry, "path": f"{folder}/{entry['path'][5:]}"}))
    report = run_shards(cfg, dirs)
    assert report.extra["reused_shards"] == 2
    assert _shards(dirs.package) == reference
    assert verify_partition_shards(cfg, dirs, report)["passed"]


def test_a_lost_staged_shard_is_staged_again_by_the_record_stages(
    sample_project: Path, reference: dict[str, str]
) -> None:
    cfg, dirs = _project(sample_project)
    run_record_stages(cfg, dirs)
    staged = sorted((dirs.work / STAGED_DIR / "data").iterdir())
    staged[1].unlink()
    with pytest.raises(StageError, match="staged by the record stages are gone"):
        run_shards(cfg, dirs)
    reports = run_record_stages(cfg, dirs)
    assert [r.reused for r in reports] == [True, True, False]
    report = run_shards(cfg, dirs)
    assert _shards(dirs.package) == reference
    assert not dirs.file("transformed.jsonl").exists()
    assert verify_partition_shards(cfg, dirs, report)["passed"]


def test_staged_shards_are_copied_across_file_systems(
    sample_project: Path, reference: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, dirs = _project(sample_project)
    run_record_stages(cfg, dirs)
    real_replace = os.replace
    staged_root = str(dirs.work / STAGED_DIR)

    refused: list[str] = []

    def cross_device(src: str | Path, dst: str | Path) -> None:
        if str(src).startswith(staged_root):
            refused.append(str(src))
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(local.os, "replace", cross_device)
    report = run_shards(cfg, dirs)
    assert len(refused) == len(reference)
    assert _shards(dirs.package) == reference
    assert not [p for p in (dirs.package / "data").rglob(".*")]
    assert verify_partition_shards(cfg, dirs, report)["passed"]


def test_a_failed_pass_leaves_nothing_staged(sample_project: Path) -> None:
    cfg, dirs = _project(sample_project)
    reports = run_record_stages(cfg, dirs, gate=lambda extract, transform: False)
    assert [r.stage for r in reports] == ["extracted"]
    assert not dirs.file(MARKER).exists() and not (dirs.work / STAGED_DIR).exists()


def test_without_the_helper_thread_the_shards_are_the_same(
    sample_project: Path, reference: dict[str, str]
) -> None:
    """`helper_thread=False` (the CLI's choice when every core builds a partition) stages the
    same bytes on the calling thread."""
    cfg, dirs = _project(sample_project)
    run_record_stages(cfg, dirs, helper_thread=False)
    report = run_shards(cfg, dirs)
    assert _shards(dirs.package) == reference
    assert report.extra["content"]["cpt-train"]["records"] == report.records_out


def test_a_full_disk_while_staging_fails_the_pass_cleanly(
    sample_project: Path, reference: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC in a staged shard (written on the helper thread) fails the pass with the
    shard's name; nothing of the pass is committed or left behind, and the rerun, with
    space again, builds the same shards."""
    from .test_disk_and_paths import _FullDisk

    cfg, dirs = _project(sample_project)
    budget = [3000]

    def small_disk_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = open(path, mode, *args, **kwargs)  # noqa: SIM115 - the writer closes it
        is_shard = Path(path).parent == dirs.work / STAGED_DIR / "data"  # not a marker
        return _FullDisk(handle, budget) if "w" in mode and is_shard else handle

    monkeypatch.setattr(local, "open", small_disk_open, raising=False)
    with pytest.raises(ShardWriteError, match="No space left on device") as failure:
        run_record_stages(cfg, dirs)
    assert str(dirs.work / STAGED_DIR / "data" / "cpt-train-") in str(failure.value)
    assert not (dirs.work / STAGED_DIR).exists() and not dirs.file(MARKER).exists()
    # Here the last shard fails as the pass closes it, after extracted and transformed were
    # committed; validated, which vouches for staged shards, was not. The finished chunks stay
    # for the rerun.
    left = sorted(
        p.name
        for p in dirs.work.iterdir()
        if p.name != "scratch" and not p.name.startswith(".lock")
    )
    assert left == [
        "chunks",
        "extracted.json",
        "quarantine",
        "raw_sources.fingerprints.json",  # the sources' stat -> sha256 record
        "transformed.json",
    ]
    monkeypatch.undo()
    reports = run_record_stages(cfg, dirs)
    assert [r.reused for r in reports] == [True, True, False]
    run_shards(cfg, dirs)  # staged again by the pass
    assert _shards(dirs.package) == reference
