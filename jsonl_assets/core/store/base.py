"""The storage seam: the one interface every source read and every output write goes through.

A `Store` is picked from a path or URL by `store_for`; plain paths and `file://` get the local
file system (local.py). A new backend (say `gs://`) is one module in this package with a class
that has these methods and names its URL schemes in `SCHEMES`: `store_for` finds it. The
methods are chosen so that object storage fits:
reads are streams (ranged for Parquet), an atomic write is a multipart upload that becomes
visible at `commit()`, `publish` is a conditional put (If-Match / If-None-Match), and
`FileStat.tag` is the ETag.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Final, Protocol

StorePath = str | os.PathLike[str]

ABSENT: Final = "absent"
"""`publish(..., expected_tag=ABSENT)`: write only if nothing is there yet (If-None-Match: *)."""

BACKENDS: dict[str, type[Any]] = {}
"""URL scheme -> the class of its store: every class of this package's modules that declares
`SCHEMES` (found on the first `store_for`)."""


class PreconditionFailed(Exception):
    """`publish` found another version than the one it was told to replace."""


class SourceChangedError(Exception):
    """A file is not the version that was observed: it changed, or was replaced or removed."""


class VersionChanged(SourceChangedError):
    """What a store raises when a read held to a version finds another (the message says
    how, the caller names the file)."""


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

    @property
    def identity(self) -> tuple[int | str, ...]:
        """What names one version of the file's bytes: on object storage the size and ETag
        (a listing and a HEAD give the same; a version id, which only a HEAD gives, is left
        out), else the size, mtime, inode and ctime (a rewrite that keeps the size and sets
        the mtime back still moves the ctime)."""
        if self.etag:
            return (self.size, self.etag.partition("@")[0])
        return (self.size, self.mtime_ns, self.inode, self.ctime_ns)


def ensure_version(version: FileStat, now: FileStat | None) -> None:
    """Raise `VersionChanged`, saying how ("size 3 -> 5, inode 7 -> 9", "it is gone"),
    unless `now` is the version `version` names (`FileStat.identity`)."""
    if now is None:
        raise VersionChanged("it is gone")
    if now.identity == version.identity:
        return
    names = (
        ("size", "etag") if version.etag or now.etag else ("size", "mtime_ns", "inode", "ctime_ns")
    )
    raise VersionChanged(
        ", ".join(
            f"{name} {getattr(version, name)} -> {getattr(now, name)}"
            for name in names
            if getattr(version, name) != getattr(now, name)
        )
    )


def ensure_still(path: StorePath, version: FileStat) -> None:
    """After a read held to `version`: `VersionChanged` if the file is another now (a store
    whose every read is conditional on the version, `PINS_READS`, is not asked)."""
    store = store_for(path)
    if not store.PINS_READS:
        ensure_version(version, store.stat(path))


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

    SCHEMES: ClassVar[tuple[str, ...]]  # the URL schemes it serves ("": plain paths)

    PINS_READS: ClassVar[bool]
    """Whether every request of `open_read(..., version=...)` is conditional on the version
    (S3's If-Match), so that no byte of another version can be read: then nothing needs to
    be checked after a read. A local file is checked when opened, and can still change."""
    POLARS_READS: ClassVar[bool]
    """Whether polars reads this store's paths itself, with the same credentials and
    endpoint (local paths; S3 through the AWS environment). Else a Parquet file is copied to
    a local scratch file through `open_read` first."""

    def open_read(
        self,
        path: StorePath,
        start: int = 0,
        end: int | None = None,
        version: FileStat | None = None,
    ) -> BinaryIO:
        """A binary stream of bytes `start` to `end` (exclusive; None: to the end);
        `FileNotFoundError` if nothing is there. With `version` (a stat taken earlier), the
        file must still be that version (`FileStat.identity`), else `VersionChanged`."""
        ...

    def open_atomic(self, path: StorePath, shared: bool = False) -> AtomicWrite:
        """Start writing `path` (parent folders are created); see `AtomicWrite`. `shared`:
        other processes may write the same content to `path` at the same time (a folder named
        by its content, which packages share): each write then has a temporary of its own."""
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
        `.partial` files, never one whose writer lives; incomplete multipart uploads on object
        storage); how many."""
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


def local_path(path_or_url: StorePath) -> str:
    """The local path a `file://` URL names (`file:///data/raw` -> `/data/raw`, taken as
    written: no %-decoding, like a plain path); any other text as it is."""
    text = os.fspath(path_or_url)
    return text.split("://", 1)[1] if url_scheme(text) == "file" else text


_stores: dict[str, Store] = {}
_found: list[bool] = []


def backends() -> dict[str, type[Any]]:
    """`BACKENDS`, filled on first use from the modules of this package (each imported once)."""
    if not _found:
        for module in pkgutil.iter_modules([os.path.dirname(__file__)]):
            loaded = importlib.import_module(f"{__package__}.{module.name}")
            for value in vars(loaded).values():
                declared = isinstance(value, type) and "SCHEMES" in vars(value)
                if declared and value.__module__ == loaded.__name__:
                    for scheme in value.SCHEMES:
                        BACKENDS.setdefault(scheme, value)
        _found.append(True)
    return BACKENDS


def store_for(path_or_url: StorePath) -> Store:
    """The store that holds `path_or_url` (one instance per scheme)."""
    scheme = url_scheme(path_or_url)
    store = _stores.get(scheme)
    if store is None:
        known = backends()
        if scheme not in known:
            schemes = ", ".join(f"{s}://" for s in sorted(known) if s)
            raise ValueError(
                f"no storage backend for {os.fspath(path_or_url)!r} ({scheme}://); known: plain "
                f"paths, {schemes} (a backend is a module of {__package__} whose store class "
                "names its schemes in SCHEMES)"
            )
        store = _stores[scheme] = known[scheme]()
    return store


def read_bytes(path: StorePath) -> bytes:
    """A whole (small) file's bytes: markers, ledgers, journals, metadata.json."""
    with store_for(path).open_read(path) as handle:
        return handle.read()


@contextlib.contextmanager
def committed(out: AtomicWrite) -> Iterator[AtomicWrite]:
    """`out`, committed when the block ends, aborted if it raises (nothing left behind)."""
    try:
        yield out
    except BaseException:
        out.abort()
        raise
    out.commit()


def write_bytes(path: StorePath, data: bytes, shared: bool = False) -> None:
    """Write a small file atomically (`shared`: see `Store.open_atomic`)."""
    with committed(store_for(path).open_atomic(path, shared)) as out:
        out.write(data)


def copy_file_in(
    store: Store, source: Path, path: StorePath, chunk: int, shared: bool = False
) -> None:
    """Copy the local file `source` to `path` on `store`, `chunk` bytes at a time, through an
    atomic write (nothing is visible under `path` unless the whole copy committed; `shared`:
    see `Store.open_atomic`). `source` is opened as any local read is: a regular file only."""
    src_store = store_for(source)
    with committed(store.open_atomic(path, shared)) as out, src_store.open_read(source) as src:
        while data := src.read(chunk):
            out.write(data)


def existing_stat(path: StorePath) -> FileStat:
    """`stat` of a file that must be there (`FileNotFoundError` naming it otherwise)."""
    st = store_for(path).stat(path)
    if st is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), os.fspath(path))
    return st
