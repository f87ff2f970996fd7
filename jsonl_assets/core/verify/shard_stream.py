"""One streaming read of a shard (or the asset index), shared by the build and `verify`.

`ShardStream` opens a regular file inside the package (`verify_limits.open_regular`), reads
at most the size it had when opened, and hashes and counts its on-disk bytes as they are
read; `chunks` decompresses them to the end within a cap and `lines` splits them into
bounded lines. The build's shards_verified check and `verify_shard` both read through it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final, cast

import zstandard

from jsonl_assets.core.compression import (
    READ_CHUNK,
    SHARD_MAX_WINDOW,
    TruncatedInput,
    iter_decompressed,
)
from jsonl_assets.core.verify.verify_limits import MiB, capped, open_regular
from jsonl_assets.core.zstd_frames import window_refusal

HEAD_BYTES: Final = 4  # enough for every codec's magic bytes


class ShardStream:
    """A file opened for one hashed pass. `total` is its size when opened, `head` its first
    bytes, `size` the bytes read so far; `sha256()` is the digest of those bytes."""

    def __init__(self, raw: BinaryIO, total: int) -> None:
        self._raw = raw
        self.total = total
        self.head = raw.read(min(HEAD_BYTES, total))
        self.rewind()

    @classmethod
    def open(cls, path: Path, root: Path | None) -> ShardStream:
        """Open `path` (a regular file inside `root`); raise `verify_limits.Unreadable`."""
        raw, size = open_regular(path, root)
        try:
            return cls(raw, size)
        except BaseException:
            raw.close()
            raise

    def rewind(self) -> None:
        """Start the pass again from the first byte (a fresh digest)."""
        self._raw.seek(0)
        self._left = self.total
        self._sha = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self._left:
            n = self._left
        if n == 0:
            return b""
        data = self._raw.read(n)
        self._left -= len(data)
        self._sha.update(data)
        self.size += len(data)
        return data

    def readable(self) -> bool:
        return True

    def drain(self, chunk: int = MiB) -> None:
        """Read (and hash) the rest of the file."""
        while self.read(chunk):
            pass

    def sha256(self) -> str:
        return self._sha.hexdigest()

    def chunks(
        self, codec: str, cap: int | None = None, *, chunk: int = READ_CHUNK, own: bool = False
    ) -> Iterator[bytes]:
        """The decompressed content in chunks; raise `TruncatedInput` on damage and
        `verify_limits.ExpansionExceeded` past `cap` bytes. `own`: a shard this build wrote,
        whose zstd frames are read in large steps (the generic reader feeds input a few bytes
        at a time to name the damaged frame and offset of a foreign file)."""
        if own and codec == "zstd":
            source = _zstd_frames(self, chunk)
        else:
            source = iter_decompressed(cast(BinaryIO, self), codec, chunk)
        return source if cap is None else capped(source, cap)

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> ShardStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _zstd_frames(stream: ShardStream, chunk: int) -> Iterator[bytes]:
    reader = zstandard.ZstdDecompressor().stream_reader(
        stream, read_size=chunk, read_across_frames=True
    )
    try:
        while data := reader.read(chunk):
            yield data
    except zstandard.ZstdError as exc:
        if refused := window_refusal(str(exc), b"", SHARD_MAX_WINDOW):
            raise TruncatedInput("zstd", 0, refused, damaged=False) from exc
        raise TruncatedInput("zstd", 0, str(exc)) from exc
