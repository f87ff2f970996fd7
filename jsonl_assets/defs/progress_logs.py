"""A partition's chunk progress (chunks done of total, records/s, ETA) in a step's run log."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import dagster as dg

from jsonl_assets.core.chunks import progress


@contextlib.contextmanager
def chunk_progress_logged(log: dg.DagsterLogManager) -> Iterator[None]:
    """While the block runs, each finished chunk of a multi-chunk partition is logged."""

    def listener(line: str, _: dict[str, Any]) -> None:
        log.info(line)

    progress.listen(listener)
    try:
        yield
    finally:
        progress.unlisten(listener)
