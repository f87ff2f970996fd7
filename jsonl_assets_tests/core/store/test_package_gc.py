"""The garbage collection after a publish removes only files this project writes: a shard
path (`data/<objective>-<split>-<digest>/<objective>-<split>-NNNNN.jsonl...`) inside the
package, a quarantine file or pointer inside the quarantine dir. Whatever else the replaced
metadata.json (or its quarantine pointer) names - `../x`, an absolute path, `metadata.json` -
is left alone, however the document was edited."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from jsonl_assets.core.quarantine_snapshot import is_quarantine_path
from jsonl_assets.core.shard_families import is_shard_path
from jsonl_assets.core.store.base import read_bytes, store_for
from jsonl_assets.core.store.package_gc import collect_garbage
from jsonl_assets.core.verify.package import verify_package

from ...moto_server import s3, s3_endpoint  # noqa: F401 - fixtures
from ...object_server import ObjectServer
from ...test_snapshot_publish import _build, _project

SHARD = "data/cpt-train-0123456789abcdef/cpt-train-00000.jsonl.zst"


def _add_listed(package: Any, paths: list[str]) -> bytes:
    """Add `paths` as shards of the package's metadata.json (its generator kept: still ours);
    return the new bytes."""
    doc = orjson.loads(read_bytes(package / "metadata.json"))
    first = doc["files"][0]["shards"][0]
    doc["files"][0]["shards"] += [{**first, "path": p} for p in paths]
    data = orjson.dumps(doc)
    store_for(package).publish(package / "metadata.json", data)
    return data


def _add_pointer(quarantine: Any, metadata: bytes, paths: list[str]) -> None:
    """A quarantine pointer for the edited metadata.json, naming `paths`."""
    doc = {
        "metadata_sha256": hashlib.sha256(metadata).hexdigest(),
        "partitions": {"cpt|train": {"folder": "x", "files": [{"path": p} for p in paths]}},
    }
    rel = f"snapshots/{hashlib.sha256(metadata).hexdigest()[:16]}.json"
    store_for(quarantine).publish(quarantine / rel, orjson.dumps(doc))


@pytest.mark.parametrize(
    ("path", "ours"),
    [
        (SHARD, True),
        ("data/cpt-train-0123456789abcdef/cpt-train-code_x-00001.jsonl", True),
        ("data/sft-test-00001.jsonl.gz", True),  # before snapshot folders
        ("data/cpt-train-0123456789abcdef/sft-train-00000.jsonl.zst", False),
        ("data/cpt-train-0123456789abcdef/../../x/cpt-train-00000.jsonl", False),
        (f"{SHARD}\n", False),
        ("../victim.txt", False),
        ("/etc/passwd", False),
        ("metadata.json", False),
        ("data/README.md", False),
    ],
)
def test_only_our_shard_paths_have_the_shape_of_a_shard(path: str, ours: bool) -> None:
    assert is_shard_path(path) is ours


def test_only_our_quarantine_files_have_the_shape_of_one() -> None:
    assert is_quarantine_path("cpt-train-0123456789abcdef/validated.jsonl")
    assert is_quarantine_path("snapshots/0123456789abcdef.json")
    for path in ("../x", "/x", "snapshots/../../x.json", "cpt-train-0123456789abcdef/x.jsonl"):
        assert not is_quarantine_path(path)


def test_collect_garbage_never_removes_what_is_not_shaped_like_ours(tmp_path: Path) -> None:
    package, work, quarantine = tmp_path / "pkg", tmp_path / "work", tmp_path / "q"
    victims = [tmp_path / "victim.txt", package / "metadata.json", quarantine / "keep.txt"]
    for path in [*victims, package / SHARD]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("precious")
    outside = ["../victim.txt", str(tmp_path / "victim.txt"), "metadata.json", "data/../x"]
    previous = {"files": [{"shards": [{"path": p} for p in [SHARD, *outside]]}]}
    from jsonl_assets.core.store.package_gc import QuarantineSnapshots

    pointer = {"partitions": {"k": {"files": [{"path": p} for p in ["keep.txt", *outside]]}}}
    removed = collect_garbage(
        package,
        work,
        previous,
        {"files": []},
        retention_hours=0,
        quarantine=QuarantineSnapshots(quarantine, (pointer, None), (None, None)),
    )
    assert removed == [SHARD]
    assert all(v.read_text() == "precious" for v in victims)


def test_a_rebuild_removes_nothing_outside_the_package_an_edited_metadata_lists(
    tmp_path: Path,
) -> None:
    config = _project(tmp_path, retention_hours=0)
    package = _build(config)
    quarantine = package.parent / "quarantine"
    old = sorted(p.relative_to(package) for p in package.rglob("*.zst"))
    victim, elsewhere = tmp_path / "victim.txt", tmp_path / "elsewhere" / "keep.txt"
    elsewhere.parent.mkdir()
    for path in (victim, elsewhere):
        path.write_text("precious")
    listed = ["../victim.txt", str(elsewhere), "metadata.json", "../quarantine/snapshots"]
    edited = _add_listed(package, listed)
    _add_pointer(quarantine, edited, ["../victim.txt", str(elsewhere), "../pkg/metadata.json"])
    _project(tmp_path, tag="v2", retention_hours=0)  # the cpt partition changes
    _build(config)
    assert victim.read_text() == "precious" and elsewhere.read_text() == "precious"
    report = verify_package(package)
    assert report.error_count == 0, report.findings
    now = sorted(p.relative_to(package) for p in package.rglob("*.zst"))
    assert [p for p in old if p not in now], "the unlisted old cpt shards are collected"


@pytest.mark.slow
def test_a_rebuild_on_s3_keeps_its_metadata_json_whatever_the_replaced_one_lists(
    s3: ObjectServer,  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    config = _project(tmp_path, retention_hours=0)
    data = yaml.safe_load(config.read_text())
    data["output"].update(dir=s3.url("pkg"), quarantine_dir=s3.url("q"), work_dir="work")
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    package = _build(config)
    store = store_for(package)
    store.publish(s3.url("other/keep.txt"), b"precious")
    _add_listed(package, ["metadata.json", "/../other/keep.txt", "../other/keep.txt"])
    _project(tmp_path, tag="v2", retention_hours=0)
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    _build(config)
    assert store.stat(package / "metadata.json") is not None
    assert read_bytes(s3.url("other/keep.txt")) == b"precious"
    report = verify_package(package)
    assert report.error_count == 0, report.findings
