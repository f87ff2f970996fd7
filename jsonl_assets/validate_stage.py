"""Stage 3, validated: every record rule of the spec for the objective, and duplicate ids.

The stage hands off verdicts, not records: the indices of rejected lines (`validated.rejects`)
and the digests of the accepted ids (`validated.ids.arrow`, for the package's leakage check).
A rejected record goes to quarantine with `schema:<rule>` (the checklist rule it broke) or
`duplicate_id` and the trace of the record that was kept.
"""

from __future__ import annotations

import hashlib
import os
import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from jsonl_assets.atomic_files import fsync_dir, partial_path
from jsonl_assets.config import PipelineConfig
from jsonl_assets.dedup import SeenIds
from jsonl_assets.fault_points import reached
from jsonl_assets.gc_pause import gc_paused
from jsonl_assets.quarantine import QuarantineWriter
from jsonl_assets.spec_rules import RecordContext, record_errors
from jsonl_assets.stage_report import SourceCounters, StageReport
from jsonl_assets.transform_stage import FILES as TRANSFORM_FILES
from jsonl_assets.transform_stage import MARKER as TRANSFORM_MARKER
from jsonl_assets.transform_stage import OUTPUT as TRANSFORM_OUTPUT
from jsonl_assets.transform_stage import upstream_marker
from jsonl_assets.work_files import (
    PartitionDirs,
    WorkFileWriter,
    fingerprint,
    iter_line_batches,
    read_marker,
    write_marker,
)

STAGE = "validated"
CODE_VERSION = "1"
REJECTS = "validated.rejects"
IDS = "validated.ids.arrow"
MARKER = "validated.json"
_POSITION_BITS = 40
BATCH_BYTES = 16 << 20


class ArrayReader:
    """Reads a binary array file (e.g. uint32 per record) a slice at a time."""

    def __init__(self, path: Path, typecode: str) -> None:
        self._handle = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._typecode = typecode
        self._itemsize = array(typecode).itemsize

    def take(self, n: int) -> array:
        values = array(self._typecode)
        values.frombytes(self._handle.read(n * self._itemsize))
        if len(values) != n:
            raise ValueError(f"{self._handle.name}: expected {n} more entries, found {len(values)}")
        return values

    def close(self) -> None:
        self._handle.close()


def record_context(cfg: PipelineConfig, toolsets: list[dict[str, Any]]) -> RecordContext:
    """The toolsets a record may reference: the config's plus those the adapters derived."""
    names = {t["id"]: frozenset(tool["name"] for tool in t["tools"]) for t in cfg.toolsets}
    for toolset in toolsets:
        names.setdefault(toolset["id"], frozenset(tool["name"] for tool in toolset["tools"]))
    default = (cfg.defaults or {}).get("toolset_id")
    return RecordContext(toolsets=names, default_toolset_id=default)


def validate_fingerprint(cfg: PipelineConfig, dirs: PartitionDirs, upstream_fp: str) -> str:
    return fingerprint(STAGE, CODE_VERSION, dirs.key, upstream_fp, list(cfg.toolsets), cfg.defaults)


