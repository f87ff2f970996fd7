"""A partition's progress over its chunks: chunks done of total, records/s and an ETA (from
the bytes left), told to whoever listens (the CLI's console, a Dagster step's log). Only
partitions of more than one chunk report: a small build stays quiet."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from jsonl_assets.core.chunks.chunk_worker import ChunkDone
from jsonl_assets.core.chunks.plan import ChunkPlan

_listeners: list[Callable[[str, dict[str, Any]], None]] = []


def listen(listener: Callable[[str, dict[str, Any]], None]) -> None:
    """Call `listener(line, figures)` after each finished chunk of a multi-chunk partition."""
    _listeners.append(listener)


def unlisten(listener: Callable[[str, dict[str, Any]], None]) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


class Progress:
    """Counts a partition's finished chunks as their reports come in."""

    def __init__(self, key: str, plan: ChunkPlan) -> None:
        self.key = key
        self.total = len(plan.chunks)
        self.total_bytes = sum(c.size for c in plan.chunks) or 1
        self.started = time.perf_counter()
        self.chunks = 0
        self.ran = 0
        self.records = 0
        self.bytes = 0

    def done(self, done: ChunkDone) -> ChunkDone:
        """Count a finished chunk (and tell the listeners); returns it."""
        self.chunks += 1
        self.ran += done.ran
        self.records += done.lines
        self.bytes += done.bytes_in
        if self.total <= 1 or not _listeners:
            return done
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        rate = self.records / elapsed
        eta = elapsed * (self.total_bytes - self.bytes) / max(self.bytes, 1)
        figures = {
            "partition": self.key,
            "chunks_done": self.chunks,
            "chunks_total": self.total,
            "chunks_reused": self.chunks - self.ran,
            "records_per_s": round(rate),
            "eta_s": round(eta, 1),
        }
        line = (
            f"{self.key}: chunk {self.chunks}/{self.total} ({self.chunks - self.ran} reused), "
            f"{rate:,.0f} records/s, ETA {eta:.0f} s"
        )
        for listener in list(_listeners):
            listener(line, figures)
        return done
