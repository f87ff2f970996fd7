"""What a build whose publish failed leaves in an S3 package (real moto server), and when it
goes: the loser of the conditional publish (HTTP 412) withdraws its shards and pointer at once;
what a build killed before its publish left, its work dir lost, is swept by a later publish's
GC once the retention window and the in-flight grace (package_orphans.ORPHAN_GRACE_HOURS)
are over, never sooner."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import orjson
import yaml

from jsonl_assets.core.fault_points import PAUSE_ENV_VAR, PAUSE_FILE_ENV_VAR
from jsonl_assets.core.quarantine_snapshot import pointer_rel, read_pointer
from jsonl_assets.core.store.base import read_bytes, store_for
from jsonl_assets.core.store.package_files import own_manifest
from jsonl_assets.core.store.package_gc import QuarantineSnapshots, Sweep, collect_garbage
from jsonl_assets.core.store.package_orphans import ORPHAN_GRACE_HOURS, sweep_shards
from jsonl_assets.core.store.url import StoreURL

from ... import test_restart as restart
from ...object_server import ObjectServer
from ...test_object_storage_package import _popen


def _projects(s3: ObjectServer, root: Path, retention: float = 0) -> tuple[Path, Path]:
    """Two projects (own work dirs, as on two machines) with different sources, one package
    and quarantine dir in the bucket, retention 0 unless told."""
    first = restart.make_project(root / "a", chats=200, notes=300)
    second = restart.make_project(root / "b", chats=120, notes=500)
    for config in (first, second):
        data = yaml.safe_load(config.read_text())
        data["output"] |= {
            "dir": s3.url("pkg"),
            "quarantine_dir": s3.url("pkg-q"),
            "retention_hours": retention,
        }
        config.write_text(yaml.safe_dump(data, sort_keys=False))
    return first, second


def _keys(s3: ObjectServer, prefix: str) -> set[str]:
    store = store_for(s3.url(prefix))
    found = store.glob(f"{s3.url(prefix)}/**")  # type: ignore[attr-defined]
    return {
        str(k).split(f"{s3.bucket}/{prefix}/", 1)[1] for k, st in found.items() if not st.is_dir
    }


def _unlisted(s3: ObjectServer) -> set[str]:
    meta = orjson.loads(read_bytes(s3.url("pkg/metadata.json")))
    listed = {s["path"] for f in meta["files"] for s in f["shards"]}
    return {k for k in _keys(s3, "pkg") if k.startswith("data/")} - listed


def _pointers(s3: ObjectServer) -> set[str]:
    return {k for k in _keys(s3, "pkg-q") if k.startswith("snapshots/")}


def _wait_paused(process: subprocess.Popen[str], pause: Path) -> None:
    deadline = time.monotonic() + 180
    while not pause.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_the_loser_of_the_publish_withdraws_its_shards_and_pointer(
    s3: ObjectServer, tmp_path: Path
) -> None:
    """The first build pauses before its publish, the second publishes, the first gets 412:
    it leaves no shard metadata.json does not list and no pointer but the winner's (before:
    16 unlisted shards and its pointer, kept for good); its rerun publishes on top."""
    first, second = _projects(s3, tmp_path)
    pause = tmp_path / "pause"
    waiting = _popen(first, {PAUSE_ENV_VAR: "before_publish", PAUSE_FILE_ENV_VAR: str(pause)})
    _wait_paused(waiting, pause)
    assert _pointers(s3) and not _keys(s3, "pkg") & {"metadata.json"}
    winner = restart.run_core_build(second, env=s3.env)
    assert winner.returncode == 0, winner.stderr[-3000:]
    won = read_bytes(s3.url("pkg/metadata.json"))
    pause.unlink()
    _, err = waiting.communicate(timeout=180)
    assert waiting.returncode != 0 and "HTTP 412" in err, err[-3000:]
    assert read_bytes(s3.url("pkg/metadata.json")) == won
    assert _unlisted(s3) == set()
    assert _pointers(s3) == {pointer_rel(won)}
    quarantine = read_pointer(StoreURL(s3.url("pkg-q")), won)
    assert quarantine is not None
    named = {f["path"] for p in quarantine["partitions"].values() for f in p["files"]}
    assert {k for k in _keys(s3, "pkg-q") if not k.startswith("snapshots/")} == named
    again = restart.run_core_build(first, env=s3.env)  # the loser builds again: it publishes
    assert again.returncode == 0, again.stderr[-3000:]
    assert _unlisted(s3) == set() and len(_pointers(s3)) == 1


def test_the_loser_keeps_what_the_snapshot_it_started_from_lists(
    s3: ObjectServer, tmp_path: Path
) -> None:
    """The first build published once (D0); it builds again with one source changed (its sft
    partitions reused from D0, its cpt one new) and loses the publish to the second (retention
    24 h: D0's shards and quarantine kept for its readers). The loser removes only what it
    moved in itself: every file D0 lists, and D0's pointer, stay."""
    first, second = _projects(s3, tmp_path, retention=24)
    built = restart.run_core_build(first, env=s3.env)
    assert built.returncode == 0, built.stderr[-3000:]
    d0 = read_bytes(s3.url("pkg/metadata.json"))
    kept = {s["path"] for f in orjson.loads(d0)["files"] for s in f["shards"]}
    notes = first.parent / "raw" / "cpt" / "notes_a.jsonl"
    notes.write_bytes(notes.read_bytes() + restart.note_line(99999) + b"\n")
    pause = tmp_path / "pause"
    waiting = _popen(first, {PAUSE_ENV_VAR: "before_publish", PAUSE_FILE_ENV_VAR: str(pause)})
    _wait_paused(waiting, pause)
    moved = {k for k in _keys(s3, "pkg") if k.startswith("data/")} - kept
    assert moved  # the new cpt shards
    winner = restart.run_core_build(second, env=s3.env)
    assert winner.returncode == 0, winner.stderr[-3000:]
    pause.unlink()
    _, err = waiting.communicate(timeout=180)
    assert waiting.returncode != 0 and "HTTP 412" in err, err[-3000:]
    assert _unlisted(s3) <= kept and not _unlisted(s3) & moved
    assert kept <= _keys(s3, "pkg")
    won = read_bytes(s3.url("pkg/metadata.json"))
    assert _pointers(s3) == {pointer_rel(won), pointer_rel(d0)}
    pointer = read_pointer(StoreURL(s3.url("pkg-q")), d0)
    assert pointer is not None
    named = {f["path"] for p in pointer["partitions"].values() for f in p["files"]}
    assert named <= _keys(s3, "pkg-q")


def test_what_a_killed_build_with_its_work_dir_lost_left_is_swept_after_the_grace(
    s3: ObjectServer, tmp_path: Path
) -> None:
    """The first build is killed as it writes its candidate metadata.json (its shards and
    quarantine moved in, no pointer yet) and its work dir is lost; the second publishes
    (retention 0): the first's shards stay for the grace (another machine's build may be
    about to publish them), and a publish a day later sweeps them, and the quarantine files no
    pointer names (before: kept for good)."""
    first, second = _projects(s3, tmp_path)
    killed = restart.run_core_build(first, kill_at="before_rename:metadata.json", env=s3.env)
    assert killed.returncode != 0
    shutil.rmtree(first.parent / "work")
    left = {k for k in _keys(s3, "pkg") if k.startswith("data/")}
    assert left and not _pointers(s3)
    quarantined = _keys(s3, "pkg-q")
    winner = restart.run_core_build(second, env=s3.env)
    assert winner.returncode == 0, winner.stderr[-3000:]
    assert _unlisted(s3) == left  # within the grace: kept
    assert quarantined <= _keys(s3, "pkg-q")
    package, root = StoreURL(s3.url("pkg")), StoreURL(s3.url("pkg-q"))
    data = read_bytes(s3.url("pkg/metadata.json"))
    doc = own_manifest(package)
    assert doc is not None
    published = (read_pointer(root, data), pointer_rel(data))
    later = time.time() + (ORPHAN_GRACE_HOURS + 1) * 3600
    collect_garbage(  # the GC of a publish a day later, from the second's work dir
        package,
        second.parent / "work",
        doc,
        doc,
        0,
        now=later,
        quarantine=QuarantineSnapshots(root, published, published),
        sweep=Sweep(time.time()),
    )
    assert _unlisted(s3) == set()
    assert _pointers(s3) == {pointer_rel(data)}
    assert published[0] is not None
    named = {f["path"] for p in published[0]["partitions"].values() for f in p["files"]}
    assert {k for k in _keys(s3, "pkg-q") if not k.startswith("snapshots/")} == named


def test_the_sweep_waits_for_the_retention_window_and_the_grace(tmp_path: Path) -> None:
    """A shard of our shape that nothing names is swept only once the replaced metadata.json
    was published `retention` ago and the shard is ORPHAN_GRACE_HOURS old; a named one, a
    foreign-shaped one and one outside a snapshot folder never."""
    now = time.time()
    old = now - (ORPHAN_GRACE_HOURS + 1) * 3600
    folder = tmp_path / "data" / "sft-train-0123456789abcdef"
    folder.mkdir(parents=True)
    names = ["sft-train-00000.jsonl.zst", "sft-train-00001.jsonl.zst", "notes.txt"]
    for name in names:
        (folder / name).write_bytes(b"x")
        os.utime(folder / name, (old, old))
    fresh = folder / "sft-train-00002.jsonl.zst"
    fresh.write_bytes(b"x")
    flat = tmp_path / "data" / "sft-train-00003.jsonl.zst"
    flat.write_bytes(b"x")
    os.utime(flat, (old, old))
    named = {"data/sft-train-0123456789abcdef/sft-train-00001.jsonl.zst"}
    assert sweep_shards(tmp_path, named, now - 1800, 3600, now) == []  # within the window
    assert sweep_shards(tmp_path, named, now - 7200, 3600, now) == [
        "data/sft-train-0123456789abcdef/sft-train-00000.jsonl.zst"
    ]
    assert sorted(p.name for p in folder.iterdir()) == sorted([*names[1:], fresh.name])
    assert flat.exists()
