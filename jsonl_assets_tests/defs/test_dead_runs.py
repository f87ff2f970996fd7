"""Runs whose worker process is gone are marked failed (`defs/dead_runs.py`), on real
instances: by the `dead_runs` sensor and by the next `jsonl-assets build`."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData
from dagster._core.test_utils import create_run_for_test

from jsonl_assets.defs.dead_runs import (
    DEAD_RUNS_SENSOR_NAME,
    PLACE_KEY,
    START_KEY,
    STARTED_MESSAGE,
    dead_runs_sensor,
    worker_metadata,
)
from jsonl_assets.defs.definitions import defs

REPO = Path(__file__).resolve().parents[2]


def started_run(
    instance: dg.DagsterInstance,
    pid: int,
    data: EngineEventData | None = None,
    at: float | None = None,
    partition: str = "sft|train",
    status: dg.DagsterRunStatus = dg.DagsterRunStatus.STARTED,
) -> dg.DagsterRun:
    """A build_partition run (STARTED unless said) whose worker reported itself as `pid` (at
    time `at`)."""
    run = create_run_for_test(
        instance,
        job_name="build_partition",
        status=status,
        tags={"dagster/partition": partition},
    )
    message = STARTED_MESSAGE.format(pid=pid)
    event = DagsterEvent(
        event_type_value=DagsterEventType.ENGINE_EVENT.value,
        job_name=run.job_name,
        message=message,
        event_specific_data=data or EngineEventData.in_process(pid),
    )
    instance.store_event(
        dg.EventLogEntry(
            error_info=None,
            level=logging.DEBUG,
            user_message="",  # as Dagster stores it: the message is the event's
            run_id=run.run_id,
            timestamp=at if at is not None else time.time(),
            dagster_event=event,
        )
    )
    return run


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen(["sleep", "60"])
    yield child
    child.kill()
    child.wait()


def tick(instance: dg.DagsterInstance) -> str:
    result = dead_runs_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(result, dg.SkipReason)
    return result.skip_message or ""


def status(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dg.DagsterRunStatus:
    current = instance.get_run_by_id(run.run_id)
    assert current is not None
    return current.status


def test_the_sensor_is_on_by_default() -> None:
    sensor = defs().get_repository_def().get_sensor_def(DEAD_RUNS_SENSOR_NAME)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_a_run_whose_worker_died_is_marked_failed(instance: dg.DagsterInstance) -> None:
    run = started_run(instance, dead_pid())
    said = tick(instance)
    assert run.run_id in said and "sft|train" in said
    assert status(instance, run) == dg.DagsterRunStatus.FAILURE
    failure = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_FAILURE).records
    said = failure[0].event_log_entry.dagster_event
    assert said is not None and "worker process (pid" in (said.message or "")
    assert tick(instance).startswith("no run")  # marked once


def test_a_run_whose_worker_lives_is_left_alone(
    instance: dg.DagsterInstance, sleeper: subprocess.Popen[bytes]
) -> None:
    ours = started_run(instance, os.getpid())
    theirs = started_run(instance, sleeper.pid, data=worker_metadata(sleeper.pid))
    assert tick(instance).startswith("no run")
    assert status(instance, ours) == dg.DagsterRunStatus.STARTED
    assert status(instance, theirs) == dg.DagsterRunStatus.STARTED


def test_a_pid_reused_by_a_newer_process_counts_as_dead(
    instance: dg.DagsterInstance, sleeper: subprocess.Popen[bytes]
) -> None:
    # The run's worker reported this pid a minute before the process holding it started.
    run = started_run(instance, sleeper.pid, at=time.time() - 60)
    assert run.run_id in tick(instance)
    assert status(instance, run) == dg.DagsterRunStatus.FAILURE


def test_a_run_of_another_host_is_left_alone(instance: dg.DagsterInstance) -> None:
    pid = dead_pid()
    data = EngineEventData(
        metadata={"pid": dg.MetadataValue.text(str(pid)), "host": "elsewhere.invalid"}
    )
    run = started_run(instance, pid, data=data)
    assert tick(instance).startswith("no run")
    assert status(instance, run) == dg.DagsterRunStatus.STARTED


def _recorded(pid: int, **changes: str) -> EngineEventData:
    """A build run's pid event for `pid`, with some of its metadata changed."""
    metadata = dict(worker_metadata(pid).metadata)
    metadata.update({key: dg.MetadataValue.text(value) for key, value in changes.items()})
    return EngineEventData(metadata=metadata)


