"""What the retention GC retired stays ours until it removes it (core/store/package_gc.py,
package_files.owned), and the quarantine layout before snapshots is collected too.

Before: `_retire` rebuilt its set of our files from the ledgers and the replaced metadata.json
alone, so a shard only a replaced metadata.json listed (the flat shards of a version before
the ledgers, a work dir lost) left retired.json at the next publish and stayed for good; and
the foreign-file check never read retired.json, so after an upgrade from a version before the
ledgers every build after the first failed naming the old flat shards. The old states are
built by hand: the files an old version left, no old code run."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson

from jsonl_assets.core.store.package_files import check_package, foreign_files, own_manifest
from jsonl_assets.core.store.package_gc import QuarantineSnapshots, collect_garbage, retired_path

from ...test_snapshot_publish import _build, _project

OLD = "data/cpt-train-0123456789abcdef/cpt-train-00000.jsonl.zst"
FLAT = "data/cpt-train-00000.jsonl.zst"  # a version before snapshot folders and ledgers
NEW = "data/cpt-train-fedcba9876543210/cpt-train-00000.jsonl.zst"
HOUR = 3600.0


def _doc(*paths: str) -> dict[str, Any]:
    return {"files": [{"shards": [{"path": p} for p in paths]}]}


def _retired(work: Path, name: str = "retired.json") -> dict[str, float]:
    return orjson.loads(retired_path(work, name).read_bytes())


def test_shards_only_a_replaced_metadata_listed_stay_retired_until_removed(
    tmp_path: Path,
) -> None:
    """No ledger names OLD nor FLAT (the work dir was lost, or a version before the ledgers
    wrote them): the publish that drops them retires them; later publishes keep them retired
    with their first time, they stay ours for the foreign-file check, and they go once the
    window is over."""
    package, work = tmp_path / "pkg", tmp_path / "work"
    for rel in (OLD, FLAT, NEW):
        (package / rel).parent.mkdir(parents=True, exist_ok=True)
        (package / rel).write_bytes(b"shard")
    t0 = 1_000_000.0
    collect_garbage(package, work, _doc(OLD, FLAT), _doc(NEW), retention_hours=1, now=t0)
    assert _retired(work) == {OLD: t0, FLAT: t0}
    for later in (t0 + 10, t0 + 20):  # publishes within the window: the replaced doc is NEW's
        assert collect_garbage(package, work, _doc(NEW), _doc(NEW), 1, now=later) == []
        assert _retired(work) == {OLD: t0, FLAT: t0}
        assert foreign_files(package, work) == []
    removed = collect_garbage(package, work, _doc(NEW), _doc(NEW), 1, now=t0 + HOUR)
    assert sorted(removed) == sorted([OLD, FLAT]) and _retired(work) == {}
    assert not (package / OLD).exists() and not (package / OLD).parent.exists()
    assert not (package / FLAT).exists() and (package / NEW).is_file()


def test_a_retired_shard_listed_again_is_kept_and_no_longer_retired(tmp_path: Path) -> None:
    package, work = tmp_path / "pkg", tmp_path / "work"
    (package / FLAT).parent.mkdir(parents=True)
    (package / FLAT).write_bytes(b"shard")
    collect_garbage(package, work, _doc(FLAT), _doc(NEW), retention_hours=1, now=0.0)
    assert _retired(work) == {FLAT: 0.0}
    collect_garbage(package, work, _doc(NEW), _doc(FLAT), retention_hours=1, now=2 * HOUR)
    assert _retired(work) == {NEW: 2 * HOUR} and (package / FLAT).is_file()


def test_a_hand_edited_retired_record_removes_nothing_not_shaped_like_ours(
    tmp_path: Path,
) -> None:
    """retired.json is trusted as the ledgers are, no further: only names of our shapes
    (a shard path in the package, a quarantine file or pointer in the quarantine dir) are
    ever removed, and only those count as ours for the foreign-file check."""
    package, work, quarantine = tmp_path / "pkg", tmp_path / "work", tmp_path / "q"
    victims = [tmp_path / "victim.txt", package / "README.md", quarantine / "keep.txt"]
    for path in victims:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("precious")
    edited = ["../victim.txt", str(tmp_path / "victim.txt"), "README.md", "metadata.json"]
    for name in ("retired.json", "retired_quarantine.json"):
        path = retired_path(work, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(dict.fromkeys([*edited, "keep.txt"], 0.0)))
    removed = collect_garbage(
        package,
        work,
        None,
        _doc(),
        retention_hours=0,
        now=10 * HOUR,
        quarantine=QuarantineSnapshots(quarantine, (None, None), (None, None)),
    )
    assert removed == [] and all(v.read_text() == "precious" for v in victims)
    assert _retired(work) == {} and _retired(work, "retired_quarantine.json") == {}
    assert foreign_files(package, work) == ["README.md"]


def test_the_quarantine_layout_before_snapshots_is_retired_and_removed(tmp_path: Path) -> None:
    """`<quarantine_dir>/<objective>/<split>/<stage>.jsonl` (c8beb97 up to 91f5056): exactly
    those names are ours, retired like an unlisted snapshot's files and removed after the
    window with the folders they leave empty; anything else there is kept."""
    package, work, quarantine = tmp_path / "pkg", tmp_path / "work", tmp_path / "q"
    old = [f"{o}/{s}/{stage}.jsonl" for o, s in (("sft", "train"), ("cpt", "test"))
           for stage in ("extracted", "transformed", "validated")]  # fmt: skip
    kept = ["cpt/test/notes.txt", "cpt/test/extracted.jsonl.bak", "misc/train/extracted.jsonl"]
    for rel in old + kept:
        (quarantine / rel).parent.mkdir(parents=True, exist_ok=True)
        (quarantine / rel).write_text("line\n")
    (quarantine / "rft" / "train").mkdir(parents=True)
    (quarantine / "rft" / "train" / "validated.jsonl").symlink_to(tmp_path / "victim.txt")
    (tmp_path / "victim.txt").write_text("precious")
    snapshots = QuarantineSnapshots(quarantine, (None, None), (None, None))
    args: dict[str, Any] = {"previous": None, "published": _doc(), "quarantine": snapshots}
    assert collect_garbage(package, work, retention_hours=1, now=0.0, **args) == []
    assert _retired(work, "retired_quarantine.json") == dict.fromkeys(old, 0.0)
    removed = collect_garbage(package, work, retention_hours=1, now=HOUR, **args)
    assert sorted(removed) == sorted(old)
    assert not (quarantine / "sft").exists() and (quarantine / "cpt" / "test").is_dir()
    assert sorted(str(p.relative_to(quarantine)) for p in quarantine.rglob("*") if p.is_file()) == [
        "cpt/test/extracted.jsonl.bak",
        "cpt/test/notes.txt",
        "misc/train/extracted.jsonl",
        "rft/train/validated.jsonl",
    ]
    assert (tmp_path / "victim.txt").read_text() == "precious"


def _as_before_the_ledgers(package: Path, work: Path) -> list[str]:
    """Turn a built package into what a version before the ledgers and snapshot folders left:
    flat `data/<name>` shards listed only by its metadata.json (same generator), no work dir.
    Returns the flat paths."""
    doc = own_manifest(package)
    assert doc is not None
    flat = []
    for entry in doc["files"]:
        for shard in entry["shards"]:
            name = "data/" + Path(shard["path"]).name
            shutil.move(package / shard["path"], package / name)
            shard["path"] = name
            flat.append(name)
    for folder in (package / "data").iterdir():
        if folder.is_dir():
            folder.rmdir()
    (package / "metadata.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    shutil.rmtree(work)
    return flat


def test_after_an_upgrade_from_flat_shards_every_build_publishes(tmp_path: Path) -> None:
    """The first build of the new version retires the old flat shards (default window: kept
    for readers of the old metadata.json); the builds after it find them ours, not foreign,
    and keep them retired since the first time."""
    config = _project(tmp_path)
    package = _build(config)
    work = tmp_path / "work"
    flat = _as_before_the_ledgers(package, work)
    _build(config)
    since = _retired(work)
    assert sorted(since) == sorted(flat) and all((package / p).is_file() for p in flat)
    for tag in ("v2", "v3"):
        _project(tmp_path, tag=tag)  # the cpt partition changes
        check_package(package, work)
        _build(config)
        retired = _retired(work)
        assert {k: retired.get(k) for k in flat} == since
        assert all((package / p).is_file() for p in flat)
