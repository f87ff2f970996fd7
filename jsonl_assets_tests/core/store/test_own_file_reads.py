"""Every read of a file the project writes itself (markers, chunks/plan.json, the sensor's
snapshot file, the lock holders, the quarantine files it digests, the record-id Arrow files,
a file it copies in) goes through the store's one read (`store.base.read_bytes`,
`Store.open_read`: a regular file only, opened without blocking). A FIFO in its place is
refused at once and taken as the caller takes an unreadable file: a rebuild, nothing shown, or
an OSError naming it. Before, a FIFO `chunks/plan.json` or `shards.json` hung `build` and
`report` forever, without a word (plain `Path.read_bytes()`: a blocking open).

Each read runs in a thread: one that still waits after a few seconds fails its test (and a
writer's open of the FIFO then lets it go), instead of blocking the suite."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from jsonl_assets.core.arrow_files import scan_ipc_file
from jsonl_assets.core.build import built_partition, dirs_for, read_marker_any
from jsonl_assets.core.chunks.plan import CHUNKS_DIR, PLAN, recorded_plan
from jsonl_assets.core.config import load_config
from jsonl_assets.core.partition_state import BUILD, NO_SOURCES, partition_state
from jsonl_assets.core.quarantine_snapshot import _digest
from jsonl_assets.core.sensor_cursor import CURSOR_FORMAT, SNAPSHOT_PREFIX, load_cursor
from jsonl_assets.core.stages.transform_stage import upstream_marker
from jsonl_assets.core.store.base import copy_file_in, store_for
from jsonl_assets.core.store.package_lock import HOLDER_NAME, read_holder
from jsonl_assets.core.store.partition_lock import lock_holder
from jsonl_assets.core.store.work_files import PartitionDirs, partition_dirs

WAIT = 5.0  # seconds: a refused FIFO answers in microseconds


def _ends(read: Callable[[], Any], fifo: Path) -> dict[str, Any]:
    """`read()`'s outcome ({"value": ...} or {"error": ...}); the test fails if it still waits
    after WAIT seconds (the FIFO then gets a writer, so the thread ends)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = read()
        except Exception as exc:  # the outcome is what the test judges
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WAIT)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # its open ends the wait; EOF
        thread.join(WAIT)
        pytest.fail(f"the read of {fifo.name} waited for a writer on the FIFO")
    return box


def _refused(box: dict[str, Any], fifo: Path) -> None:
    """The read raised an OSError naming the FIFO (the build's one-line message)."""
    error = box.get("error")
    assert isinstance(error, OSError), box
    assert str(fifo) in str(error) and "not a regular file" in str(error)


def _dirs(tmp_path: Path) -> PartitionDirs:
    dirs = partition_dirs(tmp_path / "w", tmp_path / "q", tmp_path / "pkg", "cpt", "train")
    dirs.quarantine.mkdir(parents=True)
    return dirs


def test_a_fifo_marker_is_named_not_waited_for(tmp_path: Path) -> None:
    """build.read_marker_any (the shards step, report, the run summary) and
    transform_stage.upstream_marker (the shards stage)."""
    dirs = _dirs(tmp_path)
    fifo = dirs.file("shards.json")
    os.mkfifo(fifo)
    _refused(_ends(lambda: read_marker_any(dirs, "shards.json"), fifo), fifo)
    _refused(_ends(lambda: upstream_marker(dirs, "shards.json"), fifo), fifo)
    fifo.unlink()
    fifo.write_bytes(orjson.dumps({"fingerprint": "f", "report": {"stage": "shards"}}))
    assert read_marker_any(dirs, "shards.json") == {
        "fingerprint": "f",
        "report": {"stage": "shards"},
    }
    assert upstream_marker(dirs, "shards.json") == ("f", {"stage": "shards"})


def test_a_fifo_shards_marker_means_build_and_report_says_so(sample_project: Path) -> None:
    """The CLI's up-to-date check of a partition no source feeds (a FIFO shards.json: build,
    whose shards step then names it) and `report`'s built partitions (the OSError naming it,
    which the CLI prints in one line)."""
    cfg = load_config(sample_project)
    dirs = dirs_for(cfg, "rft|validation")
    assert partition_state(cfg, dirs) == NO_SOURCES
    dirs.work.mkdir(parents=True)
    fifo = dirs.file("shards.json")
    os.mkfifo(fifo)
    assert _ends(lambda: partition_state(cfg, dirs), fifo) == {"value": BUILD}
    _refused(_ends(lambda: built_partition(cfg, "rft|validation"), fifo), fifo)


