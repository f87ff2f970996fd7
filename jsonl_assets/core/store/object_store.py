"""What the object stores (s3.py, gcs.py, azure.py) share: reads, appends, moves, globs,
and the fsspec answers to listing, stat and removal.

`ObjectStore` holds one fsspec file system per process; a backend gives it (`make_fs`) and
adds what needs its own API: `open_atomic` (a `PartUpload`, invisible until committed),
`publish` (a conditional write) and `remove_partials` (uploads a killed build left); S3 also
lists, stats and removes through botocore.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.store.base import (
    AtomicWrite,
    Entry,
    FileStat,
    PreconditionFailed,
    StorePath,
    copy_file_in,
    ensure_version,
)
from jsonl_assets.core.store.object_keys import listing_prefix, matching_keys, pattern_parts
from jsonl_assets.core.store.url import is_url

READ_BLOCK: Final = 4 << 20  # read-ahead of a streamed read


class Window(io.RawIOBase):
    """Bytes `start` to `end` of a seekable stream (a ranged read)."""

    def __init__(self, handle: BinaryIO, start: int, end: int) -> None:
        self._handle = handle
        handle.seek(start)
        self._left = max(0, end - start)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            return 0
        data = self._handle.read(min(len(buffer), self._left))
        buffer[: len(data)] = data
        self._left -= len(data)
        return len(data)

    def close(self) -> None:
        self._handle.close()
        super().close()


def ranged(handle: BinaryIO, start: int, end: int | None) -> BinaryIO:
    """`handle` from `start` to `end` (None: to the end of the object)."""
    if end is not None:
        return io.BufferedReader(Window(handle, start, end))  # type: ignore[return-value]
    if start:
        handle.seek(start)
    return handle


def split_url(path: StorePath) -> tuple[str, str]:
    """`gs://bucket/a/b` -> (`bucket`, `a/b`)."""
    text = os.fspath(path)
    rest = text.split("://", 1)[1] if "://" in text else text
    bucket, _, key = rest.partition("/")
    return bucket, key.strip("/")


def nanoseconds(value: Any) -> int:
    """A modification time as given by a client (datetime or seconds) in nanoseconds."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1e9)
    return int(float(value) * 1e9) if isinstance(value, int | float) else 0


def client_class(module: str, name: str, scheme: str, extra: str) -> Any:
    """`module.name` of a backend's client library, or a message naming the extra to install."""
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ValueError(
            f"{scheme} locations need the {exc.name or module} package, which is not "
            f"installed: pip install 'jsonl-assets[{extra}]'"
        ) from exc


class PartUpload:
    """An upload written in parts: `write` buffers, and hands each `store.PART_BYTES` or more
    to `send_part` (a backend's); `take` empties the buffer. `path` is the final URL."""

    def __init__(self, store: ObjectStore, path: StorePath) -> None:
        from jsonl_assets.core.store.url import StoreURL

        self.path: Any = StoreURL(os.fspath(path))
        self.url = os.fspath(path)
        self._store = store
        self._bucket, self._key = split_url(path)
        self._chunks: list[bytes] = []  # written, not yet sent (joined once per part)
        self._buffered = 0

    def send_part(self) -> None:
        raise NotImplementedError

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        self._buffered += len(data)
        if self._buffered >= self._store.PART_BYTES:
            self.send_part()  # a part may pass PART_BYTES by one write
        return len(data)

    def take(self) -> bytes:
        """What is buffered, joined; the buffer is then empty."""
        data = b"".join(self._chunks)
        self._chunks, self._buffered = [], 0
        return data


def _hush(logger: logging.Logger) -> None:
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


