"""Two builders of the same partition never write the same file at once.

Each stage holds the partition's lock (`flock` on `<work>/<objective>/<split>/.lock`) while it
runs, and the manifest publication holds `<work>/manifest/.lock`. A second builder waits; past
its timeout it fails with a message naming the partition and the holder's pid, having written
nothing. A lock whose holder was killed (`kill -9`) is free at once: the kernel drops a dead
process's `flock`, whatever its lock file still says. Two complete builds started together on
the same project both succeed and leave exactly the bytes of a single build.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import pytest

from jsonl_assets.core.store.partition_lock import PartitionBusyError, partition_lock
from jsonl_assets.defs.assets import STAGE_ASSETS
from jsonl_assets.defs.resources import PipelineResource
from jsonl_assets_tests import test_restart as restart

KEY = "cpt|train"

HOLD = """
import sys, time
from pathlib import Path
from jsonl_assets.core.store.partition_lock import partition_lock
with partition_lock(Path(sys.argv[1]), sys.argv[2], 30):
    print("locked", flush=True)
    time.sleep(float(sys.argv[3]))
    print(time.time(), flush=True)  # about to release
"""


def _hold_lock(work: Path, key: str, seconds: float) -> subprocess.Popen[str]:
    """Another process that takes the partition's lock and keeps it for `seconds`."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(work), key, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(restart.REPO)},
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_second_builder_fails_clearly_then_waits_then_recovers_a_killed_holder(
    tmp_path: Path,
) -> None:
    config = restart.make_project(tmp_path, chats=300, notes=300)
    work = tmp_path / "work" / "cpt" / "train"
    holder = _hold_lock(work, KEY, 30)
    try:
        # A builder with a short timeout gives up with a clear message and writes nothing.
        with dg.instance_for_test() as instance:
            result = dg.materialize(
                STAGE_ASSETS,
                partition_key=KEY,
                instance=instance,
                resources={
                    "pipeline": PipelineResource(config_path=str(config), lock_timeout_seconds=1)
                },
                raise_on_error=False,
            )
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        error = failure.event_specific_data.error
        while error.cls_name.startswith("Dagster"):
            error = error.cause
        # said in one line (defs/user_errors.py)
        assert error.cls_name == "Failure"
        assert f"partition {KEY} is being built by another process (pid {holder.pid})" in (
            error.message
        )
        assert sorted(p.name for p in work.iterdir()) == [".lock"]
        assert not (tmp_path / "package").exists()

        # The holder is killed while it holds the lock: the lock is free at once.
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert (work / ".lock").read_text() == str(holder.pid)  # what the dead holder left
        started = time.monotonic()
        with partition_lock(work, KEY, timeout=5):
            assert time.monotonic() - started < 1.0
            assert (work / ".lock").read_text() == str(os.getpid())
    finally:
        holder.kill()
        holder.wait()

    # A builder that may wait, waits for a live holder to finish, then builds.
    holder = _hold_lock(work, KEY, 1.5)
    started = time.monotonic()
    with pytest.raises(PartitionBusyError), partition_lock(work, KEY, timeout=0.3):
        pass
    built = restart.run_core_build(config, keys=(KEY,))
    waited = time.monotonic() - started
    assert built.returncode == 0, built.stderr[-2000:]
    assert holder.stdout is not None
    released = float(holder.stdout.readline())
    holder.wait()
    # The builder's first marker was written after the holder let go, not before.
    assert (work / "extracted.json").stat().st_mtime >= released - 0.05
    print(f"\nthe second builder waited for the first to finish, then built ({waited:.1f} s)")


def test_two_builds_of_the_same_project_at_once_equal_one_build(tmp_path: Path) -> None:
    reference = restart.make_project(tmp_path / "clean", chats=600, notes=600)
    restart.build_stages(reference)
    expected = restart.outputs(reference.parent)
    config = restart.make_project(tmp_path / "shared", chats=600, notes=600)
    for attempt in range(2):  # the second time, everything is reused by both
        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = [pool.submit(restart.run_core_build, config) for _ in range(2)]
            results = [r.result() for r in runs]
        for run in results:
            assert run.returncode == 0, f"attempt {attempt}: {run.stderr[-3000:]}"
        assert restart.outputs(config.parent) == expected, f"attempt {attempt}"


PUBLISH_LOOP = """
import sys
from pathlib import Path
from jsonl_assets_tests.test_restart import build_stages
for _ in range(int(sys.argv[2])):
    build_stages(Path(sys.argv[1]), ("cpt|train",))  # all stages reused: mostly the publication
"""


def test_concurrent_publications_of_the_same_package_take_turns(tmp_path: Path) -> None:
    # Without the manifest lock, two publications share `.metadata.json.partial`: one renames
    # it away under the other (FileNotFoundError) in about one run in three of this loop.
    config = restart.make_project(tmp_path, chats=300, notes=300)
    restart.build_stages(config, (KEY,))
    expected = restart.outputs(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(restart.REPO)}
    loops = [
        subprocess.Popen(
            [sys.executable, "-c", PUBLISH_LOOP, str(config), "50"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for loop in loops:
        _, err = loop.communicate(timeout=120)
        assert loop.returncode == 0, err[-2000:]
    assert restart.outputs(tmp_path) == expected
