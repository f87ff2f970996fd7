"""kill -9 around the retention GC, then a rerun: the final state of an uninterrupted run
(core/store/package_gc.py, core/stages/manifest_stage.py).

Before: what the replaced metadata.json listed was held only in memory between the publish
and the GC, so a build killed after metadata.json was replaced but before the GC recorded
retired.json left the shards only that document listed (another dataset's, replaced with
`--replace-other-dataset`; or this dataset's, its work dir lost) named by nothing: never
retired, never removed, not even called foreign; the other dataset's quarantine pointer was
left out of retired_quarantine.json the same way. And a GC killed after it settled a ledger
but before it removed the emptied folders left an empty snapshot folder for good (in `data/`
and in the quarantine dir): the folders to remove came only from names still recorded.

The builds are the core stages in a subprocess (test_restart.run_core_build) with a kill
point; the later clock (FAKE_TIME_ENV) puts a publish after the retention window."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

from jsonl_assets.core.store.package_gc import QuarantineSnapshots, collect_garbage

from ...test_restart import (
    FAKE_TIME_ENV,
    REPLACE_OTHER_ENV,
    chat_line,
    make_project,
    note_line,
    run_core_build,
)

HEX = "0123456789abcdef"


def _project(root: Path, name: str, shared: Path, retention: float, shift: int = 0) -> Path:
    """A small project whose package and quarantine dirs are `shared`'s, dataset `name`."""
    config = make_project(root, chats=150 + shift, notes=60 + shift)
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["dataset"]["name"] = name
    doc["output"].update(
        dir=str(shared / "package"),
        quarantine_dir=str(shared / "quarantine"),
        retention_hours=retention,
        max_bytes_per_shard=4000,
    )
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return config


def _change_inputs(root: Path, extra: int) -> None:
    """More records in each source: every partition's snapshot folder changes."""
    with open(root / "raw" / "sft" / "chats_a.jsonl", "ab") as out:
        out.write(b"".join(chat_line(10_000 + i) + b"\n" for i in range(extra)))
    with open(root / "raw" / "cpt" / "notes_a.jsonl", "ab") as out:
        out.write(b"".join(note_line(10_000 + i) + b"\n" for i in range(extra)))


def _build(config: Path, kill_at: str | None = None, replace: bool = False, later: float = 0):
    env = {REPLACE_OTHER_ENV: "1"} if replace else {}
    if later:
        env[FAKE_TIME_ENV] = str(time.time() + later)
    run = run_core_build(config, kill_at=kill_at, env=env)
    if kill_at:
        assert run.returncode == -9, f"{kill_at} not reached: {run.stderr[-2000:]}"
    else:
        assert run.returncode == 0, run.stderr[-3000:]


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _published(shared: Path) -> tuple[set[str], set[str]]:
    """The package's files and the quarantine's that the published snapshot names."""
    import hashlib

    data = (shared / "package" / "metadata.json").read_bytes()
    doc = orjson.loads(data)
    shards = {s["path"] for f in doc["files"] for s in f["shards"]}
    rel = f"snapshots/{hashlib.sha256(data).hexdigest()[:16]}.json"
    pointer = orjson.loads((shared / "quarantine" / rel).read_bytes())
    named = {f["path"] for p in pointer["partitions"].values() for f in p["files"]}
    return shards | {"metadata.json"}, named | {rel}


def _only_the_published(shared: Path) -> None:
    package, quarantine = _published(shared)
    on_disk = {n for n in _files(shared / "package") if not n.startswith(".")}
    assert on_disk == package, sorted(on_disk ^ package)
    q_on_disk = {n for n in _files(shared / "quarantine") if not n.startswith(".")}
    assert q_on_disk == quarantine, sorted(q_on_disk ^ quarantine)


