"""The `build_chunks` job (defs/chunk_job.py): a partition's chunks as dynamic steps on the
executor its run config names, in-process, multiprocess and Celery, the package equal to the
golden one each time.

The Celery tests are real: a `redis-server` on a free loopback port (no persistence) and two
Celery workers (`celery -A dagster_celery.app worker`, the app dagster-celery's own CLI
starts, with the project's settings: defs/celery_settings.py, as the README starts them) are
started as fixtures and stopped by their PIDs; the steps run in those workers' processes.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import orjson
import pytest
import redis

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.defs.chunk_job import build_chunks

from .conftest import write_config
from .test_chunks import sample_with_chunks
from .test_golden_package import GOLDEN, _digests

REDIS_SERVER = "/usr/bin/redis-server"
KEY = "sft|train"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process by its PID, then SIGKILL it if it is still there after 10 s."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A `redis-server` on a free loopback port: its URL and process, stopped by its PID."""
    if not os.path.exists(REDIS_SERVER):
        pytest.skip(f"{REDIS_SERVER} not installed (run.py's OS packages)")
    port = _free_port()
    server = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        yield url, server
    finally:
        _stop(server)


@pytest.fixture
def redis_url(redis_server: tuple[str, subprocess.Popen[bytes]]) -> str:
    return redis_server[0]


