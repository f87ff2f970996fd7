"""A quarantine dir shared by packages (each with its own work dir) is safe: no package's
clean-up removes a file another package's snapshot pointer still names.

Before: quarantine folders are named after their content, so two packages with the same
quarantine for a partition (an empty one, say) publish one folder name; the package that wrote
it first has it in its ledger, and when its own quarantine of that partition changed, its GC
removed the folder the other package's published snapshot still listed (at once with
`retention_hours: 0`, a day later by default). The other package's report then failed with a
raw FileNotFoundError. Likewise a shard the replaced metadata.json listed (another work dir's
build of the same package listed it again) kept the retirement time an earlier build of ours
gave it, and went at once.

Two such packages built at the same time: the copy of a partition's quarantine into the shared
folder ran outside the quarantine dir's lock; the other build's clean-up of partial copies
removed the `.partial` of the copy in progress (and both copies shared that one temporary
name), so one build failed with a raw FileNotFoundError."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from jsonl_assets.core.config import load_config
from jsonl_assets.core.quarantine_snapshot import (
    QuarantineMissing,
    published_quarantine,
    read_pointer,
    write_pointer,
)
from jsonl_assets.core.report.package_report import ReportNotWritten, write_report
from jsonl_assets.core.stage_report import StageError
from jsonl_assets.core.store.package_gc import QuarantineSnapshots, collect_garbage, retired_path

from ...test_package_lock import Build
from ...test_package_lock import _no_build_outlives_its_test as _no_build_outlives_its_test
from ...test_snapshot_publish import _build, _project

HOUR = 3600.0
FOLDER = "sft-test-0123456789abcdef"
SHARED = f"{FOLDER}/validated.jsonl"
SHARD = "data/cpt-train-0123456789abcdef/cpt-train-00000.jsonl.zst"


def _configure(root: Path, quarantine: Path, retention: float, tag: str = "v1") -> Path:
    """A project of its own dataset name (a metadata.json, hence a pointer, of its own)."""
    config = _project(root, tag, quarantine_dir=str(quarantine), retention_hours=retention)
    data = yaml.safe_load(config.read_text())
    data["dataset"]["name"] = f"snap-{root.name}"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def _pair(tmp_path: Path, retention: float) -> tuple[Path, Path, Path]:
    """Two projects (own package, own work dir) sharing one quarantine dir; the same inputs,
    so every quarantine folder of one has the name of the other's."""
    quarantine = tmp_path / "quarantine"
    configs = [_configure(tmp_path / name, quarantine, retention) for name in ("a", "b")]
    return configs[0], configs[1], quarantine


def _missing(package: Path, quarantine: Path) -> list[str]:
    doc = read_pointer(quarantine, (package / "metadata.json").read_bytes())
    assert doc is not None
    files = [f["path"] for part in doc["partitions"].values() for f in part["files"]]
    return [f for f in files if not (quarantine / f).is_file()]


@pytest.mark.parametrize("retention", [0.0, 24.0])
def test_a_rebuild_keeps_the_quarantine_another_package_published(
    tmp_path: Path, retention: float
) -> None:
    config_a, config_b, quarantine = _pair(tmp_path, retention)
    package_a, package_b = _build(config_a), _build(config_b)
    held = published_quarantine(package_b, quarantine)
    assert held == published_quarantine(package_a, quarantine)  # one folder name each
    _configure(tmp_path / "a", quarantine, retention, "v2")  # A's cpt|train quarantine changes
    _build(config_a)
    if retention:  # A's next publish comes after the window of what it retired
        retired = retired_path(tmp_path / "a" / "work", "retired_quarantine.json")
        aged = {k: v - 25 * HOUR for k, v in orjson.loads(retired.read_bytes()).items()}
        retired.write_bytes(orjson.dumps(aged))
        _configure(tmp_path / "a", quarantine, retention, "v3")
        _build(config_a)
    assert _missing(package_b, quarantine) == []
    assert published_quarantine(package_b, quarantine) == held
    write_report(load_config(config_b))  # B's report reads its quarantine
    # Once B drops it too, nothing names the old folder: B's own clean-up removes it.
    _configure(tmp_path / "b", quarantine, retention, "v2")
    _build(config_b)
    old = {p.parent.name for paths in held.values() for p in paths if "cpt-train" in p.parent.name}
    assert _missing(package_b, quarantine) == [] and _missing(package_a, quarantine) == []
    if not retention:
        assert not any((quarantine / name).exists() for name in old)


