"""The `build_chunks` job (defs/chunk_job.py): a partition's chunks as dynamic steps on the
executor its run config names, in-process, multiprocess and Celery, the package equal to the
golden one each time.

The Celery test is real: a `redis-server` on a free loopback port (no persistence) and two
Celery workers (`celery -A dagster_celery.app worker`, the app dagster-celery's own CLI
starts) are started as fixtures and stopped by their PIDs; the steps run in those workers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import redis

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.defs.chunk_job import build_chunks

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
def redis_url(tmp_path: Path) -> Iterator[str]:
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
        yield url
    finally:
        _stop(server)


@pytest.fixture
def celery_workers(redis_url: str, tmp_path: Path) -> Iterator[list[int]]:
    """Two Celery workers of dagster-celery's app on the broker; their PIDs."""
    config_dir = tmp_path / "celery_config"
    config_dir.mkdir()
    (config_dir / "dagster_celery_config.py").write_text(
        f"broker_url = {redis_url!r}\nresult_backend = {redis_url!r}\n", encoding="utf-8"
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
                "solo",
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
    assert set(pids) <= set(celery_workers) and sum(pids.values()) == 10
    _finish_and_compare(config)
