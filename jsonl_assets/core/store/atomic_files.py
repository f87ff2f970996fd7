"""Local primitives of atomic files: the temporary name, folder fsync, errors that name the file.

Every output is written to a temporary name in the destination folder (a dot-file ending in
`.partial`, which readers and the verifier never list), flushed, fsynced, renamed over its
final name, and the folder is fsynced (`local.LocalAtomicWrite`). A run killed at any moment
leaves at most stray `.partial` files, which `remove_partials` clears on the next run.
"""

from __future__ import annotations

import errno
import os
import re
import resource
from pathlib import Path
from typing import Final, NoReturn, Protocol

PARTIAL_SUFFIX: Final = ".partial"
_PARTIAL: Final = re.compile(r"^\..+\.partial$")


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


def partial_path(final: Path, tag: str = "") -> Path:
    """`.<name>.partial`, or `.<name>.<tag>.partial` (a writer's own)."""
    return final.with_name(f".{final.name}{'.' + tag if tag else ''}{PARTIAL_SUFFIX}")


def is_partial_name(name: str) -> bool:
    return bool(_PARTIAL.fullmatch(name))


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def named_os_error(exc: OSError, path: Path) -> OSError:
    """The same error, naming the file (a bare ENOSPC does not say which write failed)."""
    if exc.filename == str(path):
        return exc  # named already
    said = f"cannot write {path}: {exc.strerror or exc}{limit_hint(exc)}"
    if exc.errno is None:  # polars' errors: "No space left on device (os error 28)"
        return OSError(said)
    return OSError(exc.errno, said, str(path))


def limit_hint(exc: OSError) -> str:
    """For EMFILE, the limit this process ran into (`ulimit -n`); else ""."""
    if exc.errno != errno.EMFILE:
        return ""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return f" (this process may hold {soft} open files: raise `ulimit -n`)"


def raise_named(exc: OSError, path: Path) -> NoReturn:
    """Raise `exc` naming `path` (call it in the `except` block that caught `exc`)."""
    named = named_os_error(exc, path)
    if named is exc:
        raise exc
    raise named from exc


def os_error_reason(exc: OSError) -> str:
    """What went wrong, without the file name `named_os_error` put in front of it."""
    cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
    return cause.strerror or str(cause)


def write_partial(handle: _Writable, data: bytes, final: Path) -> None:
    try:
        handle.write(data)
    except OSError as exc:
        raise_named(exc, final)


def write_atomic(final: Path, data: bytes) -> None:
    """Write a small file atomically, through the store that holds it."""
    from jsonl_assets.core.store.base import write_bytes

    write_bytes(final, data)


def remove_partials(folder: Path, prefix: str = "") -> int:
    """Delete leftover temporaries of killed runs in `folder` whose final name starts with
    `prefix` (so concurrent builds of other partitions keep theirs); return how many."""
    from jsonl_assets.core.store.base import store_for

    return store_for(folder).remove_partials(folder, prefix)
