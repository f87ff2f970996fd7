"""Stages 1-3 (extracted, transformed, validated) of a partition in one streaming pass.

Run one after the other, the three stages parse every record three times: the raw line while
extracting, the extracted line while transforming, the spec record while validating. In one
pass each raw record is parsed once, adapted, serialised once, and judged on the dict it was
serialised from (for JSON values, the same dict `orjson.loads` gives back from those bytes).

The pass also writes the shards: once a batch's duplicate ids are known, its accepted lines
go to shards staged in the work dir (staged_shards.py), which the shards stage moves into the
package if the validated checks let it run. So the transformed records are never written to
a work file and read back.

The pass writes exactly what the stages write one by one - work files, quarantine files,
markers and shards, byte for byte - except the hand-off files that only a stage running on
its own reads: `extracted.jsonl` (a copy of the raw records), `transformed.jsonl` and
`transformed.files`. Such a stage writes them first (`ensure_output` of extract_stage and
transform_stage: the stage runs again, the same bytes). A test holds both ways to the same
bytes.

Nothing is committed until the pass ends; then the stages commit in order (the staged shards
just before the validated marker), and the later ones only if `gate(extract_report,
transform_report)` allows it (the Dagster layer passes the parse-failure check, which blocks
downstream stages; its denominators need the transformed stage's routing of the records). A pass
killed midway leaves only `.partial` files and a staging folder: the rerun starts the pass
again. Once extracted is committed, a rerun reuses it and runs the other stages on their own.

Two things the stages learn only later are settled as follows:

* a trace names its file's sha256, which the extract stage knows only at the file's end; the
  pass hashes each file before reading it (`SourceFile.hash_remaining`);
* the validated stage judges a record against every toolset the transformed stage derived in
  the whole partition, the pass only against those derived so far. A record rejected for
  naming a toolset unknown at the time is remembered; if that toolset turns up later, the
  pass's verdicts are dropped and the validated stage runs on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Final

import orjson

from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.gc_pause import gc_paused
from jsonl_assets.core.stage_report import StageReport
from jsonl_assets.core.stages.extract_stage import MARKER as EXTRACT_MARKER
from jsonl_assets.core.stages.extract_stage import Extraction, extract_fingerprint, run_extract
from jsonl_assets.core.stages.shard_stage import shard_fingerprint
from jsonl_assets.core.stages.staged_shards import StagedShards
from jsonl_assets.core.stages.transform_stage import (
    Transformer,
    run_transform,
    transform_fingerprint,
)
from jsonl_assets.core.stages.validate_stage import Validator, run_validate, validate_fingerprint
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
    extract_fp = extract_fingerprint(cfg, dirs)
    if not force and read_marker(dirs.file(EXTRACT_MARKER), extract_fp) is not None:
        extract_report = run_extract(cfg, dirs)
        transform_report = run_transform(cfg, dirs)
        if not gate(extract_report, transform_report):
            return [extract_report]
        return [extract_report, transform_report, run_validate(cfg, dirs)]
    return _one_pass(cfg, dirs, extract_fp, gate, helper_thread)


def _one_pass(
    cfg: PipelineConfig, dirs: PartitionDirs, extract_fp: str, gate: Gate, helper_thread: bool
) -> list[StageReport]:
    started = time.perf_counter()
    extraction = Extraction(cfg, dirs, write_output=False)
    transformer = Transformer(cfg, dirs, [], write_output=False)
    validator = Validator(cfg, dirs, [], [], terminated=True)
    staged = StagedShards(cfg, dirs, background=helper_thread)
    # A record may name the toolset its own adapter derived: the rules must know it at once.
    transformer.on_new_toolset = lambda toolset: validator.add_toolsets([toolset])
    loads = orjson.loads
    clock = time.perf_counter
    spent = {"extracted": 0.0, "validated": 0.0}

    def raw_records() -> Iterator[tuple[int, int, Any, bytes, bytes]]:
        """What the transformed stage reads back from the extracted work file, record by
        record, with the files' entries handed on as they appear."""
        records = extraction.records(hash_first=True)
        while True:
            t0 = clock()
            item = next(records, None)
            spent["extracted"] += clock() - t0
            if item is None:
                return
            fi, position, value, raw, exact = item
            if fi >= len(transformer.files):
                _add_files(extraction, transformer, validator, staged)
            yield fi, position, value if exact else loads(raw), raw, b""

    judge = validator.judge

    def timed_judge(record: dict[str, Any], line: bytes, fi: int) -> None:
        t0 = clock()
        judge(record, line, fi)
        spent["validated"] += clock() - t0

    try:
        records = raw_records()
        while True:
            # Each record goes from the reader through the adapter to the rules while its
            # objects are still in the CPU's caches; only its line waits for the batch's
            # duplicate-id lookup.
            taken = _Batch(records)
            transformer.add_batch(taken, timed_judge)
            t0 = clock()
            first = validator.index
            lines, fis = transformer.lines, transformer.file_index
            rejects = validator.finish_batch(lines, fis)
            spent["validated"] += clock() - t0
            transformer.flush()  # starts new lists: these are the staged shards' now
            staged.add_batch(lines, fis, rejects, first)
            if not taken.full:
                break
        # Files without a good record have no batch; their entries still belong to every stage.
        _add_files(extraction, transformer, validator, staged)
    except BaseException:
        for part in (extraction, transformer, validator, staged):
            part.abort()
        raise

    total = clock() - started
    seconds = {
        **spent,
        "transformed": total - spent["extracted"] - spent["validated"] - staged.waited,
    }
    # What is still to commit, and is given up if a step below fails. A stage is taken off
    # before its own commit (a failed commit cleans up after itself); the staged shards after.
    pending: list[Transformer | Validator | StagedShards] = [
        transformer,
        validator,
        staged,
    ]

    def give_up() -> None:
        for part in pending:
            part.abort()
        pending.clear()

    try:
        extract_report = extraction.commit(extract_fp, clock() - seconds["extracted"])
        transformer.bytes_in = extraction.out.bytes_written  # the extracted lines it stands for
        if not gate(extract_report, transformer.report(clock() - seconds["transformed"])):
            give_up()
            return [extract_report]
        transform_fp = transform_fingerprint(cfg, dirs, extract_fp)
        pending.remove(transformer)
        transform_report = transformer.commit(transform_fp, clock() - seconds["transformed"])
        toolsets: list[dict[str, Any]] = transform_report.extra["toolsets"]
        if validator.unresolved & {t["id"] for t in toolsets}:
            give_up()
            return [extract_report, transform_report, run_validate(cfg, dirs, force=True)]
        validate_fp = validate_fingerprint(cfg, dirs, transform_fp)
        # Before the validated marker: a validated stage on disk vouches for its staged shards.
        staged.commit(shard_fingerprint(cfg, dirs, validate_fp))
        pending.remove(staged)
        pending.remove(validator)
    except BaseException:
        give_up()
        raise
    validate_report = validator.commit(validate_fp, clock() - seconds["validated"], toolsets)
    return [extract_report, transform_report, validate_report]


class _Batch:
    """The next raw records of `records`, up to BATCH_RECORDS of them or BATCH_BYTES of raw
    bytes; `full` tells whether the batch stopped at a limit (more may follow)."""

    def __init__(self, records: Iterator[tuple[int, int, Any, bytes, bytes]]) -> None:
        self._records = records
        self.full = False

    def __iter__(self) -> Iterator[tuple[int, int, Any, bytes, bytes]]:
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
