"""Runs whose worker process died (kill -9, OOM, a crash of `dagster dev` or of a
`jsonl-assets build`) are marked failed, so they stop holding their partition's only slot.

Dagster's default run launcher cannot probe a run worker's health, and its run monitoring
only fails runs stuck in STARTING or CANCELING, after minutes (start_timeout_seconds, 180): a
run whose process is gone would stay STARTED forever and, with `dagster.yaml`'s
`dagster/partition` limit of 1, every later run of that partition would wait QUEUED forever
(and a dead STARTING run would hold its slot for those minutes).

A run's worker is known by the engine event "Started process for run (pid: N)" (metadata
`pid`): Dagster writes it when the default launcher starts a run (UI, schedule, sensor,
retry), and `defs/runs.py` writes the same for the runs of `jsonl-assets build` (its forked
workers), with where the pid means something (the host, the boot and the pid namespace: a
container with the host's name numbers its processes apart) and the process's start time
(in clock ticks since boot). A STARTING, STARTED or CANCELING run is dead when that pid is
not running, is a zombie, or is another process that reused the pid (another start time; for
Dagster's own event, which has none, a process started after the run's worker reported
itself). Only runs whose pid can be judged here are: a build's run recorded in this boot
and pid namespace, and Dagster's own when this instance can only run them here (the default
run launcher and local SQLite storage). A run without such an event is left alone: a STARTING
run may be just launching, and one whose launch died before its pid was written is left to
run monitoring.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import dagster as dg
from dagster._core.events import (
    DagsterEventType,
    EngineEventData,
    JobFailureData,
    RunFailureReason,
)
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.storage.runs import InMemoryRunStorage, SqliteRunStorage

DEAD_RUNS_SENSOR_NAME: Final = "dead_runs"
DEAD_RUNS_INTERVAL_SECONDS: Final = 30
STARTED_MESSAGE: Final = "Started process for run (pid: {pid})."  # as dagster/_grpc/impl.py
HOST_KEY: Final = "host"
PLACE_KEY: Final = "pid_namespace"  # `<boot id>/<pid namespace>`: where the pid is this process
START_KEY: Final = "start_ticks"  # the process's start, clock ticks after boot (/proc/<pid>/stat)
# A process that started this long after its run's pid event is a newer one that reused the
# pid (the worker reports itself after it started; /proc's boot time is in whole seconds).
REUSE_SLACK_SECONDS: Final = 2.0
# A run's worker writes its pid event while the run is STARTING (Dagster's launcher, before
# the worker loads the code and reports STARTED): a worker dead by then is judged too.
JUDGED: Final = (
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)


@dataclass(frozen=True)
class Worker:
    """A run's worker as its pid event recorded it."""

    pid: int
    host: str | None  # None: Dagster's own event, which names no host
    reported_at: float  # the event's timestamp (epoch seconds)
    place: str | None = None  # PLACE_KEY of a build's run (None: not recorded or no /proc)
    start: int | None = None  # START_KEY of a build's run


def worker_metadata(pid: int) -> EngineEventData:
    """The metadata of the pid event a `jsonl-assets build` run writes for itself."""
    metadata = {
        "pid": dg.MetadataValue.text(str(pid)),
        HOST_KEY: dg.MetadataValue.text(socket.gethostname()),
    }
    place, stat = pid_place(), _stat(pid)
    if place is not None and stat is not None:
        metadata[PLACE_KEY] = dg.MetadataValue.text(place)
        metadata[START_KEY] = dg.MetadataValue.text(str(stat[1]))
    return EngineEventData(metadata=metadata)


def pid_place() -> str | None:
    """`<boot id>/<pid namespace>` of this process: a pid names one process only there."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return None


def _text(value: object) -> str | None:
    return str(getattr(value, "value", value)) if value is not None else None


def run_worker(instance: dg.DagsterInstance, run_id: str) -> Worker | None:
    """The newest worker recorded for `run_id` (a resumed run has several), or None."""
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ENGINE_EVENT, ascending=False, limit=1000
    ).records
    for record in records:
        entry = record.event_log_entry
        event = entry.dagster_event
        data = event.event_specific_data if event else None
        metadata = getattr(data, "metadata", None) or {}
        pid = _text(metadata.get("pid"))
        said = (event.message if event else None) or entry.user_message
        if pid and pid.isascii() and pid.isdigit() and said.startswith("Started process for run"):
            start = _text(metadata.get(START_KEY))
            return Worker(
                int(pid),
                _text(metadata.get(HOST_KEY)),
                entry.timestamp,
                _text(metadata.get(PLACE_KEY)),
                int(start) if start and start.isascii() and start.isdigit() else None,
            )
    return None


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...), or None when
    no such process exists (or there is no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    return stat[stat.rindex(")") + 2 :].split()


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start in clock ticks after boot) of a running pid, or None."""
    fields = proc_stat(pid)
    return None if fields is None else (fields[0], int(fields[19]))


