"""One builder per partition at a time, with automatic recovery from killed builders.

The lock is a kernel `flock` on `<work>/<objective>/<split>/.lock`, taken through filelock. The
kernel releases it when its process dies, however it dies, so a lock left by a `kill -9` is
never stale: the next builder simply gets it. The holder writes its pid into the file. A second
builder waits up to `timeout` seconds, then fails naming the partition and the holder's pid.
The same mechanism (`flock_held`) keeps one runner per chunk (core/chunks/chunk_lock.py).
Lock files are never removed: a removed one would let a waiter and a newcomer both hold it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from jsonl_assets.core.store.atomic_files import raise_named
from jsonl_assets.core.store.base import read_bytes


class PartitionBusyError(Exception):
    """Another live process is building this partition."""


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)


def lock_holder(path: Path) -> str:
    """The pid the holder of the lock file `path` wrote into it, or "unknown"."""
    try:
        return read_bytes(path).decode(errors="replace").strip()[:32] or "unknown"
    except OSError:
        return "unknown"


@contextmanager
def flock_held(path: Path, timeout: float, busy: Callable[[str], Exception]) -> Iterator[None]:
    """The kernel lock of the file `path`, waited for up to `timeout` seconds (0: tried
    once); `busy(holder pid)` is raised when it stays held."""
    lock = FileLock(path, thread_local=False, fallback_to_soft=False, on_acquired=_write_pid)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=timeout, poll_interval=0.2)
    except Timeout:
        raise busy(lock_holder(path)) from None
    except OSError as exc:  # the folder, the lock file or the pid written into it (ENOSPC)
        raise_named(exc, path)
    try:
        yield
    finally:
        lock.release()


@contextmanager
def partition_lock(work: Path, key: str, timeout: float = 600.0) -> Iterator[None]:
    def busy(holder: str) -> PartitionBusyError:
        return PartitionBusyError(
            f"partition {key} is being built by another process (pid {holder}); "
            f"waited {timeout:.0f}s"
        )

    with flock_held(work / ".lock", timeout, busy):
        yield