@pytest.fixture
def celery_workers(redis_url: str, tmp_path: Path) -> Iterator[list[int]]:
    """Two Celery workers of dagster-celery's app on the broker; their PIDs."""
    config_dir = tmp_path / "celery_config"
    config_dir.mkdir()
    (config_dir / "dagster_celery_config.py").write_text(
        "from jsonl_assets.defs.celery_settings import *\n"
        f"broker_url = {redis_url!r}\nresult_backend = {redis_url!r}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(config_dir), os.getcwd()])}
    celery = Path(sys.executable).parent / "celery"
    log = (tmp_path / "celery.log").open("wb")  # the steps' Dagster logs; read on failure
    workers = [
        subprocess.Popen(
            [
                str(celery),
                "-A",
                "dagster_celery.app",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "--prefetch-multiplier",
                "1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"w{n}@127.0.0.1",
                "-l",
                "ERROR",
            ],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for n in (1, 2)
    ]
    try:
        app = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 120
        # A worker that is ready has declared its queue's binding in the broker.
        while not app.exists("_kombu.binding.dagster"):
            assert all(w.poll() is None for w in workers), "a Celery worker exited"
            assert time.monotonic() < deadline, "the Celery workers did not start"
            time.sleep(0.2)
        yield [w.pid for w in workers]
    finally:
        for worker in workers:
            _stop(worker)
        log.close()


def _run(config: Path, executor: dict[str, Any], key: str = KEY) -> dg.JobExecutionResult:
    run_config = {
        "ops": {"plan": {"config": {"partition": key}}},
        "resources": {"pipeline": {"config": {"config_path": str(config)}}},
        "execution": {"config": executor},
    }
    with dg.instance_for_test() as instance:
        result = dg.execute_job(
            dg.reconstructable(build_chunks), instance=instance, run_config=run_config
        )
        assert result.success
        return result


def _finish_and_compare(config: Path) -> None:
    """The other partitions (and the merged one, reused), then the package against golden."""
    cfg = load_config(config)
    for objective in OBJECTIVES:
        for split in SPLITS:
            build_partition(cfg, f"{objective}|{split}")
    assert publish(cfg).manifest is not None
    assert _digests(config.parent) == GOLDEN.read_text()


def _step_pids(result: dg.JobExecutionResult) -> Counter[int]:
    return Counter(e.pid for e in result.all_events if e.event_type_value == "STEP_START" and e.pid)


def test_the_in_process_executor_builds_a_golden_partition(tmp_path: Path) -> None:
    config = sample_with_chunks(tmp_path, 40384)  # 3 chunks
    result = _run(config, {"in_process": {}})
    assert list(_step_pids(result)) == [os.getpid()]  # every step in this process
    _finish_and_compare(config)


def test_a_partition_no_source_feeds_has_no_chunk_and_the_merge_still_runs(
    tmp_path: Path,
) -> None:
    """rft|validation: the plan yields no chunk; the merge builds the partition (empty)."""
    config = sample_with_chunks(tmp_path, 40384)
    result = _run(config, {"in_process": {}}, "rft|validation")
    merged = [e for e in result.all_events if e.event_type_value == "STEP_SUCCESS"]
    assert {e.step_key for e in merged} == {"plan", "merge"}


def test_the_multiprocess_executor_builds_a_golden_partition(tmp_path: Path) -> None:
    config = sample_with_chunks(tmp_path, 40384)  # 3 chunks
    result = _run(config, {"multiprocess": {"max_concurrent": 2}})
    assert len(_step_pids(result)) == 5  # plan, 3 chunks, merge: a process each
    _finish_and_compare(config)


def test_celery_workers_build_a_golden_partition(
    tmp_path: Path, redis_url: str, celery_workers: list[int]
) -> None:
    config = sample_with_chunks(tmp_path, 15144)  # 8 chunks
    result = _run(config, {"celery": {"broker": redis_url, "backend": redis_url}})
    pids = _step_pids(result)
    print(f"\n  steps per Celery worker pid: {dict(pids)} (workers {celery_workers})")
    assert set(pids) <= _children(celery_workers) and sum(pids.values()) == 10
    _finish_and_compare(config)


def _children(pids: list[int]) -> set[int]:
    """The child processes of `pids` (a prefork worker's step runs in its child)."""
    found: set[int] = set()
    for pid in pids:
        path = Path(f"/proc/{pid}/task/{pid}/children")
        if path.exists():
            found |= {int(c) for c in path.read_text().split()}
    return found


def _in_chunk(pid: int) -> bool:
    """Whether process `pid` holds a chunk's unfinished file open (a chunk step midway)."""
    try:
        links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:  # the process or one of its fds just went away
        return False
    return any("/chunks/" in link and ".partial" in link for link in links)


def _kill_one_mid_chunk(workers: list[int], killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first worker process seen midway through a chunk step; its pid to `killed`."""
    while not stop.is_set():
        for pid in _children(workers):
            if _in_chunk(pid):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.01)


def _chats(tmp: Path, name: str) -> Path:
    """30,000 chats (19 MB) in 10 chunks of 2 MB: a chunk step lasts about a second."""
    data = tmp / name
    (data / "raw").mkdir(parents=True)
    rnd = random.Random(7)
    with (data / "raw" / "chats.jsonl").open("wb") as out:
        for i in range(30000):
            messages = [
                {"role": "user", "content": f"q {i} " + "w" * rnd.randint(100, 600)},
                {"role": "assistant", "content": f"a {i} " + "z" * rnd.randint(10, 300)},
            ]
            out.write(orjson.dumps({"id": f"c{i}", "messages": messages}) + b"\n")
    doc = {
        "dataset": {"name": "ck", "dataset_id": "ck-v1", "description": "d",
                    "license": "CC0-1.0", "contact": "a@example.org"},
        "output": {"dir": "package", "compression": "zstd", "level": 3,
                   "max_records_per_shard": 1000, "work_dir": "work",
                   "quarantine_dir": "quarantine", "chunk_bytes": 2_000_000},
        "sources": [{"name": "chats", "paths": ["raw/*.jsonl"], "objective": "sft",
                     "adapter": "chat", "split": "train", "id_field": "id",
                     "license": "CC0-1.0"}],
    }  # fmt: skip
    return write_config(data / "pipeline.yaml", doc)


def test_a_celery_worker_killed_mid_chunk_hands_its_chunk_to_a_live_worker(
    tmp_path: Path, redis_url: str, celery_workers: list[int]
) -> None:
    """kill -9 of the process running a chunk step: the task, acked late, goes back to the
    queue (task_reject_on_worker_lost), a live worker runs the chunk again and the run ends
    with the bytes of a one-worker build (it used to wait for the lost task forever)."""
    config = _chats(tmp_path, "celery")
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(
        target=_kill_one_mid_chunk, args=(celery_workers, killed, stop), daemon=True
    )
    outcome: list[Any] = []

    def run() -> None:
        with dg.instance_for_test() as instance:
            result = dg.execute_job(
                dg.reconstructable(build_chunks),
                instance=instance,
                run_config={
                    "ops": {"plan": {"config": {"partition": KEY}}},
                    "resources": {"pipeline": {"config": {"config_path": str(config)}}},
                    "execution": {
                        "config": {"celery": {"broker": redis_url, "backend": redis_url}}
                    },
                },
                raise_on_error=False,
            )
            starts = Counter(
                e.step_key
                for e in instance.all_logs(result.run_id)
                if e.dagster_event and e.dagster_event.event_type_value == "STEP_START"
            )
            outcome.extend([result.success, starts])

    killer.start()
    job = threading.Thread(target=run, daemon=True)  # a hung run fails the test, not the suite
    job.start()
    job.join(240)
    stop.set()
    assert killed, "no worker process was caught midway through a chunk"
    assert not job.is_alive(), "the run still waits for the killed worker's chunk after 240 s"
    success, starts = outcome
    assert success
    assert max(starts.values()) == 2 and sum(starts.values()) == 13  # one chunk ran again
    one_worker = _chats(tmp_path, "one_worker")
    for built in (config, one_worker):  # the celery one's sft|train is reused as it is
        cfg = load_config(built)
        for objective in OBJECTIVES:
            for split in SPLITS:
                build_partition(cfg, f"{objective}|{split}")
        assert publish(cfg).manifest is not None
    assert _digests(config.parent) == _digests(one_worker.parent)


def test_chunk_steps_run_the_config_the_plan_step_recorded(tmp_path: Path) -> None:
    """The config file edited after the plan step (the sft source's content type) and
    restored before the merge: every chunk step runs the config the plan recorded, so the
    package is the golden one. The chunk steps used to load the file as it was at their
    start and file their chunks under the plan's fingerprints: the edited config's records
    went into the package of the original."""
    config = sample_with_chunks(tmp_path, 40384)  # 3 chunks
    original = config.read_text(encoding="utf-8")
    edited = original.replace("content_type: chat", "content_type: edited")
    assert edited != original

    @dg.success_hook
    def edit_between_steps(context: dg.HookContext) -> None:
        if context.op.name == "plan":
            config.write_text(edited, encoding="utf-8")
        elif context.op.name == "chunk":
            config.write_text(original, encoding="utf-8")  # as it was, before the merge

    job = build_chunks.with_hooks({edit_between_steps})
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            run_config={
                "ops": {"plan": {"config": {"partition": KEY}}},
                "resources": {"pipeline": {"config": {"config_path": str(config)}}},
            },
            instance=instance,
        )
    assert result.success
    _finish_and_compare(config)


def test_a_chunk_task_of_another_version_is_one_line(tmp_path: Path) -> None:
    """A run of an older version (its tasks had four fields) re-executed from failure: the
    chunk step says so in one line (it was a ValueError and its traceback)."""
    from jsonl_assets.defs.chunk_job import chunk
    from jsonl_assets.defs.resources import PipelineResource

    config = sample_with_chunks(tmp_path, 40384)
    context = dg.build_op_context(resources={"pipeline": PipelineResource(config_path=str(config))})
    with pytest.raises(dg.Failure) as failed:
        chunk(context, task=f"{KEY}#0#{'0' * 64}#{'1' * 64}")
    message = failed.value.description or ""
    assert message.startswith(f"{KEY}: this chunk step's task was made by another version")
    assert "\n" not in message