def process_state(pid: int) -> tuple[str, float] | None:
    """(state letter, start time in epoch seconds) of a running pid from /proc, or None when
    no such process exists."""
    stat = _stat(pid)
    if stat is None:
        return None
    boot = _boot_time() or 0.0
    return stat[0], boot + stat[1] / os.sysconf("SC_CLK_TCK")


def worker_alive(worker: Worker) -> bool:
    """Whether the process that reported itself as `worker` still runs (this host)."""
    if not Path("/proc/self/stat").exists():  # no /proc: whether the pid exists, only
        try:
            os.kill(worker.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if worker.start is not None:  # a build's run: its process is known by its start, exactly
        stat = _stat(worker.pid)
        return stat is not None and stat[0] not in ("Z", "X") and stat[1] == worker.start
    state = process_state(worker.pid)
    if state is None or state[0] in ("Z", "X"):
        return False
    return state[1] <= worker.reported_at + REUSE_SLACK_SECONDS


def runs_only_here(instance: dg.DagsterInstance) -> bool:
    """Whether every run of this instance without a host runs on this machine: the default
    run launcher (a subprocess of the local code server) and storage local to this machine."""
    local = isinstance(instance.run_storage, (SqliteRunStorage, InMemoryRunStorage))
    return local and isinstance(instance.run_launcher, DefaultRunLauncher)


def _on_this_host(worker: Worker, only_here: bool) -> bool:
    """Whether the worker's pid names a process of this boot and pid namespace."""
    if worker.place is not None:  # a build's run
        return worker.place == pid_place()
    if worker.host is not None:  # a build's run on a machine without /proc: the host only
        return pid_place() is None and worker.host == socket.gethostname()
    return only_here


def dead_runs(instance: dg.DagsterInstance) -> list[tuple[dg.DagsterRun, Worker]]:
    """The STARTING, STARTED or CANCELING runs on this machine whose worker process is gone."""
    only_here = runs_only_here(instance)
    found = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=list(JUDGED))):
        worker = run_worker(instance, run.run_id)
        if worker and _on_this_host(worker, only_here) and not worker_alive(worker):
            found.append((run, worker))
    return found


def dead_message(worker: Worker, by: str) -> str:
    where = f" on {worker.host}" if worker.host else ""
    return (
        f"The run's worker process (pid {worker.pid}{where}) is gone (killed, or its machine "
        f"or `dagster dev` crashed) while the run was in progress: marked failed by {by} so "
        "the partition's later runs can start. Work the stages committed is reused by the "
        "next run of this partition."
    )


def mark_dead_runs(instance: dg.DagsterInstance, by: str, retry: bool = True) -> list[str]:
    """Mark every dead run failed (a CANCELING one canceled); return one line per run.
    A failed run is retried under the instance's run_retries unless `retry` is False."""
    lines = []
    for run, worker in dead_runs(instance):
        message = dead_message(worker, by)
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status not in JUDGED:
            continue  # finished meanwhile
        if current.status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(current, message)
            outcome = "canceled"
        else:
            if not retry:
                instance.add_run_tags(run.run_id, {"dagster/max_retries": "0"})
                current = instance.get_run_by_id(run.run_id) or current
            failure = JobFailureData(
                error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION
            )
            instance.report_run_failed(current, message, failure)
            outcome = "failed"
        partition = run.tags.get("dagster/partition")
        of = f" ({partition})" if partition else ""
        lines.append(
            f"run {run.run_id}{of} of {run.job_name}: worker pid {worker.pid} gone, {outcome}"
        )
    return lines


@dg.sensor(
    name=DEAD_RUNS_SENSOR_NAME,
    minimum_interval_seconds=DEAD_RUNS_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        f"Every {DEAD_RUNS_INTERVAL_SECONDS} s: marks failed the runs still STARTING or STARTED (canceled "
        "the CANCELING ones) whose worker process on this machine is gone (kill -9, OOM, a "
        "crash of dagster dev or of jsonl-assets build), so they free their partition's slot "
        "in the queue; the run's failure says so, and run_retries applies."
    ),
)
def dead_runs_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Frees the queue of runs whose worker died: each tick names what it marked."""
    lines = mark_dead_runs(context.instance, f"the {DEAD_RUNS_SENSOR_NAME} sensor")
    for line in lines:
        context.log.warning(line)
    if lines:
        return dg.SkipReason(f"marked {len(lines)} dead run(s): " + "; ".join(lines))
    return dg.SkipReason("no run in progress has lost its worker process")