class ObjectStore:
    """The `Store` methods plain fsspec answers, for a backend whose `make_fs` gives its file
    system and whose `tag` reads the version token from an fsspec `info` dict."""

    SCHEME: str = ""  # the scheme of the URLs it returns (globs)
    PINS_READS: bool = False
    POLARS_READS: bool = False
    PART_BYTES: int = 8 << 20  # bytes a part of an upload holds before it is sent
    CUT_AT: tuple[str, ...] = ()  # where the client cuts a key (a version query)
    # `module:Class` of the client library's own errors (an unreachable endpoint, refused
    # credentials) that are not OSError: `client_errors` imports them when asked
    CLIENT_ERRORS: tuple[str, ...] = ()
    # The client library's loggers. A failure the store reports as one clear error is logged
    # by some clients first (gcsfs logs the traceback once out of retries), and Python prints
    # a record no handler takes: each gets a NullHandler (a handler the user's logging
    # configuration puts on the root still receives the records).
    CLIENT_LOGGERS: tuple[str, ...] = ("fsspec",)

    def client_errors(self) -> tuple[type[Exception], ...]:
        """The client library's error classes (`CLIENT_ERRORS`) that are installed."""
        found = []
        for name in self.CLIENT_ERRORS:
            module, _, attr = name.partition(":")
            with contextlib.suppress(ImportError, AttributeError):
                found.append(getattr(importlib.import_module(module), attr))
        return tuple(found)

    def __init__(self) -> None:
        self._fs: Any = None
        self._pid = 0
        for name in self.CLIENT_LOGGERS:
            _hush(logging.getLogger(name))

    def make_fs(self) -> Any:
        raise NotImplementedError

    def tag(self, info: dict[str, Any]) -> str:
        raise NotImplementedError

    def open_atomic(self, path: StorePath, shared: bool = False) -> AtomicWrite:
        raise NotImplementedError

    def put_if(self, bucket: str, key: str, data: bytes, expected_tag: str | None) -> None:
        """Write the object in one request, only over the version `expected_tag` (`ABSENT`:
        only if there is none; None: unconditionally)."""
        raise NotImplementedError

    def lost_race(self, exc: Exception) -> bool:
        """Whether `put_if` failed for its condition (HTTP 412, or 409 for a racing write)."""
        raise NotImplementedError

    def publish(self, path: StorePath, data: bytes, expected_tag: str | None = None) -> FileStat:
        try:
            self.put_if(*split_url(path), data, expected_tag)
        except Exception as exc:
            if self.lost_race(exc):
                raise PreconditionFailed(
                    f"HTTP 412 from {os.fspath(path)}: another version was published "
                    f"(expected {expected_tag})"
                ) from exc
            raise OSError(f"cannot write {os.fspath(path)}: {exc}") from exc
        st = self.stat(path)
        assert st is not None
        return st

    @property
    def fs(self) -> Any:
        if self._fs is None or self._pid != os.getpid():  # a forked worker makes its own
            self._fs = self.make_fs()
            self._pid = os.getpid()
        return self._fs

    @staticmethod
    def key(path: StorePath) -> str:
        """`bucket/key`, as fsspec names an object."""
        return "/".join(p for p in split_url(path) if p)

    def open_read(
        self,
        path: StorePath,
        start: int = 0,
        end: int | None = None,
        version: FileStat | None = None,
    ) -> BinaryIO:
        if version is not None:  # checked when opened (`PINS_READS` is False)
            ensure_version(version, self.stat(path))
        try:
            handle = self.fs.open(
                self.key(path), "rb", block_size=READ_BLOCK, cache_type="readahead"
            )
        except FileNotFoundError:
            raise FileNotFoundError(2, "no such object", os.fspath(path)) from None
        return ranged(handle, start, end)

    def append(self, path: StorePath, data: bytes) -> None:
        """Object storage cannot append: the (small) object is read and written again."""
        try:
            with self.open_read(path) as handle:
                before = handle.read()
        except FileNotFoundError:
            before = b""
        out = self.open_atomic(path)
        out.write(before + data)
        out.commit()

    def list(self, folder: StorePath) -> Iterator[Entry]:
        key = self.key(folder)
        try:
            found = self.fs.ls(key, detail=True)
        except FileNotFoundError:
            return
        for item in found:
            name = item["name"].rstrip("/")
            if name != key:
                yield Entry(name.rsplit("/", 1)[-1], item.get("type") == "directory")

    def stat(self, path: StorePath) -> FileStat | None:
        try:
            info = self.fs.info(self.key(path))
        except FileNotFoundError:
            return None
        return self.info_stat(info)

    def info_stat(self, info: dict[str, Any]) -> FileStat:
        """The stat in an fsspec `info` (or listing) entry."""
        if info.get("type") == "directory":
            return FileStat(0, 0, is_dir=True)
        modified = (
            info.get("mtime")
            or info.get("last_modified")
            or info.get("updated")
            or info.get("LastModified")
        )
        return FileStat(int(info.get("size") or 0), nanoseconds(modified), etag=self.tag(info))

    def move_in(self, source: StorePath, path: StorePath) -> None:
        """A local file: uploaded and deleted. An object of this store: copied by the server,
        then deleted."""
        if not is_url(source):
            copy_file_in(self, Path(source), path, self.PART_BYTES)  # type: ignore[arg-type]
            Path(source).unlink()
            return
        try:
            self.fs.cp_file(self.key(source), self.key(path))
        except Exception as exc:
            raise OSError(f"cannot write {os.fspath(path)}: {exc}") from exc
        reached("upload.copied")
        self.remove(source)

    def remove(self, path: StorePath, missing_ok: bool = True, recursive: bool = False) -> None:
        key = self.key(path)
        try:
            if recursive:
                if self.fs.exists(key):
                    self.fs.rm(key, recursive=True)
            else:
                self.fs.rm_file(key)
        except FileNotFoundError:
            if not missing_ok:
                raise FileNotFoundError(2, "no such object", os.fspath(path)) from None

    def bucket_exists(self, bucket: str) -> bool:
        """False only if the store says there is no such bucket (any other failure: True,
        the build's first write finds out)."""
        try:
            self.fs.info(bucket)
        except FileNotFoundError:
            return False
        except Exception:
            return True
        return True

    def objects(self, bucket: str, prefix: str) -> Iterator[tuple[str, FileStat]]:
        """Every object of `bucket` whose key starts with `prefix`, by its key, with the
        listing's stat (a flat listing: no folders)."""
        folder = prefix.rpartition("/")[0]
        root = f"{bucket}/{folder}" if folder else bucket
        try:
            found = self.fs.find(root, detail=True)
        except FileNotFoundError:
            return
        for name, info in found.items():
            key = name[len(bucket) + 1 :]
            if info.get("type") != "directory" and key.startswith(prefix):
                yield key, self.info_stat(info)

    def glob(self, pattern: str) -> dict[str, FileStat]:
        """The objects matching `pattern` (`*`, `?`, `[...]`, `**`, with glob.glob's rules,
        object_keys.py): URL -> its stat from the listing (so that a build asks nothing more
        of an object to know it). `UnnameableKey` if it matches a key that cannot be read
        under its own name."""
        text = os.fspath(pattern)
        rest = text.split("://", 1)[1] if "://" in text else text
        bucket, _, key_glob = rest.partition("/")
        listed = dict(self.objects(bucket, listing_prefix(pattern_parts(key_glob))))
        keys = matching_keys(key_glob, ((k, st.size) for k, st in listed.items()), self.CUT_AT)
        return {f"{self.SCHEME}://{bucket}/{k}": listed[k] for k in keys}