def test_a_fifo_chunk_plan_is_no_plan(tmp_path: Path) -> None:
    """chunks.plan.recorded_plan (the extracted asset's metadata): unreadable, it shows none,
    as a corrupt plan does."""
    dirs = _dirs(tmp_path)
    plan = dirs.work / CHUNKS_DIR / PLAN
    plan.parent.mkdir(parents=True)
    os.mkfifo(plan)
    assert _ends(lambda: recorded_plan(dirs), plan) == {"value": None}
    plan.unlink()
    plan.mkdir()
    assert recorded_plan(dirs) is None
    plan.rmdir()
    plan.write_bytes(orjson.dumps({"fingerprint": "f", "report": {"files": 1, "chunks": []}}))
    assert recorded_plan(dirs) == {"files": 1, "chunks": []}


def test_a_fifo_sensor_snapshot_is_a_new_baseline(tmp_path: Path) -> None:
    """sensor_cursor.load_cursor: the snapshot file the cursor names, unreadable, is
    None (the sensor takes a new baseline), as when it is gone."""
    name = SNAPSHOT_PREFIX + "0" * 16 + ".json"
    cursor = orjson.dumps(
        {"format": CURSOR_FORMAT, "snapshot": name, "epoch": "e", "generation": 1}
    )
    os.mkfifo(tmp_path / name)
    assert _ends(lambda: load_cursor(cursor.decode(), tmp_path), tmp_path / name) == {"value": None}


def test_a_fifo_lock_holder_file_is_no_holder(tmp_path: Path) -> None:
    """package_lock.read_holder (None: no holder known) and partition_lock.lock_holder
    ("unknown"), as for a holder file that cannot be read."""
    holder = tmp_path / HOLDER_NAME
    os.mkfifo(holder)
    assert _ends(lambda: read_holder(tmp_path), holder) == {"value": None}
    lock = tmp_path / "partition.lock"
    os.mkfifo(lock)
    assert _ends(lambda: lock_holder(lock), lock) == {"value": "unknown"}
    lock.unlink()
    lock.write_text("4242\n")
    assert lock_holder(lock) == "4242"


def test_a_fifo_among_the_files_read_whole_is_named(tmp_path: Path) -> None:
    """quarantine_snapshot._digest (a partition's quarantine file), arrow_files.scan_ipc_file
    (record ids; polars' own open of a FIFO waits too) and base.copy_file_in (a file moved
    in across file systems): an OSError naming the FIFO, nothing written."""
    dirs = _dirs(tmp_path)
    fifo = dirs.quarantine / "extract.jsonl"
    os.mkfifo(fifo)
    _refused(_ends(lambda: _digest(fifo), fifo), fifo)
    ids = dirs.file("ids.arrow")
    os.mkfifo(ids)
    _refused(_ends(lambda: scan_ipc_file(ids).collect(), ids), ids)
    target = tmp_path / "copied"
    _refused(_ends(lambda: copy_file_in(store_for(target), fifo, target, 1 << 20), fifo), fifo)
    assert not target.exists()
    fifo.unlink()
    fifo.write_bytes(b"a\nb\n")
    assert _digest(fifo)[1:] == (4, 2)
    copy_file_in(store_for(target), fifo, target, 1 << 20)
    assert target.read_bytes() == b"a\nb\n"


@pytest.mark.parametrize("content", [b"null", b"[]", b'"x"', b'{"fingerprint": 1}'])
def test_a_marker_of_valid_json_but_no_object_is_no_marker(tmp_path: Path, content: bytes) -> None:
    """`null` in shards.json made `build` exit with an AttributeError traceback, every run."""
    from jsonl_assets.core.stages.transform_stage import StageError
    from jsonl_assets.core.store.work_files import read_marker

    dirs = _dirs(tmp_path)
    marker = dirs.file("validated.json")
    marker.write_bytes(content)
    assert read_marker(marker, "1") is None
    assert read_marker_any(dirs, "validated.json") is None or content.startswith(b"{")
    with pytest.raises(StageError, match=r"validated\.json is damaged"):
        upstream_marker(dirs, "validated.json")
