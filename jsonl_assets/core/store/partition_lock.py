"""One builder per partition at a time, with automatic recovery from killed builders.

The lock is a kernel `flock` on `<work>/<objective>/<split>/.lock`, taken through filelock. The
kernel releases it when its process dies, however it dies, so a lock left by a `kill -9` is
never stale: the next builder simply gets it. The holder writes its pid into the file. A second
builder waits up to `timeout` seconds, then fails naming the partition and the holder's pid.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from jsonl_assets.core.store.atomic_files import raise_named


class PartitionBusyError(Exception):
    """Another live process is building this partition."""


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)


@contextmanager
def partition_lock(work: Path, key: str, timeout: float = 600.0) -> Iterator[None]:
    path = work / ".lock"
    lock = FileLock(path, thread_local=False, fallback_to_soft=False, on_acquired=_write_pid)
    try:
        work.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=timeout, poll_interval=0.2)
    except Timeout:
        try:
            holder = path.read_text(errors="replace").strip()[:32] or "unknown"
        except OSError:
            holder = "unknown"
        raise PartitionBusyError(
            f"partition {key} is being built by another process (pid {holder}); "
            f"waited {timeout:.0f}s"
        ) from None
    except OSError as exc:  # the folder, the lock file or the pid written into it (ENOSPC)
        raise_named(exc, path)
    try:
        yield
    finally:
        lock.release()
