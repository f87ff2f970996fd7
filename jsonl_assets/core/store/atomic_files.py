"""Files that appear whole or not at all.

Every output is written to a temporary name in the destination folder (a dot-file ending in
`.partial`, which readers and the verifier never list), flushed, fsynced, renamed over its
final name, and the folder is fsynced. A run killed at any moment leaves at most stray
`.partial` files, which `remove_partials` clears on the next run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from jsonl_assets.core.fault_points import reached

PARTIAL_SUFFIX = ".partial"


def partial_path(final: Path) -> Path:
    return final.with_name(f".{final.name}{PARTIAL_SUFFIX}")


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def named_os_error(exc: OSError, path: Path) -> OSError:
    """The same error, naming the file (a bare ENOSPC does not say which write failed)."""
    return OSError(exc.errno, f"cannot write {path}: {exc.strerror or exc}", str(path))


def write_partial(handle: BinaryIO, data: bytes, final: Path) -> None:
    try:
        handle.write(data)
    except OSError as exc:
        raise named_os_error(exc, final) from exc


def commit_partial(handle: BinaryIO, final: Path) -> None:
    """Flush and fsync an open `.partial` file, rename it to `final`, fsync the folder."""
    try:
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        os.replace(partial_path(final), final)
        fsync_dir(final.parent)
    except OSError as exc:
        raise named_os_error(exc, final) from exc


def abort_partial(handle: BinaryIO, final: Path) -> None:
    """Close and delete an open `.partial` file (also when closing fails: a full disk makes
    the flush of its last buffered bytes fail, and the file is thrown away anyway)."""
    try:
        if not handle.closed:
            handle.close()
    except OSError:
        pass
    finally:
        partial_path(final).unlink(missing_ok=True)


@contextmanager
def atomic_writer(final: Path) -> Iterator[BinaryIO]:
    """Open a temporary file; on clean exit it is fsynced and renamed to `final`."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(final)
    handle = open(tmp, "wb")  # noqa: SIM115 - closed below on every path
    try:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        reached("before_rename:" + final.name)
        os.replace(tmp, final)
        fsync_dir(final.parent)
    except BaseException:
        try:
            handle.close()
        except OSError:
            pass  # a full disk fails the flush too; the file is thrown away
        finally:
            tmp.unlink(missing_ok=True)
        raise


def write_atomic(final: Path, data: bytes) -> None:
    with atomic_writer(final) as handle:
        handle.write(data)


def remove_partials(folder: Path, prefix: str = "") -> int:
    """Delete leftover temporaries of killed runs in `folder` whose final name starts with
    `prefix` (so concurrent builds of other partitions keep theirs); return how many."""
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.iterdir():
        if path.name.startswith("." + prefix) and path.name.endswith(PARTIAL_SUFFIX):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
