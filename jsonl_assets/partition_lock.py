"""One builder per partition at a time, with automatic recovery from killed builders.

The lock is an advisory `flock` on `<work>/<objective>/<split>/.lock`. The kernel releases it
when its process dies, however it dies, so a lock left by a `kill -9` is never stale: the next
builder simply gets it. A second builder waits up to `timeout` seconds, then fails naming the
partition and the holder's pid.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class PartitionBusyError(Exception):
    """Another live process is building this partition."""


@contextmanager
def partition_lock(work: Path, key: str, timeout: float = 600.0) -> Iterator[None]:
    work.mkdir(parents=True, exist_ok=True)
    path = work / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                    raise PartitionBusyError(
                        f"partition {key} is being built by another process (pid {holder}); "
                        f"waited {timeout:.0f}s"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
