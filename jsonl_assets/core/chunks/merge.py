"""The deterministic merge: a partition's finished chunks, in plan order, into its stages.

The chunks are replayed in global (file, position) order: their quarantine entries, counts
and toolsets are added to the stages, and their lines stream, a batch at a time, through the
duplicate ids found bucket by bucket (id_buckets.py: the first occurrence in global order
wins, as in a one-chunk build) into the staged shards. So the package is the same bytes whatever the number of
chunks and whoever ran them. Then the stages commit in order (the staged shards just before
the validated marker), the later ones only if `gate(extract_report, transform_report)`
allows it. A merge killed midway leaves `.partial` files and a staging folder, never a
marker: the rerun merges again from the chunks (which are not redone).
"""

from __future__ import annotations

import bisect
import itertools
import time
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np
import orjson

from jsonl_assets.core.chunks.chunk_worker import (
    LINES,
    MEASURES,
    REJECTS,
    WARNED,
    ChunkDone,
    report_of,
)
from jsonl_assets.core.chunks.duplicates import ChunkDuplicates
from jsonl_assets.core.chunks.id_buckets import find_duplicates
from jsonl_assets.core.chunks.plan import CHUNKS_DIR
from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.line_batch import line_batches
from jsonl_assets.core.report.measure_columns import read_blocks
from jsonl_assets.core.report.statistics import CellStats
from jsonl_assets.core.stage_report import StageReport
from jsonl_assets.core.stages.extract_stage import Extraction
from jsonl_assets.core.stages.staged_shards import StagedShards
from jsonl_assets.core.stages.transform_stage import Transformer
from jsonl_assets.core.stages.validate_stage import Entry, Validator, Warned
from jsonl_assets.core.store.base import store_for
from jsonl_assets.core.store.work_files import PartitionDirs

_READ: Final = 4 << 20  # bytes of lines a batch

# gate(extract_report, transform_report): whether the stages after extracted may commit.
Gate = Callable[[StageReport, StageReport], bool]
Part = Extraction | Transformer | Validator | StagedShards


def merge_chunks(
    cfg: PipelineConfig,
    dirs: PartitionDirs,
    chunks: list[ChunkDone],
    fps: dict[str, str],
    kept: dict[str, StageReport],
    gate: Gate,
    helper_thread: bool,
) -> list[StageReport]:
    """Merge the finished chunks, in plan order, and commit the stages (those in `kept` keep
    their committed outputs). Each chunk's report is read from its marker when its turn
    comes: the partition's memory does not grow with what the reports hold."""
    started = time.perf_counter()
    extraction = Extraction(cfg, dirs)
    transformer = Transformer(cfg, dirs, [])
    validator = Validator(cfg, dirs, [], [], terminated=True)
    staged = StagedShards(cfg, dirs, background=helper_thread)
    parts: tuple[Part, ...] = (extraction, transformer, validator, staged)
    try:
        for done in chunks:
            if done.file_index + done.files <= len(extraction.files):
                continue  # its files are known (it began within an earlier chunk's file)
            for k, entry in enumerate(report_of(done)["files"]):
                if done.file_index + k == len(extraction.files):
                    extraction.files.append(entry)
                    transformer.add_file(entry)
                    validator.add_file(entry)
                    staged.add_file(entry)
        duplicates, validator.ids, validator.id_set_bytes = find_duplicates(
            [(d.path, d.file_index) for d in chunks], ids_dir(dirs)
        )
        cell = CellStats(dirs.objective, dirs.split)
        measured = all(d.measured for d in chunks)
        for c, done in enumerate(chunks):
            with duplicates.of_chunk(c) as found:
                _replay(
                    done.path, report_of(done), found, extraction, transformer, validator, staged
                )
            if measured:
                with duplicates.of_chunk(c) as found:
                    _measured(done.path, found, cell)
        duplicates.remove()
        # No statistics unless every chunk measured its records, in this version's blocks
        # (the report then measures the shards).
        staged.statistics = cell.to_json() if measured else {}
    except BaseException:
        for part in parts:
            part.abort()
        raise
    seconds = time.perf_counter() - started
    return commit_stages(
        fps, kept, gate, (extraction, transformer, validator, staged), seconds, chunks
    )


def ids_dir(dirs: PartitionDirs) -> Path:
    """Where the merge keeps the buckets' id files until the validated stage commits."""
    return dirs.work / CHUNKS_DIR / "ids"