def test_a_quarantine_file_a_pointer_names_stays_retired_until_no_pointer_names_it(
    tmp_path: Path,
) -> None:
    """The default window: A retired SHARED long ago, but B's pointer (published, then
    replaced and retired by B) names it: A's GC keeps it retired until the pointer is gone."""
    package, work, quarantine = tmp_path / "a", tmp_path / "work", tmp_path / "q"
    (quarantine / FOLDER).mkdir(parents=True)
    (quarantine / SHARED).write_text("line\n")
    metadata = b"B's metadata.json"
    pointer = quarantine / f"snapshots/{hashlib.sha256(metadata).hexdigest()[:16]}.json"
    pointer.parent.mkdir()
    part = {"folder": FOLDER, "files": [{"path": SHARED}]}
    pointer.write_bytes(orjson.dumps({"partitions": {"sft|test": part}}))
    previous: dict[str, Any] = {"partitions": {"sft|test": part}}
    snapshots = QuarantineSnapshots(quarantine, (previous, None), (None, None))
    args: dict[str, Any] = {"previous": None, "published": {}, "retention_hours": 24}
    assert collect_garbage(package, work, now=0.0, quarantine=snapshots, **args) == []
    snapshots = QuarantineSnapshots(quarantine, (None, None), (None, None))
    assert collect_garbage(package, work, now=48 * HOUR, quarantine=snapshots, **args) == []
    assert (quarantine / SHARED).is_file()
    pointer.unlink()  # B's clean-up removed its replaced pointer
    removed = collect_garbage(package, work, now=49 * HOUR, quarantine=snapshots, **args)
    assert removed == [SHARED] and not (quarantine / FOLDER).exists()


def test_a_shard_the_replaced_metadata_listed_gets_the_whole_window(tmp_path: Path) -> None:
    """Our build retired SHARD at t0; another work dir's build of the package listed it again
    and published; our next publish replaces that metadata.json: SHARD was listed until now,
    so it stays for the window from now, not from t0."""
    package, work = tmp_path / "pkg", tmp_path / "work"
    (package / SHARD).parent.mkdir(parents=True)
    (package / SHARD).write_bytes(b"shard")
    listing = {"files": [{"shards": [{"path": SHARD}]}]}
    collect_garbage(package, work, listing, {"files": []}, retention_hours=1, now=0.0)
    assert orjson.loads(retired_path(work).read_bytes()) == {SHARD: 0.0}
    later = 5 * HOUR
    assert collect_garbage(package, work, listing, {"files": []}, 1, now=later) == []
    assert orjson.loads(retired_path(work).read_bytes()) == {SHARD: later}
    assert (package / SHARD).is_file()
    assert collect_garbage(package, work, {"files": []}, {"files": []}, 1, now=later + HOUR)


def test_the_pointer_copies_again_a_file_removed_since_the_shards_stage(tmp_path: Path) -> None:
    """Another package's GC removed a folder this build's shards stage found in place: the
    pointer is written only once its files are there again, from the work dir."""
    config = _project(tmp_path)
    package = _build(config)
    quarantine, work = tmp_path / "quarantine", tmp_path / "work"
    metadata = (package / "metadata.json").read_bytes()
    doc = read_pointer(quarantine, metadata)
    assert doc is not None
    files = {p: (quarantine / p).read_bytes() for part in doc["partitions"].values()
             for p in (f["path"] for f in part["files"])}  # fmt: skip
    for path in files:
        (quarantine / path).unlink()
    write_pointer(quarantine, work, metadata, doc["partitions"])
    assert {p: (quarantine / p).read_bytes() for p in files} == files
    # The work dir's copy changed since (another build of the partition): nothing is written.
    gone = next(p for p in files if files[p])
    (quarantine / gone).unlink()
    stage = gone.split("/")[1]
    (work / "cpt" / "train" / "quarantine" / stage).write_text("other\n")
    with pytest.raises(StageError, match=f"the quarantine file {quarantine / gone} is gone"):
        write_pointer(quarantine, work, metadata, doc["partitions"])


def test_the_report_names_a_missing_quarantine_file(tmp_path: Path) -> None:
    config = _project(tmp_path)
    package = _build(config)
    quarantine = tmp_path / "quarantine"
    found = published_quarantine(package, quarantine)
    assert found is not None
    missing = found["cpt|train"][0]
    missing.unlink()
    with pytest.raises(QuarantineMissing, match=f"names {missing}, which is gone"):
        published_quarantine(package, quarantine)
    with pytest.raises(ReportNotWritten) as caught:
        write_report(load_config(config))
    assert str(missing) in str(caught.value) and "FileNotFoundError" not in str(caught.value)
    assert "build the package again" in str(caught.value)


def test_two_packages_built_at_once_both_publish_their_shared_quarantine(tmp_path: Path) -> None:
    config_a, config_b, quarantine = _pair(tmp_path, 24.0)
    # B pauses with its copy of validated.jsonl into the shared folder written, not renamed
    # (the first such rename is its work-dir quarantine, the second the copy): a slow disk.
    b = Build(config_b, pause_at="before_rename:validated.jsonl:2", keys=("sft|train",))
    b.wait_paused()
    partial = list(quarantine.glob("sft-train-*/.validated.jsonl*.partial"))
    assert len(partial) == 1
    a = Build(config_a, keys=("sft|train",))  # copies into the same folder meanwhile
    assert a.finish() == 0, a.text
    assert partial[0].exists(), "A's clean-up removed B's copy in progress"
    b.resume()
    assert b.finish() == 0, b.text
    for name in ("a", "b"):
        package = tmp_path / name / "package"
        assert _missing(package, quarantine) == []
        found = published_quarantine(package, quarantine)
        assert found is not None
        work = tmp_path / name / "work" / "sft" / "train" / "quarantine"
        for path in found["sft|train"]:
            assert path.read_bytes() == (work / path.name).read_bytes()
    assert not list(quarantine.rglob("*.partial"))
