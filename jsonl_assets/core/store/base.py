"""The storage seam: the one interface every source read and every output write goes through.

A `Store` is picked from a path or URL by `store_for`; plain paths and `file://` get the local
file system (local.py). A new backend (say `s3://`) is one module with a class that has these
methods, plus one line in `BACKENDS`. The methods are chosen so that object storage fits:
reads are streams (ranged for Parquet), an atomic write is a multipart upload that becomes
visible at `commit()`, `publish` is a conditional put (If-Match / If-None-Match), and
`FileStat.tag` is the ETag.
"""

from __future__ import annotations

import errno
import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, Protocol

StorePath = str | os.PathLike[str]

ABSENT: Final = "absent"
"""`publish(..., expected_tag=ABSENT)`: write only if nothing is there yet (If-None-Match: *)."""

BACKENDS: dict[str, str] = {
    "": "jsonl_assets.core.store.local:LocalStore",
    "file": "jsonl_assets.core.store.local:LocalStore",
    "s3": "jsonl_assets.core.store.s3:S3Store",
}
"""URL scheme -> `module:Class` of its store (imported on first use)."""


class PreconditionFailed(Exception):
    """`publish` found another version than the one it was told to replace."""


@dataclass(frozen=True, slots=True)
class FileStat:
    """What a file looks like now: size and modification time, plus the local identity
    (inode, ctime; 0 where the backend has none) and `tag`, the version token that
    `publish(expected_tag=...)` compares (the ETag on object storage)."""

    size: int
    mtime_ns: int
    inode: int = 0
    ctime_ns: int = 0
    etag: str = ""
    is_dir: bool = False

    @property
    def tag(self) -> str:
        return self.etag or f"{self.inode:x}-{self.size:x}-{self.mtime_ns:x}-{self.ctime_ns:x}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One name in a folder listing."""

    name: str
    is_dir: bool
    is_symlink: bool = False


class AtomicWrite(Protocol):
    """A file being written: nothing is visible under its name until `commit()`; `abort()`
    leaves nothing behind. Errors name the file (`OSError.filename` is the final path)."""

    path: Path

    def write(self, data: bytes) -> int: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class Store(Protocol):
    """Reads, atomic writes, listing, fingerprints, the last publish and removal of own files."""

    def open_read(self, path: StorePath, start: int = 0, end: int | None = None) -> BinaryIO:
        """A binary stream of bytes `start` to `end` (exclusive; None: to the end);
        `FileNotFoundError` if nothing is there."""
        ...

    def open_atomic(self, path: StorePath) -> AtomicWrite:
        """Start writing `path` (parent folders are created); see `AtomicWrite`."""
        ...

    def append(self, path: StorePath, data: bytes) -> None:
        """Append `data` durably (a ledger or journal line) before returning."""
        ...

    def list(self, folder: StorePath) -> Iterator[Entry]:
        """The names in `folder` (none if it does not exist), unsorted."""
        ...

    def stat(self, path: StorePath) -> FileStat | None:
        """The file's size, time and version tag, or None if nothing is there."""
        ...

    def publish(self, path: StorePath, data: bytes, expected_tag: str | None = None) -> FileStat:
        """Write `data` as `path` atomically, last of a build. With `expected_tag`, only if
        the current version has that tag (`ABSENT`: only if there is none), else
        `PreconditionFailed`. Returns the new version's stat."""
        ...

    def move_in(self, source: StorePath, path: StorePath) -> None:
        """Move `source` - a local file, or a file of this store - to `path` (a rename, a
        server-side copy, or a copy and delete)."""
        ...

    def remove_partials(self, folder: StorePath, prefix: str = "") -> int:
        """Clear what killed writes left in `folder` for names starting with `prefix` (hidden
        `.partial` files; incomplete multipart uploads on object storage); how many."""
        ...

    def remove(self, path: StorePath, missing_ok: bool = True, recursive: bool = False) -> None:
        """Delete a file this project wrote (the callers check ownership); with `recursive`,
        a folder of them (every name under the prefix, on object storage)."""
        ...


def url_scheme(path_or_url: StorePath) -> str:
    """The lower-case scheme of a URL (`s3`), "" for a plain path."""
    text = os.fspath(path_or_url)
    head, sep, _ = text.partition("://")
    return head.lower() if sep and head.isalnum() and len(head) > 1 else ""


_stores: dict[str, Store] = {}


def store_for(path_or_url: StorePath) -> Store:
    """The store that holds `path_or_url` (one instance per scheme)."""
    scheme = url_scheme(path_or_url)
    store = _stores.get(scheme)
    if store is None:
        target = BACKENDS.get(scheme)
        if target is None:
            raise ValueError(f"no storage backend for {os.fspath(path_or_url)!r} ({scheme}://)")
        module, _, name = target.partition(":")
        store = _stores[scheme] = getattr(importlib.import_module(module), name)()
    return store


def read_bytes(path: StorePath) -> bytes:
    """A whole (small) file's bytes: markers, ledgers, journals, metadata.json."""
    with store_for(path).open_read(path) as handle:
        return handle.read()


def write_bytes(path: StorePath, data: bytes) -> None:
    """Write a small file atomically."""
    out = store_for(path).open_atomic(path)
    try:
        out.write(data)
    except BaseException:
        out.abort()
        raise
    out.commit()


def copy_file_in(store: Store, source: Path, path: StorePath, chunk: int) -> None:
    """Copy the local file `source` to `path` on `store`, `chunk` bytes at a time, through an
    atomic write (nothing is visible under `path` unless the whole copy committed)."""
    out = store.open_atomic(path)
    try:
        with open(source, "rb") as src:
            while data := src.read(chunk):
                out.write(data)
    except BaseException:
        out.abort()
        raise
    out.commit()


def existing_stat(path: StorePath) -> FileStat:
    """`stat` of a file that must be there (`FileNotFoundError` naming it otherwise)."""
    st = store_for(path).stat(path)
    if st is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), os.fspath(path))
    return st