def test_a_build_run_of_another_pid_namespace_is_left_alone(instance: dg.DagsterInstance) -> None:
    # A build in a container with this host's name: its pids are not this /proc's, so a pid
    # missing here says nothing (a live run was marked failed), and one present is another
    # process.
    pid = dead_pid()
    elsewhere = started_run(instance, pid, data=_recorded(os.getpid(), **{PLACE_KEY: "b/pid:[1]"}))
    assert "pid:[" in worker_metadata(os.getpid()).metadata[PLACE_KEY].value
    assert tick(instance).startswith("no run")
    assert status(instance, elsewhere) == dg.DagsterRunStatus.STARTED


def test_a_build_runs_pid_held_by_a_process_of_another_start_counts_as_dead(
    instance: dg.DagsterInstance, sleeper: subprocess.Popen[bytes]
) -> None:
    start = int(worker_metadata(sleeper.pid).metadata[START_KEY].value)
    run = started_run(
        instance, sleeper.pid, data=_recorded(sleeper.pid, **{START_KEY: str(start - 1)})
    )
    assert run.run_id in tick(instance)
    assert status(instance, run) == dg.DagsterRunStatus.FAILURE


def test_a_starting_run_whose_worker_died_is_marked_failed(
    instance: dg.DagsterInstance, sleeper: subprocess.Popen[bytes]
) -> None:
    # Dagster's launcher writes the worker's pid while the run is STARTING (the worker then
    # spends seconds loading the code): a worker killed then must not hold the queue until
    # run monitoring's start timeout (180 s).
    starting = dg.DagsterRunStatus.STARTING
    dead = started_run(instance, dead_pid(), status=starting)
    alive = started_run(instance, sleeper.pid, status=starting, partition="cpt|train")
    launching = create_run_for_test(instance, job_name="build_partition", status=starting)
    said = tick(instance)
    assert dead.run_id in said and alive.run_id not in said and launching.run_id not in said
    assert status(instance, dead) == dg.DagsterRunStatus.FAILURE
    assert status(instance, alive) == starting
    assert status(instance, launching) == starting  # no pid yet: left to run monitoring


def test_a_canceling_run_whose_worker_died_is_canceled(instance: dg.DagsterInstance) -> None:
    run = started_run(instance, dead_pid())
    instance.report_run_canceling(run)
    assert run.run_id in tick(instance)
    assert status(instance, run) == dg.DagsterRunStatus.CANCELED


def cli_build(config: Path, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, "DAGSTER_HOME": str(home)}
    full["PYTHONPATH"] = str(REPO) + os.pathsep + full.get("PYTHONPATH", "")
    args = [sys.executable, "-m", "jsonl_assets.cli", "build", "--config", str(config)]
    args += ["--workers", "1", "--partition", "sft|train"]
    return subprocess.run(
        args, env=full, capture_output=True, text=True, timeout=180, cwd=config.parent
    )


def test_a_killed_build_frees_its_partition(sample_project: Path, tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    killed = cli_build(sample_project, home, JSONL_ASSETS_KILL_AT="shard.frame")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (dead,) = instance.get_runs(filters=dg.RunsFilter(job_name="build_partition"))
        assert dead.status == dg.DagsterRunStatus.STARTED  # its process is gone
    rerun = cli_build(sample_project, home)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"dead run marked: run {dead.run_id} (sft|train)" in rerun.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(job_name="build_partition"))
        assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 1 + [
            dg.DagsterRunStatus.FAILURE
        ]
        failed = instance.get_run_by_id(dead.run_id)
        assert failed is not None and failed.tags.get("dagster/max_retries") == "0"
