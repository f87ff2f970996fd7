"""Stages 1-3 (extracted, transformed, validated) of a partition: one streaming pass, the
only way they run.

The pass is a chain of generator steps over batches: read (the extract step: raw records with
their traces), adapt and validate (each record adapted, serialised once and judged on the dict
it was serialised from, while it is still in the CPU's caches), dedup (the batch's duplicate
ids) and write (the accepted lines compressed into shards staged in the work dir,
staged_shards.py, which the shards stage moves into the package). Nothing is handed off
through a work file.

Nothing is committed until the pass ends; then the stages commit in order (the staged shards
just before the validated marker), the later ones only if `gate(extract_report,
transform_report)` allows it (the Dagster layer passes the parse-failure check). A pass killed
midway leaves only `.partial` files and a staging folder. A stage whose marker matches its
inputs is reused: its committed outputs are kept and its report returned with `reused`; the
pass still reads the sources to feed the stages after it (there is no hand-off file to read).

A trace names its file's sha256: the pass hashes each file before reading it. A record is
judged against the toolsets derived so far; if a record was rejected for naming a toolset
that an adapter derives later in the partition, the pass runs again with every toolset known
from the start (rare; the same steps, so the same bytes as if it had been known).
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterator
from typing import Any, Final

import orjson

from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.gc_pause import gc_paused
from jsonl_assets.core.stage_report import StageReport
from jsonl_assets.core.stages.extract_stage import MARKER as EXTRACT_MARKER
from jsonl_assets.core.stages.extract_stage import Extraction, extract_fingerprint
from jsonl_assets.core.stages.shard_stage import shard_fingerprint, shards_ready
from jsonl_assets.core.stages.staged_shards import StagedShards
from jsonl_assets.core.stages.transform_stage import MARKER as TRANSFORM_MARKER
from jsonl_assets.core.stages.transform_stage import Transformer, transform_fingerprint
from jsonl_assets.core.stages.validate_stage import MARKER as VALIDATE_MARKER
from jsonl_assets.core.stages.validate_stage import Validator, validate_fingerprint
from jsonl_assets.core.store.work_files import PartitionDirs, read_marker

# Raw records per batch of the duplicate-id lookup: big enough that the id set's per-batch
# cost (a few polars calls) is small; the batch's lines wait in memory until then.
BATCH_RECORDS: Final = 16384
BATCH_BYTES: Final = 16 << 20

# gate(extract_report, transform_report): whether the stages after extracted may commit. The
# transformed report is the pass's, not yet committed (or the stage's, run on its own).
Gate = Callable[[StageReport, StageReport], bool]


def _always(_: StageReport, __: StageReport) -> bool:
    return True


@gc_paused()
def run_record_stages(
    cfg: PipelineConfig,
    dirs: PartitionDirs,
    *,
    force: bool = False,
    gate: Gate = _always,
    helper_thread: bool = True,
) -> list[StageReport]:
    """Reports of extracted, transformed and validated, in order; only extracted's when
    `gate` refuses it. Stages whose inputs are unchanged are reused. `helper_thread`: the
    pass compresses its shards on a second thread (worth it with a core to spare)."""
    started = time.perf_counter()
    fps = {"extracted": extract_fingerprint(cfg, dirs)}
    fps["transformed"] = transform_fingerprint(cfg, dirs, fps["extracted"])
    fps["validated"] = validate_fingerprint(cfg, dirs, fps["transformed"])
    fps["shards"] = shard_fingerprint(cfg, dirs, fps["validated"])
    kept: dict[str, StageReport] = {}
    for stage, marker in () if force else _MARKERS.items():
        cached = read_marker(dirs.file(marker), fps[stage])
        if cached is None:
            break
        kept[stage] = StageReport.reused_from(cached, started)
    # Validated vouches for shards the shards stage can still adopt (or has adopted).
    if "validated" in kept and not shards_ready(dirs, fps["shards"]):
        del kept["validated"]
    if len(kept) == len(_MARKERS):
        reports = list(kept.values())
        return reports if gate(reports[0], reports[1]) else reports[:1]
    return _one_pass(cfg, dirs, fps, kept, gate, helper_thread, [])


_MARKERS: Final = {
    "extracted": EXTRACT_MARKER,
    "transformed": TRANSFORM_MARKER,
    "validated": VALIDATE_MARKER,
}
Record = tuple[int, int, Any, bytes]  # file index, position, raw value, raw bytes
Verdicts = tuple[list[bytes], array, array, int]  # lines, file indices, rejects, first index


def _read(
    extraction: Extraction, on_file: Callable[[], None], spent: dict[str, float]
) -> Iterator[Record]:
    """Step read: the partition's raw records, each file hashed before it is read."""
    loads, clock = orjson.loads, time.perf_counter
    records = extraction.records(hash_first=True)
    known = 0
    while True:
        t0 = clock()
        item = next(records, None)
        spent["extracted"] += clock() - t0
        if item is None:
            return
        fi, position, value, raw, exact = item
        if fi >= known:
            on_file()
            known = len(extraction.files)
        yield fi, position, value if exact else loads(raw), raw


