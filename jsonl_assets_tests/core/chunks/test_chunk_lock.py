"""Two builds of one partition at once (a re-execution from the UI while the first run still
runs, two Celery workers): their plan and chunk steps both succeed, each chunk is run once,
and every chunk holds the bytes of a build run alone."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from jsonl_assets.core.build import dirs_for
from jsonl_assets.core.chunks.chunk_lock import chunk_lock
from jsonl_assets.core.chunks.chunk_worker import (
    ChunkTask,
    chunk_fingerprint,
    run_chunk,
)
from jsonl_assets.core.chunks.plan import CHUNKS_DIR, plan_chunks
from jsonl_assets.core.config import load_config
from jsonl_assets.core.source_fingerprints import FINGERPRINTS_FILE
from jsonl_assets.core.stages.record_stages import stage_fingerprints
from jsonl_assets_tests.test_chunks import _duplicates_project

KEY = "cpt|train"
ROUNDS = 4


def _steps(config: Path) -> list[bool]:
    """What a `build_chunks` run does before its merge: the plan step, then every chunk
    step (whether each ran)."""
    cfg = load_config(config)
    dirs = dirs_for(cfg, KEY)
    fps = stage_fingerprints(cfg, dirs)
    plan = plan_chunks(cfg, dirs, fps["extracted"])
    ran = []
    for chunk in plan.chunks:
        task = ChunkTask(KEY, chunk.index)
        fp = chunk_fingerprint(fps["validated"], plan, task)
        ran.append(run_chunk(cfg, dirs, plan, fp, task)["ran"])
    return ran


def _run(config: Path, barrier: Any, out: Any) -> None:
    barrier.wait()
    try:
        out.put(("ok", _steps(config)))
    except BaseException as exc:  # reported to the test, which names it
        out.put(("error", repr(exc)))


def _chunk_files(config: Path) -> dict[str, str]:
    """Every chunk's files (their sha256), the marker's report but its timing."""
    folder = config.parent / "work" / "cpt" / "train" / CHUNKS_DIR
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "plan.json":
            data = path.read_bytes()
            if path.name == "chunk.json":
                data = b"\n".join(x for x in data.split(b"\n") if b'"seconds"' not in x)
            files[path.relative_to(folder).as_posix()] = hashlib.sha256(data).hexdigest()
    return files


def test_two_runs_of_one_partitions_chunks_at_once_both_succeed_with_the_same_bytes(
    tmp_path: Path,
) -> None:
    config, _ = _duplicates_project(tmp_path, 4096)  # 16 chunks
    chunks = len(_steps(config))
    expected = _chunk_files(config)
    assert len([k for k in expected if k.endswith("chunk.json")]) == chunks
    work = config.parent / "work" / "cpt" / "train"
    ctx = multiprocessing.get_context("fork")
    for _ in range(ROUNDS):
        shutil.rmtree(work / CHUNKS_DIR)  # plan and chunks written again, by both at once
        (work / FINGERPRINTS_FILE).unlink()
        barrier, out = ctx.Barrier(2), ctx.Queue()
        runs = [ctx.Process(target=_run, args=(config, barrier, out)) for _ in range(2)]
        for run in runs:
            run.start()
        results = [out.get(timeout=120) for _ in runs]
        for run in runs:
            run.join(30)
        assert [status for status, _ in results] == ["ok", "ok"], results
        ran = [sum(r) for r in zip(*(ran for _, ran in results), strict=True)]
        assert ran == [1] * chunks  # each chunk run by one of them; the other took it
        assert _chunk_files(config) == expected
        assert not [p for p in (work / CHUNKS_DIR).iterdir() if p.name.startswith(".")]


def _hold(dirs: Any, held: Any) -> None:
    with chunk_lock(dirs, 3):
        held.set()
        time.sleep(60)  # killed before


def test_a_runner_waits_for_the_chunks_holder_and_redoes_it_when_the_holder_dies(
    tmp_path: Path,
) -> None:
    config, _ = _duplicates_project(tmp_path, 4096)
    cfg = load_config(config)
    dirs = dirs_for(cfg, KEY)
    fps = stage_fingerprints(cfg, dirs)
    plan = plan_chunks(cfg, dirs, fps["extracted"])
    task = ChunkTask(KEY, 3)
    fp = chunk_fingerprint(fps["validated"], plan, task)
    ctx = multiprocessing.get_context("fork")
    held = ctx.Event()
    holder = ctx.Process(target=_hold, args=(dirs, held))
    holder.start()
    assert held.wait(30)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(run_chunk, cfg, dirs, plan, fp, task)
        time.sleep(1.0)
        assert not waiting.done()  # it waits for the holder
        os.kill(holder.pid, signal.SIGKILL)  # which dies without finishing the chunk
        holder.join(30)
        assert waiting.result(timeout=60)["ran"]
    assert run_chunk(cfg, dirs, plan, fp, task)["ran"] is False
