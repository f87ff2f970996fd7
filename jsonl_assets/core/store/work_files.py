"""A partition's work dir, `<work_dir>/<objective>/<split>/`: its stage markers and the
buffered writer the chunk workers use.

* `<stage>.json` - a stage's marker: its input fingerprint and its typed report. A stage whose
  marker matches the current fingerprint is reused instead of run again.
* `quarantine/<stage>.jsonl` - the stage's rejections (published by the shards stage);
* `chunks/` - the chunk plan and, until the merge, each chunk's lines, rejects and id buckets
  (core/chunks); `staged/` - the shards the merge wrote, adopted by the shards step;
  `validated.ids.arrow` - the accepted ids' 128-bit digests (for the leakage check).

Files are written under temporary names and renamed, markers last, so a killed stage is
simply redone.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.picklable_errors import Picklable
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.store.atomic_files import write_partial
from jsonl_assets.core.store.base import AtomicWrite, read_bytes, store_for, write_bytes

CHUNK: Final = 4 << 20
QUARANTINE_DIR: Final = "quarantine"  # a partition's quarantine, as its record stages wrote it
STAGE_FORMAT_VERSION: Final = 1
# The twelve partitions, `objective|split`: the only keys that name a dir.
PARTITION_KEYS: Final = tuple(f"{o}|{s}" for o in OBJECTIVES for s in SPLITS)


class UnknownPartitionError(Picklable, ValueError):
    """A partition key that is not one of the twelve (a typo, `../x|train`): refused before it
    names a dir, so no entry point writes beside the work dir or under an unknown folder."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"unknown partition {key!r}: a partition is objective|split, one of "
            + ", ".join(PARTITION_KEYS)
        )


def split_partition_key(key: str) -> tuple[str, str]:
    """(objective, split) of one of the twelve keys; UnknownPartitionError for any other."""
    if key not in PARTITION_KEYS:
        raise UnknownPartitionError(key)
    objective, _, split = key.partition("|")
    return objective, split


@dataclass(frozen=True, slots=True)
class PartitionDirs:
    """Where one partition's work, quarantine and shards live: the record stages write its
    quarantine in the work dir (`quarantine`); the shards stage publishes it under
    `quarantine_root` (the configured quarantine_dir, see quarantine_snapshot.py)."""

    objective: str
    split: str
    work: Path
    quarantine: Path
    package: Path
    quarantine_root: Path

    @property
    def key(self) -> str:
        return f"{self.objective}|{self.split}"

    @property
    def family_prefix(self) -> str:
        return f"{self.objective}-{self.split}"

    def file(self, name: str) -> Path:
        return self.work / name

    @property
    def scratch(self) -> Path:
        return self.work / "scratch"


def partition_dirs(
    work_dir: Path, quarantine_dir: Path, package_dir: Path, objective: str, split: str
) -> PartitionDirs:
    """The dirs of partition `objective|split`, `<work_dir>/<objective>/<split>/`;
    UnknownPartitionError for an objective or split that is not one of the spec's."""
    if objective not in OBJECTIVES or split not in SPLITS:
        raise UnknownPartitionError(f"{objective}|{split}")
    return PartitionDirs(
        objective=objective,
        split=split,
        work=work_dir / objective / split,
        quarantine=work_dir / objective / split / QUARANTINE_DIR,
        package=package_dir,
        quarantine_root=quarantine_dir,
    )


def fingerprint(*parts: Any) -> str:
    """sha256 over the canonical JSON of `parts` (the inputs that determine a stage's output)."""
    payload = orjson.dumps([STAGE_FORMAT_VERSION, *parts], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(payload).hexdigest()


def read_marker(path: Path, expected_fingerprint: str) -> dict[str, Any] | None:
    """The report of a finished stage with these inputs, or None if it must run."""
    try:
        marker = orjson.loads(read_bytes(path))
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    if type(marker) is not dict or marker.get("fingerprint") != expected_fingerprint:
        return None  # a damaged marker (`null`, a list) is none: the stage runs again
    report = marker.get("report")
    return report if type(report) is dict else None


def write_marker(path: Path, stage_fingerprint: str, report: dict[str, Any], **extra: str) -> None:
    """`extra`: more top-level keys of the marker (the extracted stage's `settings`). Its
    temporary is its writer's own: two builds may record one plan at once (the plan step
    takes no lock), and would otherwise truncate and rename each other's."""
    write_bytes(
        path,
        orjson.dumps(
            {"fingerprint": stage_fingerprint, "report": report, **extra},
            option=orjson.OPT_INDENT_2,
        ),
        shared=True,
    )
    reached("marker:" + path.stem)


def iter_line_batches(path: Path, chunk: int = CHUNK) -> Iterator[list[bytes]]:
    """Lines of a work file (without their newline), a chunk's worth at a time."""
    with store_for(path).open_read(path) as handle:
        rest = b""
        while data := handle.read(chunk):
            lines = (rest + data).split(b"\n") if rest else data.split(b"\n")
            rest = lines.pop()
            if lines:
                yield lines
        if rest:
            yield [rest]


class WorkFileWriter:
    """Buffered writer to a temporary name; `commit()` fsyncs and renames it into place.

    With `background`, each full buffer is written by a helper thread while the caller goes
    on (the write releases the GIL), one buffer at a time, so at most two are held. A failed
    write (a full disk) is raised by the next `flush()` or by `commit()`."""

    def __init__(self, path: Path, buffer_bytes: int = CHUNK, background: bool = False) -> None:
        self.path = path
        self._handle: AtomicWrite = store_for(path).open_atomic(path)
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._limit = buffer_bytes
        self.bytes_written = 0
        self._writer = ThreadPoolExecutor(1, "work-file-writer") if background else None
        self._in_flight: Future[None] | None = None

    def write(self, data: bytes) -> None:
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered >= self._limit:
            self.flush()

    def write_many(self, items: list[bytes]) -> None:
        self._buffer.extend(items)
        self._buffered += sum(map(len, items))
        if self._buffered >= self._limit:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            data = b"".join(self._buffer)
            self._buffer = []
            self._buffered = 0
            if self._writer is None:
                write_partial(self._handle, data, self.path)
            else:
                self._wait()
                self._in_flight = self._writer.submit(write_partial, self._handle, data, self.path)
            self.bytes_written += len(data)

    def _wait(self) -> None:
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()

    def commit(self) -> None:
        self.flush()
        self._wait()
        self._stop()
        self._handle.commit()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._wait()
        self._stop()
        self._handle.abort()

    def _stop(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)


class CountingSink:
    """Stands in for a work file's writer when the one-pass build leaves the file out: counts
    the bytes the file would hold, and at commit removes the file of an earlier build (it
    would not match the new marker)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        self.bytes_written += len(data)

    def write_many(self, items: list[bytes]) -> None:
        self.bytes_written += sum(map(len, items))

    def commit(self) -> None:
        store_for(self.path).remove(self.path)

    def abort(self) -> None:
        pass
