"""A partition's progress over its chunks: chunks done of total, records/s and an ETA (from
the bytes left), told to whoever listens (the CLI's console, a Dagster step's log). Only
partitions of more than one chunk report: a small build stays quiet. A line is told at each
whole percent of the chunks done or after a minute without one, never twice within a second,
and always for the last chunk: at most about a hundred lines plus one a minute, whatever the
number of chunks (each line is an event in the run's log)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from jsonl_assets.core.chunks.chunk_worker import ChunkDone
from jsonl_assets.core.chunks.plan import ChunkPlan

MIN_GAP_S: Final = 1.0
MAX_GAP_S: Final = 60.0

_listeners: list[Callable[[str, dict[str, Any]], None]] = []


def listen(listener: Callable[[str, dict[str, Any]], None]) -> None:
    """Call `listener(line, figures)` after each finished chunk of a multi-chunk partition."""
    _listeners.append(listener)


def unlisten(listener: Callable[[str, dict[str, Any]], None]) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


class Progress:
    """Counts a partition's finished chunks as their reports come in."""

    def __init__(
        self, key: str, plan: ChunkPlan, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.key = key
        self._clock = clock
        self.total = len(plan.chunks)
        self.total_bytes = sum(c.size for c in plan.chunks) or 1
        self.started = clock()
        self.chunks = 0
        self.ran = 0
        self.records = 0
        self.bytes = 0
        self._told_at = self.started
        self._told_percent = 0

    def done(self, done: ChunkDone) -> ChunkDone:
        """Count a finished chunk (and tell the listeners); returns it."""
        self.chunks += 1
        self.ran += done.ran
        self.records += done.lines
        self.bytes += done.bytes_in
        if self.total <= 1 or not _listeners:
            return done
        now = self._clock()
        percent = self.chunks * 100 // self.total
        since = now - self._told_at
        last = self.chunks == self.total
        if not last and (
            since < MIN_GAP_S or (percent == self._told_percent and since < MAX_GAP_S)
        ):
            return done
        self._told_at, self._told_percent = now, percent
        elapsed = max(now - self.started, 1e-6)
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
