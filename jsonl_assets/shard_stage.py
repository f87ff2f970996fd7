"""Stage 4, shards: accepted records into compressed shards inside the package, then verify.

Records are copied byte for byte from the transformed work file, skipping the validated
stage's rejects, into `data/<objective>-<split>[-<content_type>]-NNNNN.jsonl[.gz|.zst]`.
After the new shards are committed, shards of this partition's earlier builds that the new
list does not name are removed, so the package holds exactly what the manifest will list.
The report carries the accounting of the whole partition: read = written + quarantined.
"""

from __future__ import annotations

import re
import time
from array import array
from pathlib import Path
from typing import Any

import orjson

from jsonl_assets.atomic_files import remove_partials
from jsonl_assets.config import PipelineConfig
from jsonl_assets.extract_stage import MARKER as EXTRACT_MARKER
from jsonl_assets.gc_pause import gc_paused
from jsonl_assets.package_verifier import verify_shard
from jsonl_assets.shard_writer import ShardInfo, ShardJournal, ShardWriter
from jsonl_assets.stage_report import StageError, StageReport
from jsonl_assets.transform_stage import FILES as TRANSFORM_FILES
from jsonl_assets.transform_stage import MARKER as TRANSFORM_MARKER
from jsonl_assets.transform_stage import OUTPUT as TRANSFORM_OUTPUT
from jsonl_assets.transform_stage import upstream_marker
from jsonl_assets.validate_stage import MARKER as VALIDATE_MARKER
from jsonl_assets.validate_stage import REJECTS, ArrayReader, record_context
from jsonl_assets.work_files import (
    PartitionDirs,
    fingerprint,
    iter_line_batches,
    read_marker,
    write_marker,
)

STAGE = "shards"
CODE_VERSION = "1"
MARKER = "shards.json"
JOURNAL = "shards.journal"
DEFAULT_CONTENT_TYPE = "general"


def family_pattern(dirs: PartitionDirs) -> re.Pattern[str]:
    """Names of every shard this partition may own, whatever the sharding settings."""
    return re.compile(
        rf"^{re.escape(dirs.family_prefix)}-(?:[a-z0-9][a-z0-9_]*-)?\d{{5}}\.jsonl(?:\.gz|\.zst)?$"
    )


def shard_fingerprint(cfg: PipelineConfig, dirs: PartitionDirs, upstream_fp: str) -> str:
    out = cfg.output
    content_types = {s.name: s.content_type for s in cfg.sources_for(dirs.objective, dirs.split)}
    return fingerprint(
        STAGE,
        CODE_VERSION,
        dirs.key,
        upstream_fp,
        out.compression,
        out.level,
        out.max_records_per_shard,
        out.max_bytes_per_shard,
        out.shard_by,
        content_types if out.shard_by == "content_type" else None,
    )


def _families(cfg: PipelineConfig, dirs: PartitionDirs, files: list[dict[str, Any]]) -> list[str]:
    """The shard family of each source file."""
    if cfg.output.shard_by != "content_type":
        return [dirs.family_prefix] * len(files)
    by_source = {s.name: s.content_type or DEFAULT_CONTENT_TYPE for s in cfg.sources}
    return [f"{dirs.family_prefix}-{by_source[f['source']]}" for f in files]


def _shards_intact(package: Path, shards: list[dict[str, Any]]) -> bool:
    for shard in shards:
        path = package / shard["path"]
        if not path.is_file() or path.stat().st_size != shard["bytes"]:
            return False
    return True


