"""Duplicate ids across a partition's chunks, found bucket by bucket in bounded memory.

A chunk worker files each accepted record's id digest, with its line index in the chunk and
its position, into one of `BUCKETS` files by the digest's first byte (`ids.<b>.bin`, 32
bytes a record). The merge then takes one bucket at a time: the bucket's entries of every
chunk, in chunk order, through a `SeenIds` (dedup.py), so the first occurrence in global
(file, position) order wins exactly as if all ids were in one set, and only a bucket's ids
(1/BUCKETS of the partition's) are in memory at once. Equal ids always share a bucket.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path
from typing import Any, Final

import polars as pl

from jsonl_assets.core.dedup import SeenIds
from jsonl_assets.core.store.base import store_for
from jsonl_assets.core.store.work_files import WorkFileWriter

BUCKETS: Final = 16
_ENTRY: Final = struct.Struct("<16sQQ")  # digest, line index in the chunk, position
_POSITION_BITS: Final = 40


def bucket_file(chunk_dir: Path, bucket: int) -> Path:
    return chunk_dir / f"ids.{bucket:02d}.bin"


class BucketFiles:
    """A chunk's id digests, filed by bucket as its batches come; written at commit."""

    def __init__(self, chunk_dir: Path) -> None:
        self.chunk_dir = chunk_dir
        self._buckets = [bytearray() for _ in range(BUCKETS)]

    def add(self, digests: list[bytes], line_indices: list[int], positions: list[int]) -> None:
        pack, buckets = _ENTRY.pack, self._buckets
        for digest, index, position in zip(digests, line_indices, positions, strict=True):
            buckets[digest[0] % BUCKETS] += pack(digest, index, position)

    def commit(self) -> None:
        for bucket, data in enumerate(self._buckets):
            writer = WorkFileWriter(bucket_file(self.chunk_dir, bucket))
            writer.write(bytes(data))
            writer.commit()


def find_duplicates(
    chunks: list[tuple[Path, dict[str, Any]]], scratch: Path
) -> tuple[list[list[tuple[int, int]]], list[Path], int]:
    """Per chunk, its duplicates as `(line index in the chunk, position kept)`, ascending;
    the distinct ids (hi, lo, pos: the accepted ids' digests, for the leakage check), one
    Arrow file per bucket in `scratch`; the largest bucket's id set in bytes (the dedup's
    memory)."""
    duplicates: list[list[tuple[int, int]]] = [[] for _ in chunks]
    parts: list[Path] = []
    peak = 0
    scratch.mkdir(parents=True, exist_ok=True)
    for bucket in range(BUCKETS):
        seen = SeenIds()
        for c, (path, report) in enumerate(chunks):
            file = bucket_file(path, bucket)
            with store_for(file).open_read(file) as handle:
                entries = list(_ENTRY.iter_unpack(handle.read()))
            if not entries:
                continue
            high = report["file_index"] << _POSITION_BITS
            digests = [e[0] for e in entries]
            positions = [high | e[2] for e in entries]
            for j, kept in seen.add_batch(digests, positions):
                duplicates[c].append((entries[j][1], kept))
        parts.append(scratch / f"ids.{bucket:02d}.arrow")
        seen.frame().write_ipc(parts[-1])
        peak = max(peak, seen.nbytes())
    for found in duplicates:
        found.sort()
    return duplicates, parts, peak


def write_ids(parts: list[Path], out: Any) -> None:
    """The buckets' id files as one Arrow file into `out` (a binary file), streamed: no more
    than a bucket's ids in memory. The parts are removed."""
    whole = parts[0].with_name("ids.arrow")
    pl.concat([pl.scan_ipc(p) for p in parts]).sink_ipc(whole)
    with open(whole, "rb") as handle:
        shutil.copyfileobj(handle, out, 1 << 20)
    for path in [*parts, whole]:
        path.unlink()
