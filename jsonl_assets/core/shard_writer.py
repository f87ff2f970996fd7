"""Shard writing: frames, rotation by records and on-disk bytes, sha256, atomic commit, journal.

A shard family (`data/<objective>-<split>[-<content_type>]-NNNNN.jsonl[.gz|.zst]`) is written
by one `ShardWriter` (names from shard_families.shard_file_name: at most 100,000 shards a
family, the five digits of the spec's `NNNNN`; the next one fails the partition, named, before
it is written). Records are packed into frames (see compression.py); a frame goes into
the current shard unless that would pass `max_bytes` (at most a default `verify`'s
`--max-shard-bytes`) or take the shard past the expansion cap of a default `verify`
(`verify_limits.DEFAULT_LIMITS.decompressed_cap`: highly compressible text reaches 1000x), in
which case the shard is committed and a new one starts with the same records re-batched from
scratch. A shard therefore depends only
on the records from its first one onwards, which is what makes resuming exact: after a crash
the journal says which shards are committed and where each family stopped, and the writer
starts the next shard exactly as an uninterrupted run would have.

Each shard is written through the package's store (store/base.py: on a local disk a hidden
`.partial` file, fsynced, renamed, the folder fsynced); only once committed is it appended
(durably) to the journal. A shard written into
the package is first claimed in the partition's ledger (package_files.py), so only files this
project wrote are ever removed as orphans.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from jsonl_assets.core.compression import FrameCompressor
from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.rules.spec_vocabulary import SHARD_EXTENSIONS
from jsonl_assets.core.shard_families import shard_file_name
from jsonl_assets.core.store.atomic_files import os_error_reason
from jsonl_assets.core.store.base import AtomicWrite, read_bytes, store_for, write_bytes
from jsonl_assets.core.store.package_files import LEDGER, claim
from jsonl_assets.core.verify.verify_limits import DEFAULT_LIMITS

if TYPE_CHECKING:
    from jsonl_assets.core.config import OutputConfig

FRAME_TARGET_BYTES: Final = 4 << 20
# Waiting records: (whole lines, index of the first, number of lines).
Piece = tuple[bytes, int, int]


class ShardWriteError(Exception):
    """Writing a shard failed (disk full, permissions...). The partial file has been removed."""


@dataclass(frozen=True, slots=True)
class ShardInfo:
    """One committed shard, as metadata.json lists it (plus on-disk size and family)."""

    path: str
    compression: str
    record_count: int
    sha256: str
    bytes: int
    family: str
    number: int
    covered_until: int

    def manifest_entry(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "compression": self.compression,
            "record_count": self.record_count,
            "sha256": self.sha256,
        }


class ShardJournal:
    """Append-only record of committed shards for one partition build (one JSON line each)."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint

    def load(self, package_dir: Path) -> list[ShardInfo]:
        """Committed shards of an interrupted build with the same inputs, whose files are intact.

        A torn last line, a different fingerprint or a missing/resized file ends the usable
        prefix; the journal is rewritten to that prefix.
        """
        try:
            data = read_bytes(self.path)
        except FileNotFoundError:
            return []
        store = store_for(package_dir)
        kept: list[ShardInfo] = []
        valid = True
        for line in data.split(b"\n"):
            if not line or not valid:
                continue
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                valid = False
                continue
            if entry.pop("fingerprint", None) != self.fingerprint:
                valid = False
                continue
            info = ShardInfo(**entry)
            st = store.stat(package_dir / info.path)
            if st is None or st.is_dir or st.size != info.bytes:
                valid = False
                continue
            kept.append(info)
        self._rewrite(kept)
        return kept

    def _rewrite(self, entries: list[ShardInfo]) -> None:
        write_bytes(self.path, b"".join(self._line(info) for info in entries))

    def _line(self, info: ShardInfo) -> bytes:
        return orjson.dumps({**asdict(info), "fingerprint": self.fingerprint}) + b"\n"

    def append(self, info: ShardInfo) -> None:
        store_for(self.path).append(self.path, self._line(info))

    def discard(self) -> None:
        store_for(self.path).remove(self.path)

    def claim(self, relpath: str) -> None:
        """Record a shard as the project's own before it gets its name in the package."""
        claim(self.path.parent / LEDGER, relpath)


def _after_lines(data: bytes, pos: int, n: int) -> int:
    """The offset just past the `n`-th newline from `pos` (the end of `data` if fewer)."""
    for _ in range(n):
        nl = data.find(b"\n", pos)
        if nl < 0:
            return len(data)
        pos = nl + 1
    return pos


def _too_expanded(decompressed: int, on_disk: int) -> bool:
    """A file of `on_disk` bytes decompressing to `decompressed` is past the expansion cap of
    a default `verify` (C15): the writer starts a new shard before a frame would take it there."""
    return decompressed > DEFAULT_LIMITS.decompressed_cap(on_disk)


