"""Stages 1-3 (extracted, transformed, validated) of a partition in one streaming pass.

Run one after the other, the three stages parse every record three times: the raw line while
extracting, the extracted line while transforming, the spec record while validating. In one
pass each raw record is parsed once, adapted, serialised once, and judged on the dict it was
serialised from (for JSON values, the same dict `orjson.loads` gives back from those bytes).

The pass writes exactly what the three stages write one by one - work files, quarantine files
and markers, byte for byte - so each stage can still be rerun on its own, and a test holds the
two ways to the same bytes. Nothing is committed until the pass ends; then the stages commit
in order, and the later two only if `gate(extract_report)` allows it (the Dagster layer passes
the parse-failure check, which blocks downstream stages). A pass killed midway leaves only
`.partial` files: the rerun starts the pass again. Once extracted is committed, a rerun
reuses it and runs the other two stages on their own.

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
from collections.abc import Callable
from typing import Any, Final

import orjson

from jsonl_assets.config import PipelineConfig
from jsonl_assets.extract_stage import MARKER as EXTRACT_MARKER
from jsonl_assets.extract_stage import Extraction, extract_fingerprint, run_extract
from jsonl_assets.gc_pause import gc_paused
from jsonl_assets.stage_report import StageReport
from jsonl_assets.transform_stage import Transformer, run_transform, transform_fingerprint
from jsonl_assets.validate_stage import Validator, run_validate, validate_fingerprint
from jsonl_assets.work_files import PartitionDirs, read_marker

# Records judged at once: big enough that the id set's per-batch cost (a few polars calls)
# is small, small enough that the batch's dicts stay a few tens of MB.
VALIDATE_BATCH_RECORDS: Final = 8192
VALIDATE_BATCH_BYTES: Final = 16 << 20

Gate = Callable[[StageReport], bool]


def _always(_: StageReport) -> bool:
    return True


@gc_paused()
def run_record_stages(
    cfg: PipelineConfig, dirs: PartitionDirs, *, force: bool = False, gate: Gate = _always
) -> list[StageReport]:
    """Reports of extracted, transformed and validated, in order; only extracted's when
    `gate` refuses it. Stages whose inputs are unchanged are reused."""
    extract_fp = extract_fingerprint(cfg, dirs)
    if not force and read_marker(dirs.file(EXTRACT_MARKER), extract_fp) is not None:
        reports = [run_extract(cfg, dirs)]
        if not gate(reports[0]):
            return reports
        return [*reports, run_transform(cfg, dirs), run_validate(cfg, dirs)]
    return _one_pass(cfg, dirs, extract_fp, gate)


def _one_pass(
    cfg: PipelineConfig, dirs: PartitionDirs, extract_fp: str, gate: Gate
) -> list[StageReport]:
    started = time.perf_counter()
    extraction = Extraction(cfg, dirs)
    transformer = Transformer(cfg, dirs, [], keep_records=True)
    validator = Validator(cfg, dirs, [], [])
    seconds = {"transformed": 0.0, "validated": 0.0}
    loads = orjson.loads
    known_toolsets = 0

    def validate_pending() -> None:
        nonlocal known_toolsets
        t0 = time.perf_counter()
        if len(transformer.toolsets) > known_toolsets:
            validator.add_toolsets(transformer.toolsets.values())
            known_toolsets = len(transformer.toolsets)
        validator.add_batch(
            transformer.lines, transformer.file_index, transformer.records, terminated=True
        )
        transformer.flush()
        seconds["validated"] += time.perf_counter() - t0

    try:
        pending_bytes = 0
        for fi, batch, exact in extraction.batches(hash_first=True):
            t0 = time.perf_counter()
            while len(transformer.files) <= fi:
                entry = extraction.files[len(transformer.files)]
                transformer.add_file(entry)
                validator.add_file(entry)
            transformer.bytes_in += extraction.last_batch_bytes
            if exact:
                transformer.add_batch((fi, pos, value, raw, b"") for pos, value, raw in batch)
            else:  # what the transformed stage sees: the value parsed back from the raw bytes
                transformer.add_batch((fi, pos, loads(raw), raw, b"") for pos, _, raw in batch)
            pending_bytes += extraction.last_batch_bytes
            seconds["transformed"] += time.perf_counter() - t0
            if (
                len(transformer.lines) >= VALIDATE_BATCH_RECORDS
                or pending_bytes >= VALIDATE_BATCH_BYTES
            ):
                validate_pending()
                pending_bytes = 0
        if transformer.lines:
            validate_pending()
        # Files without a good record have no batch; their entries still belong to every stage.
        while len(transformer.files) < len(extraction.files):
            entry = extraction.files[len(transformer.files)]
            transformer.add_file(entry)
            validator.add_file(entry)
    except BaseException:
        extraction.abort()
        transformer.abort()
        validator.abort()
        raise

    total = time.perf_counter() - started
    extract_seconds = total - seconds["transformed"] - seconds["validated"]
    try:
        extract_report = extraction.commit(extract_fp, time.perf_counter() - extract_seconds)
    except BaseException:
        transformer.abort()
        validator.abort()
        raise
    if not gate(extract_report):
        transformer.abort()
        validator.abort()
        return [extract_report]
    transform_fp = transform_fingerprint(cfg, dirs, extract_fp)
    try:
        transform_report = transformer.commit(
            transform_fp, time.perf_counter() - seconds["transformed"]
        )
    except BaseException:
        validator.abort()
        raise
    toolsets: list[dict[str, Any]] = transform_report.extra["toolsets"]
    if validator.unresolved & {t["id"] for t in toolsets}:
        validator.abort()
        return [extract_report, transform_report, run_validate(cfg, dirs, force=True)]
    validate_fp = validate_fingerprint(cfg, dirs, transform_fp)
    validate_report = validator.commit(
        validate_fp, time.perf_counter() - seconds["validated"], toolsets
    )
    return [extract_report, transform_report, validate_report]