@gc_paused()
def run_validate(cfg: PipelineConfig, dirs: PartitionDirs, *, force: bool = False) -> StageReport:
    started = time.perf_counter()
    upstream_fp, transform_report = upstream_marker(dirs, TRANSFORM_MARKER)
    stage_fp = validate_fingerprint(cfg, dirs, upstream_fp)
    marker_path = dirs.file(MARKER)
    if not force and (cached := read_marker(marker_path, stage_fp)) is not None:
        return StageReport.reused_from(cached, started)

    files = transform_report["extra"]["files"]
    kinds = [f["kind"] for f in files]
    ctx = record_context(cfg, transform_report["extra"]["toolsets"])
    objective = dirs.objective
    counters = SourceCounters()
    rule_counts: Counter[str] = Counter()
    seen = SeenIds()
    quarantine = QuarantineWriter(dirs.quarantine / f"{STAGE}.jsonl", STAGE)
    rejects_out = WorkFileWriter(dirs.file(REJECTS))
    file_index = ArrayReader(dirs.file(TRANSFORM_FILES), "I")
    loads = orjson.loads
    sha256 = hashlib.sha256
    in_per_file = [0] * len(files)
    index = 0
    bytes_in = 0
    duplicates = 0
    try:
        # Large batches: the id set's per-batch cost (a few polars calls) is then negligible.
        for lines in iter_line_batches(dirs.file(TRANSFORM_OUTPUT), BATCH_BYTES):
            fis = file_index.take(len(lines))
            bytes_in += sum(map(len, lines)) + len(lines)
            rejects = array("Q")
            entries: list[tuple[int, str, str, dict[str, Any], bytes, dict[str, Any]]] = []
            digests: list[bytes] = []
            positions: list[int] = []
            accepted: list[int] = []
            for k, line in enumerate(lines):
                record = loads(line)
                fi = fis[k]
                in_per_file[fi] += 1
                errors = record_errors(record, objective, ctx)
                if errors:
                    first = errors[0]
                    rule_counts[first.rule] += 1
                    counters[files[fi]["source"]]["invalid"] += 1
                    entries.append(
                        (
                            index + k,
                            f"schema:{first.rule}",
                            "; ".join(e.message for e in errors[:5]),
                            record["metadata"]["trace"],
                            line,
                            {"rules": sorted({e.rule for e in errors})},
                        )
                    )
                    continue
                digests.append(sha256(record["id"].encode()).digest()[:16])
                positions.append((fi << _POSITION_BITS) | record["metadata"]["trace"][kinds[fi]])
                accepted.append(k)
            for j, kept in seen.add_batch(digests, positions):
                k = accepted[j]
                record = loads(lines[k])  # duplicates are rare: parse again rather than keep
                fi = fis[k]
                counters[files[fi]["source"]]["duplicate"] += 1
                duplicates += 1
                kept_fi, kept_pos = kept >> _POSITION_BITS, kept & ((1 << _POSITION_BITS) - 1)
                kept_file = files[kept_fi]
                kept_trace = {
                    "source": kept_file["source"],
                    "file": kept_file["file"],
                    kept_file["kind"]: kept_pos,
                    "sha256": kept_file["sha256"],
                }
                entries.append(
                    (
                        index + k,
                        "duplicate_id",
                        f"id {record['id']!r} was already written from {kept_file['file']} "
                        f"{kept_file['kind']} {kept_pos}",
                        record["metadata"]["trace"],
                        lines[k],
                        {"kept": kept_trace},
                    )
                )
            # Quarantine entries and rejects in record order, whatever their kind.
            entries.sort(key=lambda e: e[0])
            for line_index, reason, detail, trace, raw, extra in entries:
                quarantine.add(reason, detail, trace, raw, extra=extra)
                rejects.append(line_index)
            rejects_out.write(rejects.tobytes())
            reached("validate.batch")
            index += len(lines)
        for fi, count in enumerate(in_per_file):
            if count:
                counters[files[fi]["source"]]["in"] += count
        file_index.close()
        rejects_out.commit()
        _write_ids(dirs.file(IDS), seen)
        quarantine.commit()
    except BaseException:
        file_index.close()
        rejects_out.abort()
        quarantine.abort()
        raise

    per_source = counters.as_dict()
    for counts in per_source.values():
        counts["out"] = counts.get("in", 0) - counts.get("invalid", 0) - counts.get("duplicate", 0)
    invalid = sum(rule_counts.values())
    report = StageReport(
        stage=STAGE,
        partition=dirs.key,
        records_in=index,
        records_out=index - invalid - duplicates,
        bytes_in=bytes_in,
        bytes_out=0,
        seconds=time.perf_counter() - started,
        quarantine=quarantine.summary(),
        per_source=per_source,
        extra={
            "invalid": invalid,
            "duplicates": duplicates,
            "invalid_by_rule": dict(sorted(rule_counts.items())),
            "toolsets": transform_report["extra"]["toolsets"],
            "files": files,
            "id_set_bytes": seen.nbytes(),
        },
    )
    write_marker(marker_path, stage_fp, report.to_json())
    return report


def _write_ids(path: Path, seen: SeenIds) -> None:
    tmp = partial_path(path)
    seen.frame().write_ipc(tmp)
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_ids(path: Path) -> pl.DataFrame:
    return pl.read_ipc(path, memory_map=False)