def _split_pieces(pieces: list[Piece], n: int) -> tuple[list[Piece], list[Piece]]:
    """The first `n` records of `pieces`, and the rest."""
    first: list[Piece] = []
    for k, (data, index, count) in enumerate(pieces):
        if n >= count:
            first.append((data, index, count))
            n -= count
            continue
        if n:
            cut = _after_lines(data, 0, n)
            first.append((data[:cut], index, n))
            rest = [(data[cut:], index + n, count - n), *pieces[k + 1 :]]
        else:
            rest = pieces[k:]
        return first, rest
    return first, []


class ShardWriter:
    """Writes one shard family, resuming after `committed` shards of an earlier attempt."""

    def __init__(
        self,
        package_dir: Path,
        family: str,
        compression: str,
        level: int | None,
        max_records: int | None,
        max_bytes: int | None,
        journal: ShardJournal | None,
        committed: list[ShardInfo] | None = None,
        compress_threads: int = 1,
    ) -> None:
        # compress_threads > 1: that many frames are compressed at once, ahead of the one
        # being written (see _settle); the bytes are the same as one at a time.
        self.package_dir = package_dir
        self.family = family
        self.compression = compression
        self.max_records = max_records or (1 << 62)
        # A shard is never larger on disk than a default `verify` reads (--max-shard-bytes).
        self.max_bytes = min(max_bytes or (1 << 62), DEFAULT_LIMITS.max_shard_bytes)
        self.frame_target = min(FRAME_TARGET_BYTES, max(1, self.max_bytes // 2))
        self.journal = journal
        self.shards: list[ShardInfo] = list(committed or [])
        self.skip_until = self.shards[-1].covered_until if self.shards else 0
        self._compressor = FrameCompressor(compression, level)
        self._codec = (compression, self._compressor.level)
        self._ext = SHARD_EXTENSIONS[compression]
        self._pending: list[Piece] = []
        self._pending_bytes = 0
        self._pending_count = 0
        # Frames made but not yet written (their compression may still run), oldest first,
        # and the records of the shard they will end up in (written and in flight).
        self._inflight: deque[tuple[Future[bytes], list[Piece], int]] = deque()
        self._fill = 0
        self._pool = ThreadPoolExecutor(compress_threads) if compress_threads > 1 else None
        self._depth = compress_threads if self._pool is not None else 0
        self._local = threading.local()
        self._last_index = -1
        self._store = store_for(package_dir)
        self._handle: AtomicWrite | None = None
        self._hash = hashlib.sha256()
        self._records = 0
        self._bytes = 0
        self._raw = 0
        self._raw = 0  # decompressed bytes of the shard being written

    @classmethod
    def for_output(
        cls,
        out: OutputConfig,
        package_dir: Path,
        family: str,
        journal: ShardJournal | None,
        committed: list[ShardInfo] | None = None,
        compress_threads: int = 1,
    ) -> ShardWriter:
        """A writer with the config's compression and rotation limits."""
        return cls(
            package_dir,
            family,
            out.compression,
            out.level,
            out.max_records_per_shard,
            out.max_bytes_per_shard,
            journal,
            committed,
            compress_threads,
        )

    @property
    def _number(self) -> int:
        return len(self.shards)

    def _relpath(self, number: int) -> str:
        return f"data/{shard_file_name(self.family, number, self._ext)}"

    def add(self, record: bytes, index: int) -> None:
        """Append one serialised record (without its newline) with its input index."""
        self.add_block(record + b"\n", index)

    def add_run(self, records: list[bytes], first_index: int) -> None:
        """Append consecutive records `first_index`, `first_index + 1`, ... (no newlines)."""
        if records:
            self.add_block(b"\n".join(records) + b"\n", first_index)

    def add_block(self, data: bytes, first_index: int) -> None:
        """Append whole newline-terminated records, the first with index `first_index`, the
        next ones following it. Same frames as adding them one by one: a frame ends with the
        record that takes it to `frame_target` bytes (or to the shard's record limit), found
        with `bytes.find`/`count` over the block rather than a Python step per record."""
        pos = 0
        index = first_index
        if index < self.skip_until:  # resuming: these records are in committed shards
            pos = _after_lines(data, 0, self.skip_until - index)
            index = self.skip_until
        size = len(data)
        while pos < size:
            room = self.max_records - self._fill - self._pending_count
            need = self.frame_target - self._pending_bytes
            end = data.find(b"\n", pos + need - 1) + 1 if pos + need - 1 < size else 0
            if end == 0:
                end = size
            count = data.count(b"\n", pos, end)
            if count > room:
                end = _after_lines(data, pos, room)
                count = room
            self._pending.append((data[pos:end], index, count))
            self._pending_bytes += end - pos
            self._pending_count += count
            index += count
            pos = end
            if (
                self._pending_bytes >= self.frame_target
                or self._fill + self._pending_count >= self.max_records
            ):
                self._emit()

    def close(self) -> list[ShardInfo]:
        """Flush what is pending, commit the last shard, and return every shard of the family."""
        while self._pending or self._inflight:
            if self._pending:
                self._emit()
            else:
                self._settle()
        self._commit()
        self._stop_pool()
        return self.shards

    def abort(self) -> None:
        """Give up the shard being written (its partial file is removed)."""
        self._stop_pool()
        if self._handle is not None:
            handle, self._handle = self._handle, None
            with contextlib.suppress(OSError):
                handle.abort()

    def _stop_pool(self) -> None:
        self._inflight.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _emit(self) -> None:
        """Make a frame of the pending records; write the oldest frames beyond `_depth`."""
        pieces, count = self._pending, self._pending_count
        self._pending, self._pending_bytes, self._pending_count = [], 0, 0
        data = b"".join(p[0] for p in pieces)
        if self._pool is not None:
            frame = self._pool.submit(self._compress, data)
        else:
            frame: Future[bytes] = Future()
            frame.set_result(self._compressor.compress(data))
        self._inflight.append((frame, pieces, count))
        self._fill += count
        if self._fill >= self.max_records:  # this frame ends its shard: the next starts empty
            self._fill = 0
        while len(self._inflight) > self._depth:
            self._settle()

    def _compress(self, data: bytes) -> bytes:
        compressor = getattr(self._local, "compressor", None)
        if compressor is None:  # one per thread: a compressor is not shared between threads
            compressor = self._local.compressor = FrameCompressor(*self._codec)
        return compressor.compress(data)

    def _settle(self) -> None:
        """Write the oldest frame made, or, when its compressed size calls for a new shard or
        a smaller frame, drop it and every frame after it and feed their records again (so
        the records are batched exactly as when each frame is written as soon as it is made)."""
        future, pieces, count = self._inflight.popleft()
        frame = future.result()
        raw = sum(len(p[0]) for p in pieces)
        rotate = self._records and (
            self._bytes + len(frame) > self.max_bytes
            or _too_expanded(self._raw + raw, self._bytes + len(frame))
        )
        split = (
            not rotate
            and count > 1
            and (len(frame) > self.max_bytes or _too_expanded(raw, len(frame)))
        )
        if not rotate and not split:
            last = pieces[-1]
            self._write_frame(frame, count, last[1] + last[2] - 1, raw)
            return
        later = [piece for _, ps, _ in self._inflight for piece in ps] + self._pending
        self._inflight.clear()
        self._pending, self._pending_bytes, self._pending_count = [], 0, 0
        if rotate:
            # Does not fit: commit this shard and feed the records again, so the next shard
            # is batched exactly as a fresh start (or a resumed build) would batch it.
            self._commit()
            self._fill = 0
            self._refeed(pieces)
        else:
            # One frame alone is over the limit: write a smaller first frame, refeed the rest.
            self._fill = self._records
            first, rest = _split_pieces(pieces, count // 2)
            self._pending = first
            self._pending_bytes = sum(len(p[0]) for p in first)
            self._pending_count = count // 2
            self._emit()
            self._refeed(rest)
        self._refeed(later)

    def _refeed(self, pieces: list[Piece]) -> None:
        for data, first_index, _ in pieces:
            self.add_block(data, first_index)

    def _write_frame(self, frame: bytes, count: int, last_index: int, raw: int) -> None:
        if self._handle is None:
            self._open()
        assert self._handle is not None
        try:
            self._handle.write(frame)
        except OSError as exc:
            self._fail(exc)
        self._hash.update(frame)
        self._records += count
        self._bytes += len(frame)
        self._raw += raw
        self._last_index = last_index
        reached("shard.frame")
        if self._records >= self.max_records:
            self._commit()

    def _final_path(self) -> Path:
        return self.package_dir / self._relpath(self._number)

    def _open(self) -> None:
        try:
            self._handle = self._store.open_atomic(self._final_path())
        except OSError as exc:
            self._fail(exc)
        self._hash = hashlib.sha256()
        self._records = 0
        self._bytes = 0
        self._raw = 0

    def _fail(self, exc: OSError) -> None:
        final = self._final_path()
        if self._handle is not None:
            handle, self._handle = self._handle, None
            # abort() flushes what is still buffered, which fails again on a full disk; the
            # file is closed all the same, and deleted.
            with contextlib.suppress(OSError):
                handle.abort()
        raise ShardWriteError(f"cannot write shard {final}: {os_error_reason(exc)}") from exc

    def _commit(self) -> None:
        if self._handle is None:
            return
        try:
            if self.journal is not None:  # writing into the package (not staging)
                self.journal.claim(self._relpath(self._number))
            self._handle.commit()
            self._handle = None
        except OSError as exc:
            self._fail(exc)
        reached("shard.renamed")
        info = ShardInfo(
            path=self._relpath(self._number),
            compression=self.compression,
            record_count=self._records,
            sha256=self._hash.hexdigest(),
            bytes=self._bytes,
            family=self.family,
            number=self._number,
            covered_until=self._last_index + 1,
        )
        self.shards.append(info)
        if self.journal is not None:  # none when staging (a killed pass starts again)
            self.journal.append(info)
            reached("shard.journaled")
        self._records = 0
        self._bytes = 0
        self._raw = 0
