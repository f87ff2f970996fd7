"""The chunk worker: one chunk of a partition read, adapted and validated on its own.

It writes into its own folder of the work dir (`chunks/<index>-<fingerprint>/`): the spec
lines it made (`lines.jsonl`, the exact bytes a shard will hold), the rule rejects
(`rejects.jsonl`, with their line indices), the accepted records' id digests, positions and
line indices (`ids.<bucket>.bin`, id_buckets.py), the accepted records' warnings
(`warned.jsonl`: line index and reasons; the merge counts those it writes), its extract and transform
quarantine, and last its marker (`chunk.json`, with its counts). It writes them into a
temporary folder of its own (`chunks/.<index>-<fingerprint>.<pid>-<tag>.partial/`), renamed
to the chunk's name once the marker is in it, so no reader ever sees half a chunk; and it
runs under the chunk's lock (chunk_lock.py), so two builds of one partition at once never
write one chunk together: the second waits, then takes the first's chunk. A chunk with a
marker is never redone; a killed one leaves no marker, and is redone whole. Duplicate ids
are left to the merge (merge.py), which sees every chunk in order.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.chunks.chunk_lock import chunk_index_of, chunk_lock
from jsonl_assets.core.chunks.id_buckets import BucketFiles
from jsonl_assets.core.chunks.plan import CHUNKS_DIR, Chunk, ChunkPlan
from jsonl_assets.core.config import PipelineConfig, SourceInput
from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.gc_pause import gc_paused
from jsonl_assets.core.readers import (
    ReadItem,
    ReadLimits,
    SourceChangedError,
)
from jsonl_assets.core.readers.jsonl import iter_jsonl
from jsonl_assets.core.report.measure_columns import (
    MEASURES_VERSION,
    MeasureColumns,
    report_enabled,
)
from jsonl_assets.core.stages.extract_stage import (
    Extraction,
    HashedBytes,
    file_entry,
    read_input,
)
from jsonl_assets.core.stages.transform_stage import Transformer
from jsonl_assets.core.stages.validate_stage import Validator
from jsonl_assets.core.store.atomic_files import fsync_dir, is_partial_name, partial_path
from jsonl_assets.core.store.base import FileStat, VersionChanged, ensure_still, store_for
from jsonl_assets.core.store.work_files import (
    PartitionDirs,
    WorkFileWriter,
    fingerprint,
    read_marker,
    write_marker,
)

CHUNK_VERSION: Final = "6"  # 3: the report's measures; id buckets by two digest bytes;
# 4: several whole files a chunk; 5: its unread files; 6: warned.jsonl (no warning tallies)
MARKER: Final = "chunk.json"
LINES: Final = "lines.jsonl"
REJECTS: Final = "rejects.jsonl"
WARNED: Final = "warned.jsonl"  # [line index, reasons] of each accepted record with warnings
MEASURES: Final = "measures.bin"  # measure_columns.py blocks, one a batch
# Raw records per batch: big enough that per-batch costs are small.
BATCH_RECORDS: Final = 16384
BATCH_BYTES: Final = 16 << 20
_READ: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class ChunkTask:
    """What a worker needs to run one chunk (all plain data: it crosses process and machine
    boundaries; the records never do)."""

    key: str
    index: int
    toolsets: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class ChunkDone:
    """What a partition keeps of a finished chunk until its merge, whatever the chunk's
    files, rules and toolsets: the merge reads the rest from its marker (`report_of`)."""

    index: int
    path: Path
    chunk_fp: str
    file_index: int
    files: int
    lines: int
    accepted: int
    bytes_in: int
    seconds: float
    measured: bool  # its accepted records measured in this version's blocks
    ran: bool  # run now (not found finished)
    unresolved: tuple[str, ...]  # toolset names its records named and no toolset it knew had


def done_of(dirs: PartitionDirs, chunk_fp: str, report: dict[str, Any]) -> ChunkDone:
    """The `ChunkDone` of a chunk's report (as `run_chunk` returns it)."""
    return ChunkDone(
        index=report["index"],
        path=chunk_path(dirs, chunk_fp, report["index"]),
        chunk_fp=chunk_fp,
        file_index=report["file_index"],
        files=len(report["files"]),
        lines=report["lines"],
        accepted=report["accepted"],
        bytes_in=report["bytes_in"],
        seconds=report["seconds"],
        measured=report.get("measured") == MEASURES_VERSION,
        ran=report["ran"],
        unresolved=tuple(report["validate"]["unresolved"]),
    )


def report_of(done: ChunkDone) -> dict[str, Any]:
    """The whole marker report of a finished chunk, read again from its folder."""
    report = read_marker(done.path / MARKER, done.chunk_fp)
    if report is None:
        raise FileNotFoundError(
            f"{done.path}: the finished chunk's marker is gone; rerun the build"
        )
    return report