def test_a_kill_after_the_publish_of_another_dataset_still_retires_what_it_replaced(
    tmp_path: Path,
) -> None:
    """beta replaces alpha's package (`--replace-other-dataset`) and is killed after its
    metadata.json is published, before the GC records retired.json; the rerun retires alpha's
    shards and pointer, and the publish after the window removes them."""
    shared = tmp_path / "shared"
    alpha = _project(tmp_path / "alpha", "alpha", shared, retention=1)
    _build(alpha)
    alpha_shards = _published(shared)[0] - {"metadata.json"}
    beta = _project(tmp_path / "beta", "beta", shared, retention=1, shift=17)
    _build(beta, kill_at="before_rename:retired.json", replace=True)
    _build(beta, replace=True)
    retired = orjson.loads((tmp_path / "beta/work/manifest/retired.json").read_bytes())
    assert alpha_shards - _published(shared)[0] <= set(retired)
    q_retired = (tmp_path / "beta/work/manifest/retired_quarantine.json").read_bytes()
    alpha_pointer = {n for n in _files(shared / "quarantine") if n.startswith("snapshots/")}
    alpha_pointer -= _published(shared)[1]
    assert len(alpha_pointer) == 1 and alpha_pointer <= set(orjson.loads(q_retired))
    _build(beta, replace=True, later=2 * 3600)  # after the window
    _only_the_published(shared)


def test_a_kill_after_the_publish_with_the_work_dir_lost_still_retires_what_it_replaced(
    tmp_path: Path,
) -> None:
    """The work dir is lost, the inputs change, and the rebuild is killed after its publish,
    before the GC records retired.json: the shards only the replaced metadata.json listed
    still go after the window."""
    shared = tmp_path / "shared"
    config = _project(tmp_path / "p", "same", shared, retention=1)
    _build(config)
    shutil.rmtree(tmp_path / "p" / "work")
    _change_inputs(tmp_path / "p", 23)
    _build(config, kill_at="before_rename:retired.json")
    _build(config)
    _build(config, later=2 * 3600)
    _only_the_published(shared)


def _empty_folders(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_dir() and not any(p.iterdir())
    )


def test_a_kill_inside_the_gc_leaves_no_empty_snapshot_folder(tmp_path: Path) -> None:
    """Killed after one partition's ledger was settled (shards, then quarantine files), before
    the emptied folders went: the rerun removes them."""
    for point in ("before_rename:package_files:2", "before_rename:quarantine_files:2"):
        shared = tmp_path / point.replace(":", "_")
        config = _project(shared / "p", "gc", shared, retention=0)
        _build(config)
        _change_inputs(shared / "p", 11)
        _build(config, kill_at=point)
        _build(config)
        _only_the_published(shared)
        for root in (shared / "package", shared / "quarantine"):
            assert _empty_folders(root) == [], (point, root)


def _doc(*paths: str) -> dict[str, Any]:
    return {"files": [{"shards": [{"path": p} for p in paths]}]}


def test_only_empty_folders_of_our_snapshot_shape_are_swept(tmp_path: Path) -> None:
    """An empty snapshot folder nothing lists goes; one holding anything (a foreign file), one
    a ledger names a shard in (retired, in its window), and a folder of another shape stay;
    the window is no matter for an empty folder."""
    package, work, quarantine = tmp_path / "pkg", tmp_path / "work", tmp_path / "q"
    empty = package / f"data/sft-train-{HEX}"
    claimed = package / f"data/sft-test-{HEX}"
    holding = package / f"data/cpt-train-{HEX}"
    q_empty, q_other = quarantine / f"rft-validation-{HEX}", quarantine / f"notes-train-{HEX}"
    q_holding = quarantine / f"sft-train-{HEX}"
    for folder in (empty, claimed, holding, q_empty, q_other, q_holding, package / "data/x"):
        folder.mkdir(parents=True)
    (holding / "README.txt").write_text("mine")
    (q_holding / "notes.txt").write_text("mine")
    ledger = work / "sft" / "test" / "package_files"
    ledger.parent.mkdir(parents=True)
    ledger.write_text(f"data/sft-test-{HEX}/sft-test-00000.jsonl.zst\n")
    snapshots = QuarantineSnapshots(quarantine, (None, None), (None, None))
    collect_garbage(package, work, None, _doc(), 1, quarantine=snapshots)  # a window
    assert not empty.exists() and not q_empty.exists()
    for kept in (claimed, holding, q_other, q_holding, package / "data/x"):
        assert kept.is_dir(), kept
