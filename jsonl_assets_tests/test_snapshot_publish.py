"""Snapshot publishing on a local disk: a reader holding a metadata.json keeps every shard it
lists through a rebuild; unchanged partitions keep their folder; unlisted shards go only
after the retention window; a publisher overtaken by another publishes nothing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.stages.manifest_stage import PackageChangedError
from jsonl_assets.core.store.package_files import own_manifest
from jsonl_assets.core.store.package_gc import collect_garbage, retired_path

from .conftest import build_with_core, package_shards, published_quarantine, write_config

KEYS = ("sft|train", "cpt|train")


def _project(root: Path, tag: str = "v1", **output: Any) -> Path:
    raw = root / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "notes.jsonl").write_text(
        "".join(f'{{"id": "n{i}", "text": "note {tag} {i}"}}\n' for i in range(30))
        + f"{{not json {tag}\n"  # quarantined: the quarantine changes with the tag
    )
    chats = (
        f'{{"id": "c{i}", "messages": [{{"role": "user", "content": "hi {i}"}}, '
        f'{{"role": "assistant", "content": "hello {i}"}}]}}\n'
        for i in range(20)
    )
    (raw / "chats.jsonl").write_text("".join(chats))
    return write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": "snap", "description": "snapshot publishing"},
            "output": {"max_records_per_shard": 10, **output},
            "thresholds": {"max_parse_failure_rate": 1.0},
            "sources": [
                {"name": "notes", "paths": ["raw/notes.jsonl"], "objective": "cpt",
                 "adapter": "text", "split": "train", "id_field": "id"},
                {"name": "chats", "paths": ["raw/chats.jsonl"], "objective": "sft",
                 "adapter": "chat", "split": "train"},
            ],
        },
    )  # fmt: skip


def _build(config: Path) -> Path:
    cfg = load_config(config)
    for key in KEYS:
        build_partition(cfg, key)
    result = publish(cfg)
    assert result.manifest is not None and result.manifest.published, result.problems
    return cfg.output.dir


def _listed(package: Path) -> dict[str, bytes]:
    doc = orjson.loads((package / "metadata.json").read_bytes())
    return {
        s["path"]: (package / s["path"]).read_bytes() for f in doc["files"] for s in f["shards"]
    }


def _quarantine(package: Path) -> dict[str, bytes]:
    """The quarantine published with the package's metadata.json, by logical path."""
    found = published_quarantine(package, package.parent / "quarantine")
    return {logical: path.read_bytes() for logical, path in found.items()}


def test_a_reader_holding_the_old_metadata_reads_every_old_shard_through_a_rebuild(
    tmp_path: Path,
) -> None:
    config = _project(tmp_path)
    package = _build(config)
    held = (package / "metadata.json").read_bytes()
    old = _listed(package)
    old_quarantine = published_quarantine(package, tmp_path / "quarantine")
    old_rejects = {k: p.read_bytes() for k, p in old_quarantine.items()}
    assert b"not json v1" in old_rejects["cpt/train/extracted.jsonl"]
    _project(tmp_path, tag="v2")  # the notes change, the chats do not
    done = threading.Event()
    reads = 0

    def rebuild() -> None:
        try:
            _build(config)
        finally:
            done.set()

    builder = threading.Thread(target=rebuild)
    builder.start()
    while not done.is_set():  # throughout the build and its publish
        for path, data in old.items():
            assert (package / path).read_bytes() == data, path
        for logical, data in old_rejects.items():
            assert old_quarantine[logical].read_bytes() == data, logical
        _quarantine(package)  # whichever metadata.json is there, its quarantine is whole
        reads += 1
    builder.join()
    new = _listed(package)
    assert (package / "metadata.json").read_bytes() != held and reads > 0
    for path, data in old.items():  # after the publish (default retention: 24 h)
        assert (package / path).read_bytes() == data, path
    for logical, data in old_rejects.items():
        assert old_quarantine[logical].read_bytes() == data, logical
    # The new metadata.json comes with the new build's quarantine; the unchanged partition
    # keeps its quarantine folder.
    now = published_quarantine(package, tmp_path / "quarantine")
    assert b"not json v2" in now["cpt/train/extracted.jsonl"].read_bytes()
    assert now["sft/train/extracted.jsonl"] == old_quarantine["sft/train/extracted.jsonl"]
    assert now["cpt/train/extracted.jsonl"] != old_quarantine["cpt/train/extracted.jsonl"]
    # The unchanged partition (sft|train) is reused by reference: the same folder and files.
    assert {p for p in new if p.startswith("data/sft-train-")} == {
        p for p in old if p.startswith("data/sft-train-")
    }
    assert not {p for p in new if p.startswith("data/cpt-train-")} & set(old)
    retired = orjson.loads(retired_path(tmp_path / "work").read_bytes())
    assert set(retired) == {p for p in old if p.startswith("data/cpt-train-")}