@gc_paused()
def run_shards(cfg: PipelineConfig, dirs: PartitionDirs, *, force: bool = False) -> StageReport:
    started = time.perf_counter()
    upstream_fp, validate_report = upstream_marker(dirs, VALIDATE_MARKER)
    stage_fp = shard_fingerprint(cfg, dirs, upstream_fp)
    marker_path = dirs.file(MARKER)
    cached = None if force else read_marker(marker_path, stage_fp)
    if cached is not None and _shards_intact(dirs.package, cached["extra"]["shards"]):
        return StageReport.reused_from(cached, started)

    data_dir = dirs.package / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    remove_partials(data_dir, prefix=dirs.family_prefix + "-")
    journal = ShardJournal(dirs.file(JOURNAL), stage_fp)
    if force:
        journal.discard()
    committed = journal.load(dirs.package)
    files = validate_report["extra"]["files"]
    families = _families(cfg, dirs, files)
    writers: dict[str, ShardWriter] = {}
    out = cfg.output

    def writer_for(family: str) -> ShardWriter:
        writer = writers.get(family)
        if writer is None:
            writer = ShardWriter(
                dirs.package,
                family,
                out.compression,
                out.level,
                out.max_records_per_shard,
                out.max_bytes_per_shard,
                journal,
                [s for s in committed if s.family == family],
            )
            writers[family] = writer
        return writer

    rejects = _load_rejects(dirs.file(REJECTS))
    file_index = ArrayReader(dirs.file(TRANSFORM_FILES), "I")
    reused_shards = len(committed)
    index = 0
    bytes_in = 0
    next_reject = rejects[0] if rejects else -1
    r = 0
    try:
        single = len(set(families)) <= 1
        only = writer_for(families[0]) if single and families else None
        for lines in iter_line_batches(dirs.file(TRANSFORM_OUTPUT)):
            fis = file_index.take(len(lines))
            end = index + len(lines)
            if only is not None:
                # One family: hand the writer the runs of lines between rejected ones.
                start = index
                while start < end:
                    stop = next_reject if 0 <= next_reject < end else end
                    if stop > start:
                        run = lines[start - index : stop - index]
                        bytes_in += sum(map(len, run)) + len(run)
                        only.add_run(run, start)
                    if stop < end:
                        r += 1
                        next_reject = rejects[r] if r < len(rejects) else -1
                    start = stop + 1
            else:
                for k, line in enumerate(lines):
                    i = index + k
                    if i == next_reject:
                        r += 1
                        next_reject = rejects[r] if r < len(rejects) else -1
                        continue
                    bytes_in += len(line) + 1
                    writer_for(families[fis[k]]).add(line, i)
            index = end
        shards: list[ShardInfo] = []
        for family in sorted(writers):
            shards.extend(writers[family].close())
    finally:
        file_index.close()
    shards.sort(key=lambda s: s.path)

    written = sum(s.record_count for s in shards)
    if written != validate_report["records_out"]:
        raise StageError(
            f"{dirs.key}: wrote {written} records but the validated stage accepted "
            f"{validate_report['records_out']}; refusing to publish an inconsistent partition"
        )
    keep = {Path(s.path).name for s in shards}
    pattern = family_pattern(dirs)
    removed = []
    for path in sorted(data_dir.iterdir()):
        if pattern.match(path.name) and path.name not in keep:
            path.unlink()
            removed.append(path.name)

    accounting = partition_accounting(dirs, validate_report, written)
    report = StageReport(
        stage=STAGE,
        partition=dirs.key,
        records_in=validate_report["records_out"],
        records_out=written,
        bytes_in=bytes_in,
        bytes_out=sum(s.bytes for s in shards),
        seconds=time.perf_counter() - started,
        quarantine={"count": 0},
        per_source=accounting["per_source"],
        extra={
            "shards": [_shard_json(s) for s in shards],
            "reused_shards": reused_shards,
            "removed_orphans": removed,
            "accounting": accounting,
            "toolsets": validate_report["extra"]["toolsets"],
            "files": files,
        },
    )
    write_marker(marker_path, stage_fp, report.to_json())
    journal.discard()
    return report


def _shard_json(info: ShardInfo) -> dict[str, Any]:
    return {
        "path": info.path,
        "compression": info.compression,
        "record_count": info.record_count,
        "sha256": info.sha256,
        "bytes": info.bytes,
    }


def _load_rejects(path: Path) -> array:
    """Rejected indices, ascending (a few percent of the records at most, 8 bytes each)."""
    values = array("Q")
    values.frombytes(path.read_bytes())
    return values


def partition_accounting(
    dirs: PartitionDirs, validate_report: dict[str, Any], written: int
) -> dict[str, Any]:
    """records read = records written + records quarantined, per source and in total.

    "Read" counts the partition's own records: raw inputs charged to it plus the records
    adapters made for it (one raw input can make several, e.g. alpaca instances).
    """
    _, extract = upstream_marker(dirs, EXTRACT_MARKER)
    _, transform = upstream_marker(dirs, TRANSFORM_MARKER)
    sources = sorted(
        set(extract["per_source"])
        | set(transform["per_source"])
        | set(validate_report["per_source"])
    )
    per_source: dict[str, dict[str, int]] = {}
    for name in sources:
        e = extract["per_source"].get(name, {})
        t = transform["per_source"].get(name, {})
        v = validate_report["per_source"].get(name, {})
        quarantined = (
            e.get("quarantined", 0)
            + t.get("quarantined", 0)
            + v.get("invalid", 0)
            + v.get("duplicate", 0)
        )
        read = (
            e.get("items", 0)
            - e.get("charged_elsewhere", 0)
            - t.get("in", 0)
            + t.get("rejected_inputs", 0)
            + t.get("made", 0)
            - t.get("routed_elsewhere", 0)
        )
        per_source[name] = {"read": read, "written": v.get("out", 0), "quarantined": quarantined}
    totals = {k: sum(p[k] for p in per_source.values()) for k in ("read", "written", "quarantined")}
    if totals["written"] != written or any(
        p["read"] != p["written"] + p["quarantined"] for p in per_source.values()
    ):
        raise StageError(
            f"{dirs.key}: accounting does not balance: {orjson.dumps(per_source).decode()}"
        )
    return {"per_source": per_source, **totals}


@gc_paused()
def verify_partition_shards(
    cfg: PipelineConfig, dirs: PartitionDirs, report: StageReport
) -> dict[str, Any]:
    """Re-read every shard of the partition: sha256, record count, each line a JSON object,
    each record valid for the objective. Returns counts and the first findings."""
    started = time.perf_counter()
    ctx = record_context(cfg, report.extra["toolsets"])
    findings: list[dict[str, Any]] = []
    records = 0
    bad_shards = 0
    for shard in report.extra["shards"]:
        entry = {k: shard[k] for k in ("path", "compression", "record_count", "sha256")}
        check = verify_shard(dirs.package, entry, dirs.objective, ctx)
        records += check.record_count
        errors = [f for f in check.findings if f.severity == "error"]
        if errors:
            bad_shards += 1
            findings.extend(
                {"rule": f.rule, "file": f.file, "line": f.line, "message": f.message}
                for f in errors[:5]
            )
    return {
        "shards": len(report.extra["shards"]),
        "bad_shards": bad_shards,
        "records": records,
        "expected_records": report.records_out,
        "findings": findings[:20],
        "passed": bad_shards == 0 and records == report.records_out,
        "seconds": time.perf_counter() - started,
    }