def chunk_fingerprint(validated_fp: str, plan: ChunkPlan, task: ChunkTask) -> str:
    return fingerprint(
        "chunk", CHUNK_VERSION, validated_fp, plan.fingerprint, task.index, list(task.toolsets)
    )


def chunk_path(dirs: PartitionDirs, chunk_fp: str, index: int) -> Path:
    return dirs.work / CHUNKS_DIR / f"{index:05d}-{chunk_fp[:16]}"


def finished_chunk(dirs: PartitionDirs, chunk_fp: str, index: int) -> dict[str, Any] | None:
    """A finished chunk's marker report, or None."""
    return read_marker(chunk_path(dirs, chunk_fp, index) / MARKER, chunk_fp)


@gc_paused()
def run_chunk(
    cfg: PipelineConfig, dirs: PartitionDirs, plan: ChunkPlan, chunk_fp: str, task: ChunkTask
) -> dict[str, Any]:
    """Run one chunk unless it is finished; its marker report (`ran`: whether it ran now).
    Under the chunk's lock (chunk_lock.py): a second runner of the chunk waits for the first,
    then takes its finished chunk (or redoes it, if the first died or failed)."""
    if (done := finished_chunk(dirs, chunk_fp, task.index)) is not None:
        return {**done, "ran": False}
    with chunk_lock(dirs, task.index):
        if (done := finished_chunk(dirs, chunk_fp, task.index)) is not None:
            return {**done, "ran": False}
        path = chunk_path(dirs, chunk_fp, task.index)
        _clear_index(path, task.index)
        tmp = partial_path(path, f"{os.getpid()}-{secrets.token_hex(4)}")
        try:
            report = _run_into(cfg, dirs, plan, chunk_fp, task, tmp)
            os.replace(tmp, path)  # the whole chunk appears at once, its marker in it
            fsync_dir(path.parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return {**report, "ran": True}


def _clear_index(path: Path, index: int) -> None:
    """Under chunk `index`'s lock: its unfinished folder `path` and the temporary folders
    of its dead runners (no live one can be writing). A finished folder of another
    fingerprint stays: a merge may be reading it (the merge clears it, chunk_lock.py)."""
    folder = path.parent
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    for name in names:
        if name == path.name or (is_partial_name(name) and chunk_index_of(name) == index):
            store_for(folder).remove(folder / name, recursive=True)


def _run_into(
    cfg: PipelineConfig,
    dirs: PartitionDirs,
    plan: ChunkPlan,
    chunk_fp: str,
    task: ChunkTask,
    path: Path,
) -> dict[str, Any]:
    """Run the chunk into the private folder `path`, its marker written last; its report."""
    started = time.perf_counter()
    chunk = plan.chunks[task.index]
    cdirs = replace(dirs, work=path, quarantine=path)
    extraction = Extraction(cfg, cdirs)
    transformer = Transformer(cfg, cdirs, [])
    validator = Validator(cfg, cdirs, [], list(task.toolsets), terminated=True)
    transformer.on_new_toolset = lambda toolset: validator.add_toolsets([toolset])
    out = _ChunkFiles(path)
    # The report's measures of the accepted records (none when the report is off).
    measures = MeasureColumns(dirs.objective) if report_enabled() else None
    if measures is not None:
        validator.on_accept = measures.add
    parts = (extraction, transformer, validator, out)
    entries: list[dict[str, Any]] = []
    try:
        records = _records(cfg, plan, chunk, extraction, (transformer, validator), entries)
        while True:
            taken = _Batch(records)
            transformer.add_batch(taken, validator.judge)
            lines = transformer.lines
            transformer.flush()
            out.add(lines, validator.take_verdicts(), validator.index - len(lines))
            if measures is not None:
                out.measures.write(measures.take_block())
            if not taken.full:
                break
        validator.quarantine.abort()  # the merge writes the validated quarantine
        out.commit()
        extraction.quarantine.commit()
        transformer.quarantine.commit()
    except BaseException:
        for part in parts:
            part.abort()
        raise
    report = {
        "index": task.index,
        "file_index": chunk.file_index,
        "files": entries,
        "bytes_in": chunk.size,
        "lines": validator.index,
        "accepted": out.accepted,
        "measured": MEASURES_VERSION if measures is not None else False,
        "extract": {
            "counters": extraction.counters.as_dict(),
            "bytes_out": extraction.out.bytes_written,
            "unread_files": extraction.unread_files,
        },
        "transform": {
            "counters": transformer.counters.as_dict(),
            "toolsets": list(transformer.toolsets.values()),
            "bytes_out": transformer.out.bytes_written,
        },
        "validate": validator.tallies(),
        "seconds": time.perf_counter() - started,
    }
    write_marker(path / MARKER, chunk_fp, report)
    return report


def _records(
    cfg: PipelineConfig,
    plan: ChunkPlan,
    chunk: Chunk,
    extraction: Extraction,
    stages: tuple[Transformer, Validator],
    entries: list[dict[str, Any]],
) -> Iterator[tuple[int, int, Any, bytes]]:
    """The chunk's raw records `(file k of the chunk, position, value, raw bytes)`, file by
    file; each file is hashed, then announced to the stages (`entries` too), then read."""
    loads = orjson.loads
    limits = ReadLimits(max_record_bytes=cfg.max_record_bytes)
    for k in range(chunk.files):
        fi = chunk.file_index + k
        # The file where the current config finds it, if it is the version planned.
        source, item, st = plan.opened(cfg, fi)
        hashed: HashedBytes
        if chunk.start is None:
            opened, items = read_input(source, item, limits, extraction.dirs, st)
            opened.hash_remaining()  # known from the plan (file_hashes), but for an object
            hashed = opened
        else:
            hashed = _RangeOf(item, chunk, st)
            items = hashed.items(limits.max_record_bytes)
        entry = file_entry(source.name, item, hashed)
        entries.append(entry)
        for stage in stages:
            stage.add_file(entry)
        for _, position, value, raw, exact in extraction.file_records(
            fi, source, item, hashed, items
        ):
            yield k, position, value if exact else loads(raw), raw


class _RangeOf:
    """A byte range of a plain JSONL file, read with its file-wide line numbers; `sha256`
    and `size` are the whole file's, as planned (`st`: the file's stat, of that version)."""

    compression = "none"

    def __init__(self, item: SourceInput, chunk: Chunk, st: FileStat) -> None:
        assert chunk.sha256 is not None and chunk.start is not None and chunk.end is not None
        self.item, self.chunk = item, chunk
        self.sha256: str = chunk.sha256
        self._stat = st
        self.size: int = st.size
        self.etag: str = st.etag

    def items(self, limit: int) -> Iterator[ReadItem]:
        return iter_jsonl(self._pieces(), limit, self.chunk.first_line)

    def _pieces(self) -> Iterator[bytes]:
        path, chunk, rel = self.item.path, self.chunk, self.item.rel
        assert chunk.start is not None and chunk.end is not None
        try:
            with store_for(path).open_read(path, version=self._stat) as handle:
                handle.seek(chunk.start)
                left = chunk.end - chunk.start
                while left > 0:
                    data = handle.read(min(_READ, left))
                    if not data:
                        raise VersionChanged(f"it ends {left} bytes before the range does")
                    left -= len(data)
                    yield data
            ensure_still(path, self._stat)
        except VersionChanged as exc:
            raise SourceChangedError(f"{rel} changed while it was read ({exc})") from None


class _ChunkFiles:
    """A chunk's outputs, written as its batches come, committed before its marker."""

    def __init__(self, path: Path) -> None:
        self.lines = WorkFileWriter(path / LINES, background=True)  # the write releases the GIL
        self.rejects = WorkFileWriter(path / REJECTS)
        self.warned = WorkFileWriter(path / WARNED)
        self.measures = WorkFileWriter(path / MEASURES)
        self.ids = BucketFiles(path)
        self.accepted = 0

    def add(self, lines: list[bytes], verdicts: Any, first: int) -> None:
        entries, digests, positions, accepted, warned = verdicts
        self.lines.write_many(lines)
        dumps = orjson.dumps
        for index, reason, detail, trace, raw, extra in entries:
            row = [index, reason, detail, trace, raw.decode(), extra]
            self.rejects.write(dumps(row, option=orjson.OPT_APPEND_NEWLINE))
        for k, reasons in warned:
            self.warned.write(dumps([first + k, reasons], option=orjson.OPT_APPEND_NEWLINE))
        self.ids.add(digests, [first + k for k in accepted], positions)
        self.accepted += len(accepted)
        reached("chunk.batch")

    def _writers(self) -> tuple[WorkFileWriter, ...]:
        return (self.lines, self.rejects, self.warned, self.measures)

    def commit(self) -> None:
        self.ids.commit()
        for writer in self._writers():
            writer.commit()

    def abort(self) -> None:
        for writer in self._writers():
            writer.abort()
        self.ids.abort()


class _Batch:
    """The next raw records, up to BATCH_RECORDS of them or BATCH_BYTES of raw bytes; `full`
    tells whether the batch stopped at a limit (more may follow)."""

    def __init__(self, records: Iterator[tuple[int, int, Any, bytes]]) -> None:
        self._records = records
        self.full = False

    def __iter__(self) -> Iterator[tuple[int, int, Any, bytes]]:
        size = 0
        for n, item in enumerate(self._records, 1):
            yield item
            size += len(item[3])
            if n >= BATCH_RECORDS or size >= BATCH_BYTES:
                self.full = True
                return
