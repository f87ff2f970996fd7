"""Stage 1, extracted: stream this partition's source files into raw records with traces.

Inputs that do not parse go to quarantine. A rejected input of a `split: auto` source has no
id yet, so no split: it is charged to the `train` partition only (the other partitions count
it as `charged_elsewhere`), so that every input is quarantined exactly once.
"""

from __future__ import annotations

import os
import time
from typing import Any

import orjson

from jsonl_assets.config import PipelineConfig, SourceConfig
from jsonl_assets.fault_points import reached
from jsonl_assets.gc_pause import gc_paused
from jsonl_assets.pending_rejections import PendingRejections
from jsonl_assets.quarantine import QuarantineWriter
from jsonl_assets.readers import READERS, ReadLimits, read_source
from jsonl_assets.readers.source_file import SourceChangedError, SourceFile
from jsonl_assets.stage_report import SourceCounters, StageError, StageReport
from jsonl_assets.traces import trace_dict
from jsonl_assets.work_files import (
    PartitionDirs,
    WorkFileWriter,
    fingerprint,
    read_marker,
    write_marker,
)

STAGE = "extracted"
CODE_VERSION = "1"
OUTPUT = "extracted.jsonl"
MARKER = "extracted.json"


def charged_here(source: SourceConfig, split: str) -> bool:
    """Whether a rejection that happens before a record has an id belongs to this partition."""
    return source.split != "auto" or split == "train"


def extract_fingerprint(cfg: PipelineConfig, dirs: PartitionDirs) -> str:
    files = []
    for source in cfg.sources_for(dirs.objective, dirs.split):
        for item in source.inputs:
            st = os.stat(item.path)
            files.append([source.name, item.rel, st.st_size, st.st_mtime_ns, st.st_ino])
    sources = [_source_identity(s) for s in cfg.sources_for(dirs.objective, dirs.split)]
    return fingerprint(STAGE, CODE_VERSION, dirs.key, cfg.max_record_bytes, sources, files)


def _source_identity(source: SourceConfig) -> dict[str, Any]:
    return {
        "name": source.name,
        "split": source.split,
        "format": source.format,
        "read_options": dict(source.read_options),
        "files": [[i.rel, i.format] for i in source.inputs],
    }


@gc_paused()
def run_extract(cfg: PipelineConfig, dirs: PartitionDirs, *, force: bool = False) -> StageReport:
    started = time.perf_counter()
    stage_fp = extract_fingerprint(cfg, dirs)
    marker_path = dirs.file(MARKER)
    if not force and (cached := read_marker(marker_path, stage_fp)) is not None:
        return StageReport.reused_from(cached, started)

    dirs.work.mkdir(parents=True, exist_ok=True)
    limits = ReadLimits(max_record_bytes=cfg.max_record_bytes)
    counters = SourceCounters()
    files: list[dict[str, Any]] = []
    out = WorkFileWriter(dirs.file(OUTPUT))
    quarantine = QuarantineWriter(dirs.quarantine / f"{STAGE}.jsonl", STAGE)
    bytes_in = 0
    try:
        for source in cfg.sources_for(dirs.objective, dirs.split):
            here = charged_here(source, dirs.split)
            counts = counters[source.name]
            for item in source.inputs:
                index = len(files)
                kind = READERS[item.format].position_kind
                source_file = SourceFile(item.path, item.rel)
                prefix = b"[%d," % index
                rejected = PendingRejections(dirs.scratch, keep=here)
                batch: list[bytes] = []
                good = 0
                try:
                    for entry in read_source(
                        source_file, item.format, source.read_options, limits, dirs.scratch
                    ):
                        if type(entry) is tuple:
                            position, value, raw = entry
                            if raw is None:
                                raw = orjson.dumps(value)
                            batch.append(b"%s%d,%s]\n" % (prefix, position, raw))
                            if len(batch) >= 4096:
                                good += len(batch)
                                out.write_many(batch)
                                batch = []
                                reached("extract.batch")
                        else:
                            rejected.append(entry)  # type: ignore[arg-type]
                except SourceChangedError as exc:
                    raise StageError(
                        f"{dirs.key}: {exc}; nothing of this partition was written, build it "
                        "again once the file is no longer being modified"
                    ) from exc
                good += len(batch)
                out.write_many(batch)
                reached("extract.file")
                sha = source_file.sha256
                files.append(
                    {
                        "source": source.name,
                        "file": item.rel,
                        "kind": kind,
                        "sha256": sha,
                        "bytes": source_file.size,
                        "compression": source_file.compression,
                        "format": item.format,
                    }
                )
                bytes_in += source_file.size
                counts["items"] += good + len(rejected)
                counts["records"] += good
                if not here:
                    counts["charged_elsewhere"] += len(rejected)
                for rej in rejected:  # none are kept when they are charged elsewhere
                    counts["quarantined"] += 1
                    quarantine.add(
                        rej.reason,
                        rej.detail,
                        trace_dict(source.name, item.rel, kind, rej.position, sha),
                        rej.raw,
                        raw_truncated=rej.raw_truncated,
                        raw_size=rej.raw_size,
                    )
                rejected.close()
        out.commit()
        quarantine.commit()
    except BaseException:
        out.abort()
        quarantine.abort()
        raise

    per_source = counters.as_dict()
    items = sum(c.get("items", 0) for c in per_source.values())
    elsewhere = sum(c.get("charged_elsewhere", 0) for c in per_source.values())
    report = StageReport(
        stage=STAGE,
        partition=dirs.key,
        records_in=items - elsewhere,
        records_out=sum(c.get("records", 0) for c in per_source.values()),
        bytes_in=bytes_in,
        bytes_out=out.bytes_written,
        seconds=time.perf_counter() - started,
        quarantine=quarantine.summary(),
        per_source=per_source,
        extra={"files": files, "charged_elsewhere": elsewhere},
    )
    write_marker(marker_path, stage_fp, report.to_json())
    return report
