"""A `celery` run's broker and backend (defs/celery_broker.py): one that does not answer fails
the run in one line naming `execution.config.celery.broker` / `.backend` and the URL (its
password masked), with no stack and no step submitted; a Redis killed mid-run fails it in one
line saying a rerun resumes, the finished chunks kept. Before, both failed after about 20 s
with "Retry limit exceeded while trying to reconnect to the Celery result store backend" over
four chained stacks (134 lines), naming neither the URL nor the key.

Real processes, as test_chunk_job.py's: a `redis-server` on a free loopback port and two
Celery workers; the unreachable broker is a loopback port nothing listens on."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import dagster as dg

from jsonl_assets.defs.celery_broker import KEY, RESUMES
from jsonl_assets.defs.chunk_job import build_chunks

from ..test_chunk_job import _chats, _free_port, celery_workers, redis_server, redis_url
from ..test_chunks import sample_with_chunks

__all__ = ["celery_workers", "redis_server", "redis_url"]  # fixtures, shared with test_chunk_job
PARTITION = "sft|train"


def _run(config: Path, url: str) -> tuple[dg.JobExecutionResult, list[dg.DagsterEvent]]:
    """A `build_chunks` run on the `celery` executor of broker and backend `url`; its events
    as the instance recorded them."""
    run_config = {
        "ops": {"plan": {"config": {"partition": PARTITION}}},
        "resources": {"pipeline": {"config": {"config_path": str(config)}}},
        "execution": {"config": {"celery": {"broker": url, "backend": url}}},
    }
    with dg.instance_for_test() as instance:
        result = dg.execute_job(
            dg.reconstructable(build_chunks),
            instance=instance,
            run_config=run_config,
            raise_on_error=False,
        )
        logs = instance.all_logs(result.run_id)
        return result, [e.dagster_event for e in logs if e.dagster_event is not None]


def _said(events: list[dg.DagsterEvent]) -> str:
    """The run failure's error, asserted one line with no stack and no cause; no event of the
    run carries another error (dagster-celery's submission error, a step's)."""
    failures = [e for e in events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
    assert len(failures) == 1
    error = failures[0].event_specific_data.error
    assert error is not None and error.stack == [] and error.cause is None, error.to_string()
    assert "\n" not in error.message.strip(), error.message
    others = [
        e
        for e in events
        if e is not failures[0] and getattr(e.event_specific_data, "error", None) is not None
    ]
    assert not others, [e.event_specific_data.error.to_string() for e in others]
    return error.message


def test_an_unreachable_broker_fails_the_run_in_one_line_naming_key_and_url(
    tmp_path: Path,
) -> None:
    config = sample_with_chunks(tmp_path, 40384)
    port = _free_port()  # nothing listens there
    result, events = _run(config, f"redis://:s3cret@127.0.0.1:{port}/0")
    assert not result.success
    said = _said(events)
    masked = f"redis://:**@127.0.0.1:{port}/0"
    assert said.startswith(f"{KEY}.broker and .backend: cannot connect to {masked} ("), said
    assert "s3cret" not in said and "no step was submitted" in said
    assert not [e for e in events if e.event_type == dg.DagsterEventType.STEP_START]
    assert not (tmp_path / "data" / "package").exists()


def _kill_after_first_chunk(
    work: Path, server: subprocess.Popen[bytes], stop: threading.Event
) -> None:
    """SIGKILL the Redis server once a chunk has its marker (the run midway)."""
    while not stop.is_set():
        if any(work.glob("**/chunks/*/chunk.json")):
            os.kill(server.pid, signal.SIGKILL)
            return
        time.sleep(0.01)


def test_a_redis_killed_mid_run_fails_it_in_one_line_and_a_rerun_resumes(
    tmp_path: Path,
    redis_server: tuple[str, subprocess.Popen[bytes]],
    celery_workers: list[int],
) -> None:
    url, server = redis_server
    config = _chats(tmp_path, "celery")
    stop = threading.Event()
    killer = threading.Thread(
        target=_kill_after_first_chunk, args=(config.parent, server, stop), daemon=True
    )
    outcome: list[Any] = []
    killer.start()
    job = threading.Thread(target=lambda: outcome.append(_run(config, url)), daemon=True)
    job.start()
    job.join(180)
    stop.set()
    assert server.poll() is not None, "no chunk finished: Redis was not killed"
    assert not job.is_alive(), "the run still waits after 180 s"
    result, events = outcome[0]
    assert not result.success
    said = _said(events)
    print(f"\n  {said}")
    assert said.startswith(f"{KEY}.broker and .backend: cannot connect to {url} ("), said
    assert said.rstrip().endswith(f"lost mid-run; {RESUMES}"), said
    stacks = [e for e in events if "stack" in getattr(e.event_specific_data, "metadata", {})]
    assert len(stacks) == 1  # the error's stack, kept for a developer beside the line
    kept = list(config.parent.glob("**/chunks/*/chunk.json"))
    assert kept, "the finished chunks were not kept"
    # The rerun (in process here: the broker is gone) reuses the chunks that finished.
    rerun = build_chunks.execute_in_process(
        run_config={
            "ops": {"plan": {"config": {"partition": PARTITION}}},
            "resources": {"pipeline": {"config": {"config_path": str(config)}}},
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert rerun.success
    ran = [
        e.step_output_data.metadata["ran"].value
        for e in rerun.all_events
        if e.event_type_value == "STEP_OUTPUT" and str(e.step_key).startswith("chunk")
    ]
    assert len(ran) == 10 and ran.count(False) >= 1, ran