def _adapt_and_validate(
    records: Iterator[Record],
    transformer: Transformer,
    validator: Validator,
    spent: dict[str, float],
) -> Iterator[tuple[list[bytes], array]]:
    """Steps adapt and validate, fused per record: batches of spec lines and file indices,
    every record of a batch judged."""
    judge, clock = validator.judge, time.perf_counter

    def timed_judge(record: dict[str, Any], line: bytes, fi: int) -> None:
        t0 = clock()
        judge(record, line, fi)
        spent["validated"] += clock() - t0

    while True:
        taken = _Batch(records)
        transformer.add_batch(taken, timed_judge)
        batch = transformer.lines, transformer.file_index
        transformer.flush()  # starts new lists: the batch is the next steps' now
        yield batch
        if not taken.full:
            return


def _dedup(
    batches: Iterator[tuple[list[bytes], array]], validator: Validator, spent: dict[str, float]
) -> Iterator[Verdicts]:
    """Step dedup: the batch's duplicate ids; its rejects written to quarantine."""
    clock = time.perf_counter
    for lines, fis in batches:
        t0 = clock()
        first = validator.index
        rejects = validator.finish_batch(lines, fis)
        spent["validated"] += clock() - t0
        yield lines, fis, rejects, first


def _write(batches: Iterator[Verdicts], staged: StagedShards) -> None:
    """Step write: the accepted lines into the staged shards."""
    for lines, fis, rejects, first in batches:
        staged.add_batch(lines, fis, rejects, first)


def _one_pass(
    cfg: PipelineConfig,
    dirs: PartitionDirs,
    fps: dict[str, str],
    kept: dict[str, StageReport],
    gate: Gate,
    helper_thread: bool,
    known_toolsets: list[dict[str, Any]],
) -> list[StageReport]:
    started = time.perf_counter()
    extraction = Extraction(cfg, dirs)
    transformer = Transformer(cfg, dirs, [])
    validator = Validator(cfg, dirs, [], known_toolsets, terminated=True)
    staged = StagedShards(cfg, dirs, background=helper_thread)
    # A record may name the toolset its own adapter derived: the rules must know it at once.
    transformer.on_new_toolset = lambda toolset: validator.add_toolsets([toolset])
    clock = time.perf_counter
    spent = {"extracted": 0.0, "validated": 0.0}
    parts = (extraction, transformer, validator, staged)

    def add_files() -> None:
        # Files without a good record have no batch; their entries still belong to every stage.
        _add_files(extraction, transformer, validator, staged)

    try:
        records = _read(extraction, add_files, spent)
        _write(
            _dedup(_adapt_and_validate(records, transformer, validator, spent), validator, spent),
            staged,
        )
        add_files()
    except BaseException:
        for part in parts:
            part.abort()
        raise
    derived = transformer.toolsets
    if validator.unresolved & set(derived) and not known_toolsets:
        for part in parts:
            part.abort()
        toolsets = [derived[k] for k in sorted(derived)]
        return _one_pass(cfg, dirs, fps, kept, gate, helper_thread, toolsets)

    total = clock() - started
    seconds = {
        **spent,
        "transformed": total - spent["extracted"] - spent["validated"] - staged.waited,
    }
    # What is still to commit, and is given up if a step below fails. A stage is taken off
    # before its own commit (a failed commit cleans up after itself); the staged shards after.
    pending: list[Extraction | Transformer | Validator | StagedShards] = list(parts)

    def give_up() -> None:
        for part in pending:
            part.abort()
        pending.clear()

    def commit(stage: str, part: Extraction | Transformer, stage_started: float) -> StageReport:
        pending.remove(part)
        if stage in kept:  # its committed outputs stay; this pass's copy is dropped
            part.abort()
            return kept[stage]
        return part.commit(fps[stage], stage_started)

    try:
        extract_report = commit("extracted", extraction, clock() - seconds["extracted"])
        transformer.bytes_in = extraction.out.bytes_written  # the extracted lines it stands for
        transform_now = kept.get("transformed") or transformer.report(
            clock() - seconds["transformed"]
        )
        if not gate(extract_report, transform_now):
            give_up()
            return [extract_report]
        transform_report = commit("transformed", transformer, clock() - seconds["transformed"])
        # Before the validated marker: a validated stage on disk vouches for its staged shards.
        staged.commit(fps["shards"])
        pending.remove(staged)
        pending.remove(validator)
    except BaseException:
        give_up()
        raise
    toolsets = [derived[k] for k in sorted(derived)]
    validate_report = validator.commit(fps["validated"], clock() - seconds["validated"], toolsets)
    return [extract_report, transform_report, validate_report]


class _Batch:
    """The next raw records of `records`, up to BATCH_RECORDS of them or BATCH_BYTES of raw
    bytes; `full` tells whether the batch stopped at a limit (more may follow)."""

    def __init__(self, records: Iterator[Record]) -> None:
        self._records = records
        self.full = False

    def __iter__(self) -> Iterator[Record]:
        size = 0
        for n, item in enumerate(self._records, 1):
            yield item
            size += len(item[3])
            if n >= BATCH_RECORDS or size >= BATCH_BYTES:
                self.full = True
                return


def _add_files(
    extraction: Extraction, transformer: Transformer, validator: Validator, staged: StagedShards
) -> None:
    for entry in extraction.files[len(transformer.files) :]:
        transformer.add_file(entry)
        validator.add_file(entry)
        staged.add_file(entry)
