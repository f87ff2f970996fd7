"""Duplicate ids across a partition's chunks, found bucket by bucket in bounded memory.

A chunk worker files each accepted record's id digest, with its line index in the chunk and
its position, into one of `BUCKETS` files by the digest's first byte (`ids.<b>.bin`, 32
bytes a record). The merge then takes one bucket at a time: the bucket's entries of every
chunk, in chunk order, in one table: the first occurrence in global (file, position) order
wins exactly as if all ids were in one set, and only a bucket's ids (1/BUCKETS of the
partition's) are in memory at once. Equal ids always share a bucket.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl

from jsonl_assets.core.store.base import store_for
from jsonl_assets.core.store.work_files import WorkFileWriter

BUCKETS: Final = 16
_ENTRY: Final = struct.Struct("<16sQQ")  # digest, line index in the chunk, position
# The same entry read in place: the digest as two big-endian halves (as dedup.py keys ids).
_RECORD: Final = np.dtype([("hi", ">u8"), ("lo", ">u8"), ("line", "<u8"), ("pos", "<u8")])
_IDS: Final = {
    "hi": pl.UInt64,
    "lo": pl.UInt64,
    "pos": pl.UInt64,
    "chunk": pl.UInt32,
    "line": pl.UInt64,
}
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
        ids = _bucket_ids(chunks, bucket)
        # Rows are in global (chunk, line) order: the first row of an id is the one kept.
        first = pl.struct("hi", "lo").is_first_distinct()
        found = ids.select(
            first=first, chunk="chunk", line="line", kept=pl.col("pos").first().over("hi", "lo")
        ).filter(~pl.col("first"))
        for c, line, kept in found.select("chunk", "line", "kept").iter_rows():
            duplicates[c].append((line, kept))
        distinct = ids.filter(first).select("hi", "lo", "pos")
        parts.append(scratch / f"ids.{bucket:02d}.arrow")
        distinct.write_ipc(parts[-1])
        peak = max(peak, ids.estimated_size())
    for dups in duplicates:
        dups.sort()
    return duplicates, parts, peak


def _bucket_ids(chunks: list[tuple[Path, dict[str, Any]]], bucket: int) -> pl.DataFrame:
    """One bucket's entries of every chunk, in chunk order: hi, lo (the digest's halves, big
    endian), pos (file index and position), chunk, line (index in the chunk)."""
    frames = []
    for c, (path, report) in enumerate(chunks):
        file = bucket_file(path, bucket)
        with store_for(file).open_read(file) as handle:
            rows = np.frombuffer(handle.read(), dtype=_RECORD)
        if not len(rows):
            continue
        high = np.uint64(report["file_index"] << _POSITION_BITS)
        frames.append(
            pl.DataFrame(
                {
                    "hi": rows["hi"].astype(np.uint64),
                    "lo": rows["lo"].astype(np.uint64),
                    "pos": rows["pos"].astype(np.uint64) | high,
                    "chunk": np.full(len(rows), c, dtype=np.uint32),
                    "line": rows["line"].astype(np.uint64),
                }
            )
        )
    if not frames:
        return pl.DataFrame(schema=_IDS)
    return pl.concat(frames)


def write_ids(parts: list[Path], out: Any) -> None:
    """The buckets' id files as one Arrow file into `out` (a binary file), streamed: no more
    than a bucket's ids in memory. The parts are removed."""
    whole = parts[0].with_name("ids.arrow")
    pl.concat([pl.scan_ipc(p) for p in parts]).sink_ipc(whole)
    with open(whole, "rb") as handle:
        shutil.copyfileobj(handle, out, 1 << 20)
    for path in [*parts, whole]:
        path.unlink()
