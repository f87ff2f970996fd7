"""Chunk runners: who runs a partition's chunks. In this process, one after the other
(`run_in_process`), or on a pool of forked processes (`process_runner(n)`). Dagster's
executors are the third kind: each chunk is a step (defs/chunk_job.py), and the merge's runner
then finds every chunk finished. A runner returns the finished chunks (`ChunkDone`, small
whatever the chunk's report holds) in task order.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Final

from jsonl_assets.core.build_workers import release_pool, result, submit, worker_pool
from jsonl_assets.core.chunks.chunk_orders import (
    ChunkOrder,
    order_for,
    record_config,
    run_order,
)
from jsonl_assets.core.chunks.chunk_worker import (
    ChunkDone,
    ChunkTask,
    chunk_fingerprint,
    done_of,
    run_chunk,
)
from jsonl_assets.core.chunks.plan import ChunkPlan
from jsonl_assets.core.chunks.progress import Progress
from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.store.work_files import PartitionDirs

# Processes allowed to run a chunk at once, across every partition of a build (shared by the
# processes forked after `share_slots`): `jsonl-assets build --workers N` runs N at most.
_slots: list[Any] = []


def share_slots(workers: int) -> None:
    """Let at most `workers` chunks run at once in this process and those it forks later."""
    _slots[:] = [multiprocessing.get_context("fork").BoundedSemaphore(workers)]


def _run_in_slot(
    cfg: PipelineConfig, dirs: PartitionDirs, plan: ChunkPlan, chunk_fp: str, task: ChunkTask
) -> ChunkDone:
    if not _slots:
        return done_of(dirs, chunk_fp, run_chunk(cfg, dirs, plan, chunk_fp, task))
    with _slots[0]:
        return done_of(dirs, chunk_fp, run_chunk(cfg, dirs, plan, chunk_fp, task))


def _take_slot(timeout: float) -> bool:
    """Take a slot for a chunk (True), or say none was free within `timeout` (False). The
    slot is taken here, not in the worker: a spawned worker inherits no semaphore."""
    return not _slots or _slots[0].acquire(timeout=timeout)


def _submit_taken(pool: ProcessPoolExecutor, order: ChunkOrder) -> Future[ChunkDone]:
    """Submit a chunk whose slot is taken (`_take_slot`); the slot is freed when it ends."""
    if not _slots:
        return submit(pool, run_order, order)
    try:
        future = submit(pool, run_order, order)
    except BaseException:
        _slots[0].release()
        raise
    future.add_done_callback(lambda _: _slots[0].release())
    return future


def _run_on_pool(
    pool: ProcessPoolExecutor, orders: list[ChunkOrder], progress: Progress
) -> list[ChunkDone]:
    """Submit each order once a slot is free, counting the chunks that finish (in order)
    while it waits: under `--workers N` the submissions wait for slots until the last chunks
    run, and a partition's progress would otherwise be told only once they all ended."""
    futures: list[Future[ChunkDone]] = []
    out: list[ChunkDone] = []

    def count_finished() -> None:
        while len(out) < len(futures) and futures[len(out)].done():
            out.append(progress.done(result(futures[len(out)])))

    for order in orders:
        while not _take_slot(timeout=0.2):
            count_finished()
        futures.append(_submit_taken(pool, order))
        count_finished()
    out.extend(progress.done(result(f)) for f in futures[len(out) :])
    return out


# runner(cfg, dirs, plan, validated fingerprint, tasks) -> finished chunks, in task order
ChunkRunner = Callable[
    [PipelineConfig, PartitionDirs, ChunkPlan, str, list[ChunkTask]], list[ChunkDone]
]


def process_runner(workers: int) -> ChunkRunner:
    """A runner on `workers` forked processes; in this process when `workers` is 1 or there
    is one chunk (a pool would only add its start-up)."""

    def run(
        cfg: PipelineConfig,
        dirs: PartitionDirs,
        plan: ChunkPlan,
        validated_fp: str,
        tasks: list[ChunkTask],
    ) -> list[ChunkDone]:
        progress = Progress(dirs.key, plan)
        fps = [chunk_fingerprint(validated_fp, plan, t) for t in tasks]
        if workers <= 1 or len(tasks) <= 1:
            return [
                progress.done(_run_in_slot(cfg, dirs, plan, fp, t))
                for fp, t in zip(fps, tasks, strict=True)
            ]
        # Each task crosses to the pool as a small order (chunk_orders.py): the workers load
        # the recorded config and plan once, not the whole plan and config once per chunk.
        record_config(cfg, dirs)
        orders = [order_for(cfg, dirs, plan, fp, t) for fp, t in zip(fps, tasks, strict=True)]
        # The build's worker pool: its processes die with this one and a chunk process killed
        # from outside is a WorkerDied with a clear message, as for the partition workers.
        pool = worker_pool(min(workers, len(tasks)))
        try:
            return _run_on_pool(pool, orders, progress)
        finally:
            release_pool(pool)

    return run


run_in_process: Final[ChunkRunner] = process_runner(1)