def test_unlisted_shards_go_only_after_the_retention_window(tmp_path: Path) -> None:
    config = _project(tmp_path, retention_hours=1)
    package = _build(config)
    old = set(_listed(package))
    _project(tmp_path, tag="v2")
    _build(config)
    gone = {p for p in old if p.startswith("data/cpt-train-")}
    assert all((package / p).is_file() for p in old)
    cfg = load_config(config)
    published = own_manifest(package)
    assert published is not None
    retired = orjson.loads(retired_path(cfg.output.work_dir).read_bytes())
    since = min(retired.values())
    work = cfg.output.work_dir
    assert collect_garbage(package, work, None, published, 1, now=since + 3599) == []
    removed = collect_garbage(package, work, None, published, 1, now=since + 3600)
    assert set(removed) == gone
    assert not any((package / p).exists() for p in gone)
    assert {p.relative_to(package).as_posix() for p in package_shards(package)} == set(
        _listed(package)
    )
    assert not retired_path(work).exists() or orjson.loads(retired_path(work).read_bytes()) == {}


def test_a_publisher_overtaken_by_another_publishes_nothing(tmp_path: Path) -> None:
    """Two work dirs, one package: the first build starts (its shards stage reads the
    published version), the second builds and publishes, then the first's publish finds
    another version than the one it started from."""
    first = _project(tmp_path / "a")
    second = _project(tmp_path / "b", tag="v2")
    package = tmp_path / "package"
    for config in (first, second):
        data = yaml.safe_load(config.read_text())
        data["output"]["dir"] = str(package)
        write_config(config, data)
    cfg_a = load_config(first)
    for key in KEYS:
        build_partition(cfg_a, key)
    winner = build_with_core(second)
    won = (winner / "metadata.json").read_bytes()
    with pytest.raises(PackageChangedError, match="package changed since this build started"):
        publish(cfg_a)
    assert (package / "metadata.json").read_bytes() == won
    assert all((package / p).is_file() for p in _listed(package))
    _build(first)  # built again, it publishes on top of the winner's version
    assert (package / "metadata.json").read_bytes() != won


def test_the_old_quarantine_goes_with_its_shards_after_the_retention_window(
    tmp_path: Path,
) -> None:
    """With `retention_hours: 0` the publish collects what the new snapshot no longer
    names: the changed partition's old quarantine folder and the old snapshot's pointer; the
    unchanged partition's folder is named again and stays, as does anything not ours."""
    config = _project(tmp_path, retention_hours=0)
    package = _build(config)
    quarantine = tmp_path / "quarantine"
    old = published_quarantine(package, quarantine)
    old_pointer = set((quarantine / "snapshots").iterdir())
    (quarantine / "notes.txt").write_text("a user's file")
    _project(tmp_path, tag="v2", retention_hours=0)
    _build(config)
    now = published_quarantine(package, quarantine)
    assert not old["cpt/train/extracted.jsonl"].parent.exists()
    assert old["sft/train/extracted.jsonl"].is_file()
    assert all(p.is_file() for p in now.values())
    pointers = set((quarantine / "snapshots").iterdir())
    assert len(pointers) == 1 and not pointers & old_pointer
    assert (quarantine / "notes.txt").read_text() == "a user's file"
