"""One source file as the readers see it: stored bytes, their codec, their hash.

`SourceFile` is held to one version of the file, the stat it is given (an object's listing)
or takes: every open checks it (on S3 every GET is conditional on the ETag) and
`ensure_unchanged()` checks it again after the read, with the number of bytes hashed.
`chunks()` streams the decompressed content and hashes the *stored* bytes on the way (one
pass); when the decompressor stops on damage, the rest is still hashed, so `sha256` names
the whole file. A read closed early leaves the hash to `hash_remaining()`. A small object
is fetched once, whole: one GET serves its codec, its hash and its records.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final

from jsonl_assets.core.compression import (
    SOURCE_MAX_WINDOW,
    DamagedLines,
    damaged_lines,
    detect_compression,
    iter_decompressed,
)
from jsonl_assets.core.store import file_hashes
from jsonl_assets.core.store.base import (
    FileStat,
    SourceChangedError,
    VersionChanged,
    ensure_still,
    ensure_version,
    existing_stat,
    store_for,
)
from jsonl_assets.core.store.object_store import READ_BLOCK
from jsonl_assets.core.store.url import is_url, location

__all__ = ["ChunkReader", "SourceChangedError", "SourceFile"]

DEFAULT_CHUNK: Final = 1 << 20
_MAGIC_LEN: Final = 4
SMALL_OBJECT: Final = READ_BLOCK  # an object this small is fetched whole, in one GET


class _HashingReader(io.RawIOBase):
    """A raw binary reader that feeds every byte it returns into a hash and counts them."""

    def __init__(self, raw: BinaryIO, hasher: Any) -> None:
        super().__init__()
        self._raw = raw
        self._hasher = hasher
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        data = self._raw.read(-1 if n is None else n)
        self._hasher.update(data)
        self.count += len(data)
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def drain(self, size: int = DEFAULT_CHUNK) -> None:
        """Hash whatever the decompressor did not read (trailing bytes after damage)."""
        while self.read(size):
            pass


def decompressed_chunks(
    reader: _HashingReader, compression: str, size: int, skip_bad_members: bool = False
) -> Iterator[bytes]:
    """Decompressed chunks of about `size` bytes; `TruncatedInput` on damage (see
    `compression.iter_decompressed`: good data before the damage is always yielded, and one
    call never inflates a few KB into an unbounded amount)."""
    return iter_decompressed(  # type: ignore[arg-type]
        reader, compression, size, skip_bad_members=skip_bad_members, max_window=SOURCE_MAX_WINDOW
    )


class _NoHash:
    """Stands in for the hasher when the file was hashed before it is read."""

    def update(self, data: bytes) -> None:
        pass


_NO_HASH: Final = _NoHash()


class SourceFile:
    """A raw input file: `path` is opened, `rel` (config-relative) is what traces show."""

    def __init__(self, path: Path, rel: str, stat: FileStat | None = None) -> None:
        self.path = location(path)
        self.rel = rel
        self._store = store_for(self.path)
        st = stat if stat is not None else existing_stat(self.path)
        self._stat = st
        self.size: int = st.size
        self._sha256: str | None = None
        self._hashed_bytes: int | None = None
        self._damage: list[DamagedLines] | None = None
        self._body: bytes | None = None
        self._read_elsewhere = False
        if is_url(self.path) and st.size <= SMALL_OBJECT:
            with self._open("when opened for reading") as fh:
                self._body = fh.read()
            self._sha256 = hashlib.sha256(self._body).hexdigest()
            self._hashed_bytes = len(self._body)
            head = self._body[:_MAGIC_LEN]
        else:
            with self._open("when opened for reading") as fh:
                head = fh.read(_MAGIC_LEN)
        self.compression: str = detect_compression(head)

    @contextlib.contextmanager
    def _open(self, when: str) -> Iterator[BinaryIO]:
        """The stored bytes, held to the file's version: `SourceChangedError` naming the file
        if it is another when opened or, on S3, at any GET of the read."""
        try:
            if self._body is not None:
                yield io.BytesIO(self._body)
                return
            with self._store.open_read(self.path, version=self._stat) as fh:
                yield fh
        except VersionChanged as exc:
            raise SourceChangedError(f"{self.rel}: file changed {when} ({exc})") from None
        except FileNotFoundError:
            raise SourceChangedError(f"{self.rel}: file disappeared while being read") from None

    def __repr__(self) -> str:
        return f"SourceFile({self.rel!r}, compression={self.compression!r}, size={self.size})"

    @property
    def etag(self) -> str:
        """The object's ETag (with its version id) when opened; "" for a local file."""
        return self._stat.etag

    @property
    def sha256(self) -> str:
        """Hex sha256 of the stored bytes; known once `chunks()` has finished."""
        if self._sha256 is None:
            raise RuntimeError(
                f"{self.rel}: sha256 is known only after the file has been read "
                "(exhaust chunks() or call hash_remaining())"
            )
        return self._sha256

    def chunks(self, size: int = DEFAULT_CHUNK) -> Iterator[bytes]:
        """Decompressed content in chunks, hashing the stored bytes as they are read.

        Raises `TruncatedInput` (see `decompressed_chunks`) after yielding every
        byte decompressed before the damage; the hash still covers the whole stored file.
        """
        # Hashed beforehand (`hash_remaining()` first): only count the bytes read.
        hasher = hashlib.sha256() if self._sha256 is None else _NO_HASH
        with self._open("when opened for reading") as fh:
            reader = _HashingReader(fh, hasher)
            # Members found bad by `damage()` are skipped over (their records are quarantined).
            skip = self._damage is not None
            try:
                yield from decompressed_chunks(reader, self.compression, size, skip)
            except GeneratorExit:
                # Closed early by the consumer: leave the hash to hash_remaining(), so an
                # abandoned read does not go on reading a large file.
                raise
            except Exception:
                self._finish(reader, hasher, size)
                raise
            self._finish(reader, hasher, size)

    def _finish(self, reader: _HashingReader, hasher: Any, size: int) -> None:
        reader.drain(size)
        if hasher is not _NO_HASH:
            self._sha256 = hasher.hexdigest()
        self._hashed_bytes = reader.count

    def damage(self) -> list[DamagedLines]:
        """The lines that damaged gzip members / zstd frames touch (`compression.damaged_lines`),
        found by one streaming pass over the stored bytes before the file is read; that pass
        also hashes the file when its hash is not known yet. Empty for an uncompressed file."""
        if self._damage is None:
            if self.compression == "none":
                self._damage = []
                return self._damage
            if self._sha256 is None and (sha := file_hashes.known(self.path.resolve(), self._stat)):
                self._sha256 = sha
            hasher = hashlib.sha256() if self._sha256 is None else _NO_HASH
            with self._open("when opened for checking") as fh:
                reader = _HashingReader(fh, hasher)
                found = damaged_lines(reader, self.compression, max_window=SOURCE_MAX_WINDOW)  # type: ignore[arg-type]
                reader.drain()
            if hasher is not _NO_HASH:
                self._sha256 = hasher.hexdigest()
                self._hashed_bytes = reader.count
            self._damage = found
        return self._damage

    def hash_remaining(self) -> str:
        """Make `sha256` valid: a no-op after a read, else one hashing pass over the file.

        Called before `chunks()`, it makes the hash known before the content is read (the
        read then only counts bytes); the file's identity is checked at both opens and after.
        A hash taken earlier in this process of the same file with the same identity (size,
        mtime, inode, ctime; see file_hashes.py) is reused.
        """
        if self._sha256 is None and (sha := file_hashes.known(self.path.resolve(), self._stat)):
            self._sha256 = sha  # hashed earlier in this process (the run's observation)
        if self._sha256 is None and self.compression != "none" and self._damage is None:
            self.damage()  # one pass: the members are checked and the file hashed
        if self._sha256 is None:
            hasher = hashlib.sha256()
            with self._open("when opened for hashing") as fh:
                reader = _HashingReader(fh, hasher)
                reader.drain()
            self._sha256 = hasher.hexdigest()
            self._hashed_bytes = reader.count
        return self._sha256

    def local_path_for_random_access(self, scratch_dir: Path) -> Path:
        """A seekable, uncompressed path with this file's content (for Parquet).

        The path itself when the file is stored uncompressed and polars reads its store's
        paths (local, S3), unless it is a small object whose bytes are here already;
        otherwise a decompressed copy written into `scratch_dir`, which the caller deletes
        when done (see `is_scratch_copy`).
        Raises `TruncatedInput` (and removes the partial copy) when the stream is damaged.
        """
        if self.compression == "none" and self._body is None and self._store.POLARS_READS:
            self._read_elsewhere = True  # by another reader, not held to the version
            return self.path
        scratch_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="decompressed-", suffix=".tmp", dir=scratch_dir)
        target = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self.chunks():
                    out.write(chunk)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return target

    def is_scratch_copy(self, path: Path) -> bool:
        return os.fspath(path) != os.fspath(self.path)  # the path may be an object's URL

    def ensure_unchanged(self) -> None:
        """Raise `SourceChangedError` if the file is not the one that was opened and read (a
        store that pins every read to the version, S3, needs no look after it, unless the
        file was also read by another reader: polars reads a Parquet object by its URL)."""
        try:
            if self._read_elsewhere:
                ensure_version(self._stat, self._store.stat(self.path))
            else:
                ensure_still(self.path, self._stat)
        except VersionChanged as exc:
            raise SourceChangedError(f"{self.rel}: file changed after reading ({exc})") from None
        if self._hashed_bytes is not None and self._hashed_bytes != self.size:
            raise SourceChangedError(
                f"{self.rel}: {self._hashed_bytes} bytes were read but the file had "
                f"{self.size} bytes when opened"
            )


class ChunkReader(io.RawIOBase):
    """A read-only binary file over an iterator of byte chunks (for ijson, TextIOWrapper).

    Holds at most one chunk. `read(n)` returns a slice of the current chunk without joining.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._buf = b""
        self._pos = 0
        self.consumed = 0  # bytes handed out so far (decompressed offset)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """Close the chunk iterator too, releasing its file (an unfinished hash is then left to
        `SourceFile.hash_remaining()`)."""
        if not self.closed:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
        super().close()

    def _fill(self) -> bool:
        while self._pos >= len(self._buf):
            nxt = next(self._chunks, None)
            if nxt is None:
                return False
            self._buf = nxt
            self._pos = 0
        return True

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            parts = []
            while part := self.read(DEFAULT_CHUNK):
                parts.append(part)
            return b"".join(parts)
        if n == 0 or not self._fill():
            return b""
        start = self._pos
        end = min(len(self._buf), start + n)
        self._pos = end
        self.consumed += end - start
        if start == 0 and end == len(self._buf):
            return self._buf
        return self._buf[start:end]

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
