"""One runner per chunk at a time: two builds of one partition at once (a re-execution from
the UI while the first run still runs, two Celery workers, two machines on a shared work
dir) never write the same chunk together.

The lock of chunk `i` of a partition is a kernel `flock` on
`<partition work>/.lock.chunk-<i>`, beside the partition's `.lock` and taken as it is
(store/partition_lock.py): the kernel drops it when its holder dies, so a killed runner's
chunk is simply redone by the next one. It guards everything of that chunk index under
`chunks/` (its folder, whatever its fingerprint, and its runners' temporary folders); the
lock files live outside `chunks/` because that folder is cleared after each merge, and are
never removed (one small file per chunk index).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from jsonl_assets.core.store.partition_lock import PartitionBusyError, flock_held
from jsonl_assets.core.store.work_files import PartitionDirs

LOCK_PREFIX: Final = ".lock.chunk-"
# A chunk runner waits this long for another runner of the same chunk to finish it.
CHUNK_LOCK_TIMEOUT: Final = 3600.0
# `<index>-<fingerprint>` (a chunk folder) or `.<index>-<fingerprint>.<tag>.partial` (one
# being written): the chunk index an entry of `chunks/` belongs to.
_CHUNK_ENTRY: Final = re.compile(r"^\.?(\d{5})-[0-9a-f]{16}(?:\..+\.partial)?$")


class ChunkBusyError(PartitionBusyError):
    """Another live process has been running this chunk for longer than the wait."""


def chunk_index_of(name: str) -> int | None:
    """The chunk index of an entry of the `chunks/` folder, or None (the plan, id buckets)."""
    match = _CHUNK_ENTRY.fullmatch(name)
    return int(match.group(1)) if match else None


@contextmanager
def chunk_lock(
    dirs: PartitionDirs, index: int, timeout: float = CHUNK_LOCK_TIMEOUT
) -> Iterator[None]:
    """Chunk `index` of the partition to this runner alone; waits up to `timeout` seconds
    (0: tried once) for another runner, then raises ChunkBusyError."""

    def busy(holder: str) -> ChunkBusyError:
        return ChunkBusyError(
            f"chunk {index} of partition {dirs.key} is being run by another process "
            f"(pid {holder}); waited {timeout:.0f}s"
        )

    with flock_held(_lock_path(dirs, index), timeout, busy):
        yield


def _lock_path(dirs: PartitionDirs, index: int) -> Path:
    return dirs.work / f"{LOCK_PREFIX}{index:05d}"
