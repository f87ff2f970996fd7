"""The merge's duplicate ids, spilled to work files as each bucket's search finds them, read
back chunk by chunk, in line order, as the chunks are replayed.

Each bucket pass (id_buckets.py) writes its duplicates to `dups.<bucket>.bin`: 16 bytes an
entry (the line index in its chunk, the position kept), sorted by (chunk, line); only the
row where each chunk's run starts is kept in memory (a number per chunk and bucket). A
chunk's duplicates are then the merge, by line, of its runs in the bucket files (each line
has one id, so one bucket), read a block at a time: no more than a block per bucket and a
batch's duplicates are in memory, whatever the number of duplicates of the partition.
The files are the merge's work files: written under a temporary name and renamed, and
written again by a rerun after a kill.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO, Final

import numpy as np

from jsonl_assets.core.store.base import store_for
from jsonl_assets.core.store.work_files import WorkFileWriter

DUPLICATE: Final = np.dtype([("line", "<u8"), ("kept", "<u8")])
_BLOCK: Final = 1 << 15  # entries read at once from a bucket file (512 KiB)


def duplicates_file(folder: Path, bucket: int) -> Path:
    return folder / f"dups.{bucket:02d}.bin"


class Duplicates:
    """A partition's duplicates: for chunk `c`, `of_chunk(c)` streams them in line order."""

    def __init__(self, folder: Path, chunks: int) -> None:
        self.folder = folder
        self.chunks = chunks
        self.count = 0
        # Per bucket with duplicates: the row of its file where each chunk's run starts
        # (chunks + 1 rows, the last one the file's end).
        self._starts: dict[int, np.ndarray] = {}
        self._files: list[Path] = []

    def add_bucket(self, bucket: int, chunk: np.ndarray, found: np.ndarray) -> None:
        """A bucket's duplicates `found` (DUPLICATE entries) of chunks `chunk`, sorted by
        (chunk, line)."""
        path = duplicates_file(self.folder, bucket)
        writer = WorkFileWriter(path)
        try:
            writer.write(found.tobytes())
        except BaseException:
            writer.abort()
            raise
        writer.commit()
        self._files.append(path)
        if len(found):
            bounds = np.arange(self.chunks + 1, dtype=np.int64)
            self._starts[bucket] = np.searchsorted(chunk, bounds, side="left")
            self.count += len(found)

    def of_chunk(self, c: int) -> ChunkDuplicates:
        runs = []
        for bucket, starts in self._starts.items():
            first, end = int(starts[c]), int(starts[c + 1])
            if end > first:
                runs.append((duplicates_file(self.folder, bucket), first, end))
        return ChunkDuplicates(runs)

    def remove(self) -> None:
        for path in self._files:
            store_for(path).remove(path)
        self._files.clear()
        self._starts.clear()


class ChunkDuplicates:
    """One chunk's duplicates, in line order, taken a batch at a time (`before`); a context
    manager (it holds a bucket file open per run)."""

    def __init__(self, runs: list[tuple[Path, int, int]]) -> None:
        self._stack = ExitStack()
        self._runs = [_Run(self._stack, *run) for run in runs]

    def __enter__(self) -> ChunkDuplicates:
        return self

    def __exit__(self, *_: object) -> None:
        self._stack.close()

    def before(self, end: int) -> np.ndarray:
        """The next duplicates whose line index is below `end`, ascending by line."""
        parts = [run.before(end) for run in self._runs]
        parts = [part for part in parts if len(part)]
        if not parts:
            return np.empty(0, dtype=DUPLICATE)
        if len(parts) == 1:
            return parts[0]
        found = np.concatenate(parts)
        return found[np.argsort(found["line"], kind="stable")]

    def left(self) -> int:
        """How many duplicates were not taken."""
        return sum(run.left() for run in self._runs)


class _Run:
    """A chunk's run of entries in a bucket file, rows `first` to `end`, read in blocks."""

    def __init__(self, stack: ExitStack, path: Path, first: int, end: int) -> None:
        self._path = path
        self._stack = stack
        self._handle: BinaryIO | None = None
        self._first = first
        self._unread = end - first
        self._block = np.empty(0, dtype=DUPLICATE)

    def before(self, end: int) -> np.ndarray:
        taken = []
        while True:
            if not len(self._block):
                self._block = self._read()
                if not len(self._block):
                    break
            k = int(np.searchsorted(self._block["line"], end, side="left"))
            taken.append(self._block[:k])
            self._block = self._block[k:]
            if len(self._block):
                break
        if not taken:
            return self._block
        return taken[0] if len(taken) == 1 else np.concatenate(taken)

    def left(self) -> int:
        return len(self._block) + self._unread

    def _read(self) -> np.ndarray:
        if not self._unread:
            return np.empty(0, dtype=DUPLICATE)
        if self._handle is None:
            store = store_for(self._path)
            start = self._first * DUPLICATE.itemsize
            self._handle = self._stack.enter_context(store.open_read(self._path, start=start))
        n = min(self._unread, _BLOCK)
        data = _read_exactly(self._handle, n * DUPLICATE.itemsize, self._path)
        self._unread -= n
        return np.frombuffer(data, dtype=DUPLICATE)


def _read_exactly(handle: BinaryIO, size: int, path: Path) -> bytes:
    pieces: list[bytes] = []
    while size > 0:
        data = handle.read(size)
        if not data:
            raise ValueError(f"{path}: ends before the duplicates its merge wrote")
        pieces.append(data)
        size -= len(data)
    return b"".join(pieces)
