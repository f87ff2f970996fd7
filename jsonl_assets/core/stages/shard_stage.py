"""Stage 4, shards: accepted records into compressed shards inside the package, then verify.

The shards are `data/<objective>-<split>-<digest>/<objective>-<split>[-<content_type>]-NNNNN
.jsonl[.gz|.zst]`, the folder named after their content (shard_families.snapshot_folder). The
one pass (record_stages.py) writes them, staged in the work dir (staged_shards.py): this
stage moves them into the package. Nothing the published metadata.json lists is rewritten
or removed here: a changed partition gets a new folder, and the shards no longer listed are
collected after the next publish, once the retention window has passed (package_gc.py). A
package dir holding a file this project did not write, or another dataset's package, fails
the stage before it touches the package (package_files.py `check_ours`), and what an earlier
pass staged in it (object storage) is removed. The report carries the accounting of the
whole partition (read = written + quarantined) and each family's content digest: length,
line count and sha256 of the accepted lines, taken as they were handed to the shard writer.

`verify_partition_shards` (the shards_verified check) then re-reads every shard from disk:
its size and sha256 are the ones recorded, it decompresses to its end, its line count is its
record_count, and a family's shards decompress, in order, to exactly the accepted lines -
the bytes whose records the validated stage judged.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from jsonl_assets.core.compression import TruncatedInput
from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.gc_pause import gc_paused
from jsonl_assets.core.quarantine_snapshot import publish_quarantine
from jsonl_assets.core.read_ahead import read_ahead
from jsonl_assets.core.rules.rate_checks import SourceFiles, source_files, source_reads
from jsonl_assets.core.shard_families import FamilyContent, family_of
from jsonl_assets.core.shard_writer import ShardInfo, ShardJournal
from jsonl_assets.core.stage_report import ShardsDetails, StageError, StageReport
from jsonl_assets.core.stages.extract_stage import MARKER as EXTRACT_MARKER
from jsonl_assets.core.stages.staged_shards import (
    adopt,
    read_staged,
    staged_folder,
    staged_present,
)
from jsonl_assets.core.stages.staged_shards import discard as discard_staged
from jsonl_assets.core.stages.staged_shards import withdraw as withdraw_staged
from jsonl_assets.core.stages.transform_stage import MARKER as TRANSFORM_MARKER
from jsonl_assets.core.stages.transform_stage import upstream_marker
from jsonl_assets.core.stages.validate_stage import MARKER as VALIDATE_MARKER
from jsonl_assets.core.store.atomic_files import remove_partials
from jsonl_assets.core.store.base import store_for
from jsonl_assets.core.store.package_files import (
    ForeignFilesError,
    OtherDatasetError,
    check_ours,
)
from jsonl_assets.core.store.snapshot_base import remember_base
from jsonl_assets.core.store.work_files import (
    CHUNK,
    PartitionDirs,
    fingerprint,
    read_marker,
    write_marker,
)
from jsonl_assets.core.verify.shard_stream import ShardStream
from jsonl_assets.core.verify.verify_limits import (
    ExpansionExceeded,
    Unreadable,
    VerifyLimits,
    limits_for_records,
)

STAGE = "shards"
CODE_VERSION = "8"  # 4: typed report, staged shards only; 5: the quarantine published;
# 6: unread files in the accounting; 7: every source's files in the accounting; 8: shards
# rotate within a default verify's expansion cap and --max-shard-bytes
MARKER = "shards.json"
JOURNAL = "shards.journal"
VERIFIED = "shards.verified.json"  # the last shards_verified result, per shards marker
# Finding of shards_verified when a shard's lines are not the records validated accepted.
ACCEPTED = "accepted"


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


def _shards_intact(package: Path, shards: list[dict[str, Any]]) -> bool:
    store = store_for(package)
    for shard in shards:
        st = store.stat(package / shard["path"])
        if st is None or st.is_dir or st.size != shard["bytes"]:
            return False
    return True


def _quarantine_intact(dirs: PartitionDirs, quarantine: dict[str, Any]) -> bool:
    store = store_for(dirs.quarantine_root)
    for entry in quarantine.get("files", ()):
        st = store.stat(dirs.quarantine_root / entry["path"])
        if st is None or st.is_dir or st.size != entry["bytes"]:
            return False
    return True


def verification_failed(dirs: PartitionDirs, stage_fp: str) -> bool:
    """Whether shards_verified last failed on the shards of these inputs: the package's copies
    are not the bytes recorded (changed in place, even at the same size), so they must be
    written again, not reused on their size."""
    verified = read_marker(dirs.file(VERIFIED), stage_fp)
    return verified is not None and not verified.get("passed", False)


def shards_ready(dirs: PartitionDirs, stage_fp: str) -> bool:
    """Whether the shards of these inputs are in the package (the stage's marker, and their
    last verification did not fail) or can still be moved there (staged, each in the staging
    folder or already in the package)."""
    done = read_marker(dirs.file(MARKER), stage_fp)
    if done is not None and not verification_failed(dirs, stage_fp):
        return _shards_intact(dirs.package, done["extra"]["shards"]) and _quarantine_intact(
            dirs, done["extra"]["quarantine"]
        )
    staged = read_staged(dirs, stage_fp)
    return staged is not None and staged_present(dirs, staged)


@gc_paused()
def run_shards(
    cfg: PipelineConfig,
    dirs: PartitionDirs,
    *,
    force: bool = False,
    replace_other_dataset: bool = False,
) -> StageReport:
    started = time.perf_counter()
    remember_base(cfg)  # the metadata.json this build replaces: read before it adds a file
    upstream_fp, validate_report = upstream_marker(dirs, VALIDATE_MARKER)
    stage_fp = shard_fingerprint(cfg, dirs, upstream_fp)
    marker_path = dirs.file(MARKER)
    cached = None if force else read_marker(marker_path, stage_fp)
    if verification_failed(dirs, stage_fp):
        cached = None  # the package's copies failed verification: adopt the staged ones again
    if cached is not None and _shards_intact(dirs.package, cached["extra"]["shards"]):
        discard_staged(dirs)  # left by a run killed just before it removed them
        if not _quarantine_intact(dirs, cached["extra"]["quarantine"]):
            publish_quarantine(cfg, dirs)  # the same work copies: the same folder and files
        return StageReport.reused_from(cached, started)

    try:  # before anything in it is touched
        check_ours(dirs.package, cfg.output.work_dir, cfg.dataset.name, replace_other_dataset)
    except (ForeignFilesError, OtherDatasetError):
        withdraw_staged(dirs)  # what an earlier pass staged in it (object storage) goes
        raise
    journal = ShardJournal(dirs.file(JOURNAL), stage_fp)
    if force:
        journal.discard()
    committed = journal.load(dirs.package)
    reused_shards = len(committed)
    details = validate_report["extra"]
    staged = read_staged(dirs, stage_fp)
    if staged is not None:
        remove_partials(dirs.package / staged_folder(dirs, staged))  # of a killed copy
    shards = adopt(dirs, staged, journal, committed) if staged is not None else None
    if staged is None or shards is None:
        raise StageError(
            f"{dirs.key}: the shards staged by the record stages are gone; build the partition "
            "again (its record stages run again and stage them)"
        )

    written = sum(s.record_count for s in shards)
    if written != validate_report["records_out"]:
        raise StageError(
            f"{dirs.key}: wrote {written} records but the validated stage accepted "
            f"{validate_report['records_out']}; refusing to publish an inconsistent partition"
        )
    accounting = partition_accounting(cfg, dirs, validate_report, written)
    quarantine = publish_quarantine(cfg, dirs)  # before metadata.json can list the shards
    report = StageReport(
        stage=STAGE,
        partition=dirs.key,
        records_in=validate_report["records_out"],
        records_out=written,
        bytes_in=staged["bytes_in"],
        bytes_out=sum(s.bytes for s in shards),
        seconds=time.perf_counter() - started + staged["seconds"],
        quarantine={"count": 0},
        per_source=accounting["per_source"],
        details=ShardsDetails(
            shards=[_shard_json(s) for s in shards],
            reused_shards=reused_shards,
            accounting=accounting,
            content=staged["content"],
            toolsets=details["toolsets"],
            files=details["files"],
            quarantine=quarantine,
            statistics=staged.get("statistics", {}),
        ),
    )
    write_marker(marker_path, stage_fp, report.to_json())
    journal.discard()
    discard_staged(dirs)
    return report


def _shard_json(info: ShardInfo) -> dict[str, Any]:
    return {
        "path": info.path,
        "compression": info.compression,
        "record_count": info.record_count,
        "sha256": info.sha256,
        "bytes": info.bytes,
    }


def partition_accounting(
    cfg: PipelineConfig, dirs: PartitionDirs, validate_report: dict[str, Any], written: int
) -> dict[str, Any]:
    """records read = records written + records quarantined, per source and in total, and
    per source the quarantined records by reason; per source and in total, the `files`
    charged here and the `unread_files` among them (rate_checks.source_files: the counts the
    parse-failure check's file rate is of, healthy sources' files too).

    "Read" counts the partition's own records: raw inputs charged to it plus the records
    adapters made for it (one raw input can make several, e.g. alpaca instances).
    """
    _, extract = upstream_marker(dirs, EXTRACT_MARKER)
    _, transform = upstream_marker(dirs, TRANSFORM_MARKER)
    reads = source_reads(extract["per_source"], transform["per_source"])
    by_reason: dict[str, Counter[str]] = {}
    for report in (extract, transform, validate_report):
        for name, reasons in report["quarantine"].get("by_source", {}).items():
            by_reason.setdefault(name, Counter()).update(reasons)
    per_source: dict[str, dict[str, Any]] = {}
    for name in sorted(set(reads) | set(by_reason) | set(validate_report["per_source"])):
        reasons = by_reason.get(name, Counter())
        per_source[name] = {
            "read": reads.get(name, 0),
            "written": validate_report["per_source"].get(name, {}).get("out", 0),
            "quarantined": sum(reasons.values()),
            "quarantined_by_reason": dict(sorted(reasons.items())),
        }
    charged = source_files(cfg, dirs.key, extract.get("extra") or {})
    for name in sorted(set(per_source) | set(charged)):
        files = charged.get(name, SourceFiles())
        mine = per_source.setdefault(
            name, {"read": 0, "written": 0, "quarantined": 0, "quarantined_by_reason": {}}
        )
        # As the rate check counts them (rate_checks.evaluate): never fewer files than unread.
        mine |= {"files": max(files.files, files.unread), "unread_files": files.unread}
    per_source = dict(sorted(per_source.items()))
    totals = {
        k: sum(p[k] for p in per_source.values())
        for k in ("read", "written", "quarantined", "files", "unread_files")
    }
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
    """Re-read every shard of the partition from disk: its size and sha256 are the ones
    recorded, it decompresses to its end, its line count is its record_count, and the shards
    of a family decompress, in order, to the family's accepted lines (their length and
    sha256 in the report; each of those records was judged against the spec for the
    objective by the validated stage). Returns counts and the first findings."""
    started = time.perf_counter()
    assert isinstance(report.details, ShardsDetails)
    shards = report.details.shards
    content: dict[str, dict[str, Any]] = report.details.content
    findings: list[dict[str, Any]] = []
    bad: set[str] = set()
    bad_families: list[str] = []
    records = 0
    limits = limits_for_records(cfg.max_record_bytes)
    by_family: dict[str, list[dict[str, Any]]] = {}
    for shard in shards:
        by_family.setdefault(family_of(shard["path"]), []).append(shard)
    for family in sorted(set(by_family) | set(content)):
        digest = FamilyContent()
        for shard in sorted(by_family.get(family, []), key=lambda s: s["path"]):
            problems, count = _check_shard(dirs.package, shard, digest, limits)
            records += count
            if problems:
                bad.add(shard["path"])
                findings.extend(
                    {"rule": rule, "file": shard["path"], "line": line, "message": message}
                    for rule, line, message in problems[:5]
                )
        expected = content.get(family, {"bytes": 0, "records": 0, "sha256": None})
        got = digest.as_json()
        if got != expected:
            findings.append(
                {
                    "rule": ACCEPTED,
                    "file": family,
                    "line": None,
                    "message": (
                        f"the shards decompress to {got['records']} lines, {got['bytes']} "
                        f"bytes, sha256 {got['sha256'][:16]}…; the accepted records are "
                        f"{expected['records']} lines, {expected['bytes']} bytes, sha256 "
                        f"{str(expected['sha256'])[:16]}…"
                    ),
                }
            )
            bad_families.append(family)
    return {
        "shards": len(shards),
        "bad_shards": len(bad),
        "bad_families": bad_families,
        "records": records,
        "expected_records": report.records_out,
        "findings": findings[:20],
        "passed": not bad and not bad_families and records == report.records_out,
        "seconds": time.perf_counter() - started,
    }


def _check_shard(
    package: Path, shard: dict[str, Any], content: FamilyContent, limits: VerifyLimits
) -> tuple[list[tuple[str, int | None, str]], int]:
    """Problems `(rule, line, message)` of one shard and the number of lines it holds; its
    decompressed bytes go into the family's `content`. Read as `verify` reads a shard."""
    try:
        stream = ShardStream.open(package / shard["path"], package)
    except Unreadable as exc:
        reason = "is missing" if exc.kind == "missing" else exc.reason
        return [("C13", None, f"the shard {reason}")], 0
    problems: list[tuple[str, int | None, str]] = []
    if stream.total != shard["bytes"]:
        problems.append(("C17", None, f"{stream.total} bytes on disk, {shard['bytes']} recorded"))
    count = 0
    cap = limits.decompressed_cap(stream.total)  # what `verify` reads, `--expansion-floor` aside
    with stream:
        try:
            for chunk in read_ahead(
                stream.chunks(shard["compression"], cap, chunk=CHUNK, own=True)
            ):
                lines = chunk.count(b"\n")
                content.update(chunk, lines)
                count += lines
        except TruncatedInput as exc:
            problems.append(("C15", count + 1, f"the shard does not decompress: {exc}"))
        except ExpansionExceeded as exc:
            problems.append(("C15", count + 1, f"the shard {exc} (verify's cap)"))
        stream.drain()
    if stream.sha256() != shard["sha256"]:
        problems.append(("C17", None, "sha256 of the file differs from the one recorded"))
    if count != shard["record_count"]:
        problems.append(("C16", None, f"{count} records, {shard['record_count']} recorded"))
    return problems, count
