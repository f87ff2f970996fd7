"""Duplicate ids across a partition's chunks, found bucket by bucket in bounded memory.

A chunk worker files each accepted record's id digest, with its line index in the chunk and
its position, into one of `BUCKETS` files by the digest's first two bytes (`ids.<b>.bin`, 32
bytes a record). The merge then takes one bucket at a time: the bucket's entries of every
chunk, in chunk order, in one table: the first occurrence in global (file, position) order
wins exactly as if all ids were in one set, and only a bucket's ids (1/BUCKETS of the
partition's) are in memory at once. Equal ids always share a bucket. A worker writes its
bucket files as its batches come (a small buffer each), and each bucket's duplicates are
spilled to a work file as they are found (duplicates.py), for the merge's replay to read
back chunk by chunk: neither holds anything per record for a whole chunk or partition.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl

from jsonl_assets.core.arrow_files import scan_ipc_file
from jsonl_assets.core.chunks.duplicates import DUPLICATE, Duplicates
from jsonl_assets.core.polars_paths import polars_output
from jsonl_assets.core.store.base import store_for
from jsonl_assets.core.store.work_files import WorkFileWriter

BUCKETS: Final = 16  # up to 65,536 (two bytes of the digest choose the bucket)
# An entry: the digest (as two big-endian halves, as dedup.py keys ids), the line index in
# the chunk and the position.
_RECORD: Final = np.dtype([("hi", ">u8"), ("lo", ">u8"), ("line", "<u8"), ("pos", "<u8")])
_IDS: Final = {"hi": pl.UInt64, "lo": pl.UInt64, "pos": pl.UInt64}
_POSITION_BITS: Final = 40
BUFFER_BYTES: Final = 256 << 10  # a chunk worker's buffer for each bucket file


def bucket_file(chunk_dir: Path, bucket: int) -> Path:
    return chunk_dir / f"ids.{bucket:02d}.bin"


class BucketFiles:
    """A chunk's id digests, filed by bucket as its batches come and written out as they
    fill a small buffer (`BUFFER_BYTES` a bucket), under temporary names: `commit()` puts the
    finished files in place, so a killed worker leaves none that looks complete."""

    def __init__(self, chunk_dir: Path) -> None:
        self.chunk_dir = chunk_dir
        self._writers: list[WorkFileWriter] = []
        try:
            for bucket in range(BUCKETS):
                path = bucket_file(chunk_dir, bucket)
                self._writers.append(WorkFileWriter(path, buffer_bytes=BUFFER_BYTES))
        except BaseException:
            self.abort()
            raise

    def add(self, digests: list[bytes], line_indices: list[int], positions: list[int]) -> None:
        n = len(digests)
        if not n:
            return
        keys = np.frombuffer(b"".join(digests), dtype=">u8")
        if len(keys) != 2 * n or len(line_indices) != n or len(positions) != n:
            raise ValueError("an id digest is not 16 bytes, or the lists differ in length")
        entries = np.empty(n, dtype=_RECORD)
        entries["hi"], entries["lo"] = keys[0::2], keys[1::2]
        entries["line"], entries["pos"] = line_indices, positions
        # The bucket: the digest's first two bytes (the high half's top 16 bits).
        buckets = (entries["hi"] >> np.uint64(48)) % np.uint64(BUCKETS)
        order = np.argsort(buckets, kind="stable")  # each bucket's entries in record order
        ends = np.cumsum(np.bincount(buckets, minlength=BUCKETS))
        filed = entries[order]
        for bucket, writer in enumerate(self._writers):
            start, end = (int(ends[bucket - 1]) if bucket else 0), int(ends[bucket])
            if end > start:
                writer.write(filed[start:end].tobytes())

    def commit(self) -> None:
        for writer in self._writers:
            writer.commit()

    def abort(self) -> None:
        for writer in self._writers:
            writer.abort()


def find_duplicates(
    chunks: Sequence[tuple[Path, int]], scratch: Path
) -> tuple[Duplicates, list[Path], int]:
    """The duplicates of every chunk `(folder, its first file's index in the partition)`, spilled to `scratch` bucket by bucket (duplicates.py:
    per chunk, `(line index in the chunk, position kept)` in line order); the distinct ids
    (hi, lo, pos: the accepted ids' digests, for the leakage check), one Arrow file per bucket
    in `scratch`; the largest bucket's id set in bytes (the dedup's memory)."""
    scratch.mkdir(parents=True, exist_ok=True)
    duplicates = Duplicates(scratch, len(chunks))
    parts: list[Path] = []
    peak = 0
    for bucket in range(BUCKETS):
        ids, starts = _bucket_ids(chunks, bucket)
        first, repeats = _first_rows(ids)
        found = np.empty(0, dtype=DUPLICATE)
        chunk = np.empty(0, dtype=np.int64)
        if len(repeats):
            lines = np.concatenate(_lines(chunks, bucket))
            rows = repeats.get_column("row").to_numpy()
            # Rows are in (chunk, line) order: each chunk's entries start at its `starts`.
            chunk = np.searchsorted(np.asarray(starts), rows, side="right") - 1
            found = np.empty(len(rows), dtype=DUPLICATE)
            found["line"] = lines[rows]
            found["kept"] = repeats.get_column("pos_kept").to_numpy()
            del lines, rows
        duplicates.add_bucket(bucket, chunk, found)
        distinct = ids.filter(first)
        parts.append(scratch / f"ids.{bucket:02d}.arrow")
        with polars_output(parts[-1]) as target:
            distinct.write_ipc(target)
        peak = max(peak, ids.estimated_size() + distinct.estimated_size())
        del ids, first, distinct, repeats, found, chunk
    return duplicates, parts, peak


def _first_rows(ids: pl.DataFrame) -> tuple[pl.Series, pl.DataFrame]:
    """Which rows hold the first occurrence of their id (rows are in global order), and the
    other rows, ascending, as a table of `row` and `pos_kept` (the position kept). The search
    runs on the digests' high halves (8 bytes a row; a whole-digest search costs polars ~200
    bytes a row); only the rows that share a high half with an earlier row, which are rare,
    are compared whole."""
    first = ids.select(pl.col("hi").is_first_distinct()).to_series()
    if first.all():
        return first, pl.DataFrame(schema={"row": pl.UInt32, "pos_kept": pl.UInt64})
    rows = ids.with_row_index("row")
    shared = rows.filter(~first).get_column("hi").unique()
    group = rows.filter(pl.col("hi").is_in(shared.implode()))
    whole = group.select(pl.struct("hi", "lo").is_first_distinct()).to_series()
    kept = group.filter(whole)
    repeats = group.filter(~whole).join(kept, on=["hi", "lo"], how="inner", suffix="_kept")
    mask = first.to_numpy().copy()
    mask[group.get_column("row").to_numpy()] = whole.to_numpy()
    return pl.Series(mask), repeats.select("row", "pos_kept").sort("row")


def _bucket_ids(chunks: Sequence[tuple[Path, int]], bucket: int) -> tuple[pl.DataFrame, list[int]]:
    """One bucket's entries of every chunk, in chunk order: hi, lo (the digest's halves, big
    endian) and pos (file index and position); and the row each chunk's entries start at."""
    frames, starts, rows = [], [], 0
    for path, file_index in chunks:
        starts.append(rows)
        entries = _read_entries(path, bucket)
        if not len(entries):
            continue
        rows += len(entries)
        # A chunk's positions count its files from 0: shifted to the partition's file index.
        high = np.uint64(file_index << _POSITION_BITS)
        frames.append(
            pl.DataFrame(
                {
                    "hi": entries["hi"].astype(np.uint64),
                    "lo": entries["lo"].astype(np.uint64),
                    "pos": entries["pos"].astype(np.uint64) + high,
                }
            )
        )
    if not frames:
        return pl.DataFrame(schema=_IDS), starts
    return pl.concat(frames, rechunk=False), starts


def _read_entries(path: Path, bucket: int) -> np.ndarray:
    file = bucket_file(path, bucket)
    with store_for(file).open_read(file) as handle:
        return np.frombuffer(handle.read(), dtype=_RECORD)


def _lines(chunks: Sequence[tuple[Path, int]], bucket: int) -> list[np.ndarray]:
    """Each chunk's line indices of its entries in `bucket` (read again: only for repeats)."""
    return [_read_entries(path, bucket)["line"] for path, _ in chunks]


def write_ids(parts: list[Path], out: Any) -> None:
    """The buckets' id files as one Arrow file into `out` (a binary file), streamed: no more
    than a bucket's ids in memory. The parts are removed."""
    whole = parts[0].with_name("ids.arrow")
    with polars_output(whole) as target:
        pl.concat([scan_ipc_file(p) for p in parts]).sink_ipc(target)
    with store_for(whole).open_read(whole) as handle:
        shutil.copyfileobj(handle, out, 1 << 20)
    for path in [*parts, whole]:
        path.unlink()