def _replay(
    path: Path,
    report: dict[str, Any],
    duplicates: ChunkDuplicates,
    extraction: Extraction,
    transformer: Transformer,
    validator: Validator,
    staged: StagedShards,
) -> None:
    fi = report["file_index"]
    extraction.quarantine.add_lines_of(path / "extracted.jsonl")
    for source, counts in report["extract"]["counters"].items():
        extraction.counters[source].update(counts)
    extraction.unread_files.extend(report["extract"]["unread_files"])
    extraction.bytes_in += report["bytes_in"]
    extraction.out.bytes_written += report["extract"]["bytes_out"]
    transformer.quarantine.add_lines_of(path / "transformed.jsonl")
    for source, counts in report["transform"]["counters"].items():
        transformer.counters[source].update(counts)
    for toolset in report["transform"]["toolsets"]:
        transformer.toolsets.setdefault(toolset["id"], toolset)
    transformer.out.bytes_written += report["transform"]["bytes_out"]
    validator.add_tallies(report["validate"], fi)
    base = validator.index
    file_of = _file_indices(fi, report["validate"]["in_per_file"])
    entries = _entries(path / REJECTS, base)
    next_entry = next(entries, None)
    warned = _warned(path / WARNED)
    next_warned = next(warned, None)
    for lines in line_batches(path / LINES, _READ):
        first = validator.index
        end = first - base + len(lines)  # chunk-local index after the batch
        batch_entries: list[Entry] = []
        while next_entry is not None and next_entry[0] < first + len(lines):
            batch_entries.append(next_entry)
            next_entry = next(entries, None)
        batch_warned: list[Warned] = []
        while next_warned is not None and next_warned[0] < end:
            batch_warned.append((next_warned[0] - (first - base), next_warned[1]))
            next_warned = next(warned, None)
        found = duplicates.before(end)  # this batch's: no more are held
        lines_in_batch = (found["line"] - np.uint64(first - base)).tolist()
        batch_dups = list(zip(lines_in_batch, found["kept"].tolist(), strict=True))
        validator.put_verdicts(batch_entries, len(lines), batch_dups, batch_warned)
        fis = file_of(first - base, len(lines))
        rejects = validator.finish_batch(lines, fis)
        staged.add_batch(lines, fis, rejects, first)
    if next_entry is not None or next_warned is not None or duplicates.left():
        raise ValueError(f"{path}: verdicts past the chunk's {report['lines']} lines")


def _file_indices(first_file: int, lines_per_file: list[int]) -> Callable[[int, int], array]:
    """`of(start, n)`: the file index of each of the chunk's lines `start` to `start + n`
    (its files hold `lines_per_file` lines each, in order, from file `first_file` on)."""
    if len(lines_per_file) == 1:
        return lambda _, n: array("I", [first_file]) * n
    ends = list(itertools.accumulate(lines_per_file))

    def of(start: int, n: int) -> array:
        out = array("I")
        k = bisect.bisect_right(ends, start)
        while n > 0:
            take = min(n, ends[k] - start)
            out.extend(array("I", [first_file + k]) * take)
            start, n, k = start + take, n - take, k + 1
        return out

    return of


def _measured(path: Path, duplicates: ChunkDuplicates, cell: CellStats) -> None:
    """Add the report's measures of the chunk's accepted records, but its duplicates, to
    `cell`: the statistics of exactly the records its shards hold. The blocks come in line
    order, so each takes the duplicates up to its last line (no more are held)."""
    for cols in read_blocks(path / MEASURES):
        line = cols.column("line")
        keep = None
        if len(line):
            dropped = duplicates.before(int(line.max()) + 1)["line"].astype(np.int64)
            keep = ~np.isin(line, dropped) if len(dropped) else None
        cell.add_columns(cols, keep)


def _entries(path: Path, base: int) -> Iterator[Entry]:
    """The chunk's rule rejects, their indices counted from the partition's first line."""
    with store_for(path).open_read(path) as handle:
        for line in handle:
            index, reason, detail, trace, raw, extra = orjson.loads(line)
            yield base + index, reason, detail, trace, raw.encode(), extra


def _warned(path: Path) -> Iterator[Warned]:
    """The chunk's accepted records with warnings: (line index in the chunk, reasons)."""
    with store_for(path).open_read(path) as handle:
        for line in handle:
            index, reasons = orjson.loads(line)
            yield index, reasons


def commit_stages(
    fps: dict[str, str],
    kept: dict[str, StageReport],
    gate: Gate,
    parts: tuple[Extraction, Transformer, Validator, StagedShards],
    seconds: float,
    chunks: list[ChunkDone],
) -> list[StageReport]:
    """Commit extracted, transformed, (the staged shards,) validated in order; a stage in
    `kept` keeps its committed outputs and report. When `gate` refuses, the transformed
    quarantine alone is committed: the inputs the parse check counted are all on disk."""
    extraction, transformer, validator, staged = parts
    clock = time.perf_counter
    chunk_seconds = sum(d.seconds for d in chunks)
    # The chunks' time, split as the one pass's was: reading first, then the rest.
    spent = {
        "extracted": chunk_seconds / 3,
        "transformed": chunk_seconds / 3,
        "validated": chunk_seconds / 3 + seconds,
    }
    pending: list[Part] = list(parts)

    def give_up() -> None:
        for part in pending:
            part.abort()
        pending.clear()

    def commit(stage: str, part: Extraction | Transformer) -> StageReport:
        pending.remove(part)
        if stage in kept:  # its committed outputs stay; this merge's copy is dropped
            part.abort()
            return kept[stage]
        return part.commit(fps[stage], clock() - spent[stage])

    try:
        extract_report = commit("extracted", extraction)
        transformer.bytes_in = extraction.out.bytes_written  # the extracted lines it stands for
        transform_now = kept.get("transformed") or transformer.report(
            clock() - spent["transformed"]
        )
        if not gate(extract_report, transform_now):
            if "transformed" not in kept:  # a kept stage's quarantine is on disk already
                pending.remove(transformer)
                transformer.commit_refused()
            give_up()
            return [extract_report]
        transform_report = commit("transformed", transformer)
        # Before the validated marker: a validated stage on disk vouches for its staged shards.
        staged.commit(fps["shards"])
        pending.remove(staged)
        pending.remove(validator)
    except BaseException:
        give_up()
        raise
    derived = transformer.toolsets
    toolsets = [derived[k] for k in sorted(derived)]
    accepted = sum(c.bytes for c in staged.content.values())  # the lines validated accepted
    validate_report = validator.commit(
        fps["validated"], clock() - spent["validated"], toolsets, accepted
    )
    return [extract_report, transform_report, validate_report]
