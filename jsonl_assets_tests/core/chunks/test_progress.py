"""A partition's progress lines are bounded in number whatever its chunks: each is an event
in the run's log (a 16 KiB `chunk_bytes` build logged 2,950 lines and its step's process
grew by about 35 KB a line)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.chunks import progress
from jsonl_assets.core.chunks.chunk_worker import ChunkDone
from jsonl_assets.core.chunks.plan import Chunk, ChunkPlan


def _told(chunks: int, seconds_a_chunk: float) -> list[dict[str, Any]]:
    """The figures told for a partition of `chunks` chunks finishing one every
    `seconds_a_chunk` (a clock that steps by that much at each reading)."""
    plan = ChunkPlan("0" * 64, tuple(Chunk(i, i, 1000) for i in range(chunks)), ())
    ticks = itertools.count()
    tracker = progress.Progress("sft|train", plan, clock=lambda: next(ticks) * seconds_a_chunk)
    seen: list[dict[str, Any]] = []

    def listener(_: str, figures: dict[str, Any]) -> None:
        seen.append(figures)

    progress.listen(listener)
    try:
        for i in range(chunks):
            done = ChunkDone(i, Path("c"), "f", i, 1, 10, 10, 1000, 0.1, True, True, ())
            tracker.done(done)
    finally:
        progress.unlisten(listener)
    return seen


@pytest.mark.parametrize(
    ("chunks", "seconds", "most"),
    [
        (10_000, 0.001, 12),  # fast chunks (10 s in all): a line a second at most, and the last
        (10_000, 0.05, 101),  # a line a whole percent
        (3_000, 30.0, 101 + 3_000 * 30 // 60),  # slow: also one a minute
    ],
)
def test_progress_lines_are_bounded_and_the_last_is_told(
    chunks: int, seconds: float, most: int
) -> None:
    seen = _told(chunks, seconds)
    assert 2 <= len(seen) <= most
    assert seen[-1]["chunks_done"] == chunks
    done = [f["chunks_done"] for f in seen]
    assert done == sorted(set(done))


def test_a_few_slow_chunks_are_each_told() -> None:
    assert [f["chunks_done"] for f in _told(5, 2.0)] == [1, 2, 3, 4, 5]


def test_progress_is_told_while_chunks_still_wait_for_a_slot(tmp_path: Path) -> None:
    """Under `--workers N` (shared slots) the runner waits for a slot before each submission:
    it counts the chunks that finished meanwhile, so the lines come during the chunk phase,
    not in one burst after the last submission (they did: 428 chunks, both lines at the end,
    the first with a rate of 7 records/s and an ETA of 1,664 s)."""
    import time

    from jsonl_assets.core.build import dirs_for
    from jsonl_assets.core.chunks import runners
    from jsonl_assets.core.chunks.chunk_worker import ChunkTask
    from jsonl_assets.core.chunks.plan import plan_chunks
    from jsonl_assets.core.config import load_config

    from ...conftest import write_config

    raw = tmp_path / "raw"
    raw.mkdir()
    note = b'{"messages": [{"role": "document", "content": "%d ' + b"x" * 300 + b'"}]}\n'
    (raw / "n.jsonl").write_bytes(b"".join(note % i for i in range(2400)))
    doc = {
        "dataset": {"name": "p", "description": "progress"},
        "output": {"chunk_bytes": 8192},
        "sources": [{"name": "n", "paths": ["raw/n.jsonl"], "objective": "cpt",
                     "adapter": "native", "split": "train"}],
    }  # fmt: skip
    cfg = load_config(write_config(tmp_path / "pipeline.yaml", doc))
    dirs = dirs_for(cfg, "cpt|train")
    plan = plan_chunks(cfg, dirs)
    tasks = [ChunkTask("cpt|train", c.index) for c in plan.chunks]
    seen: list[tuple[float, int]] = []

    def listener(_: str, figures: dict[str, Any]) -> None:
        seen.append((time.monotonic(), figures["chunks_done"]))

    saved = list(runners._slots)
    runners.share_slots(1)  # every submission waits for the chunk before it
    progress.listen(listener)
    try:
        done = runners.process_runner(2)(cfg, dirs, plan, "0" * 64, tasks)
    finally:
        progress.unlisten(listener)
        runners._slots[:] = saved
    assert len(done) == len(tasks) > 60
    assert len(seen) >= 2 and seen[-1][1] == len(tasks)
    # Told while chunks still ran: the first line well before the last (not one burst).
    assert seen[0][1] < len(tasks) and seen[-1][0] - seen[0][0] > 0.2, seen
