"""Stage 4, shards: accepted records into compressed shards inside the package, then verify.

Records are copied byte for byte from the transformed work file, skipping the validated
stage's rejects, into `data/<objective>-<split>[-<content_type>]-NNNNN.jsonl[.gz|.zst]`.
After the new shards are committed, shards of this partition's earlier builds that the new
list does not name are removed, so the package holds exactly what the manifest will list.
The report carries the accounting of the whole partition: read = written + quarantined.

`verify_partition_shards` (the shards_verified check) then re-reads every shard from disk
and compares its content with the accepted lines of the transformed work file: the exact
bytes whose records the validated stage judged (parsed from those bytes when the stage runs
on its own, or the dicts they were serialised from in the one-pass build, see
record_stages.py). Equal bytes carry that verdict over, so the records are not parsed and
judged a second time.
"""

from __future__ import annotations

import hashlib
import re
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import zstandard

from jsonl_assets.atomic_files import remove_partials
from jsonl_assets.compression import TruncatedInput, iter_decompressed
from jsonl_assets.config import PipelineConfig
from jsonl_assets.extract_stage import MARKER as EXTRACT_MARKER
from jsonl_assets.gc_pause import gc_paused
from jsonl_assets.shard_writer import ShardInfo, ShardJournal, ShardWriter
from jsonl_assets.stage_report import StageError, StageReport
from jsonl_assets.transform_stage import FILES as TRANSFORM_FILES
from jsonl_assets.transform_stage import MARKER as TRANSFORM_MARKER
from jsonl_assets.transform_stage import OUTPUT as TRANSFORM_OUTPUT
from jsonl_assets.transform_stage import upstream_marker
from jsonl_assets.validate_stage import MARKER as VALIDATE_MARKER
from jsonl_assets.validate_stage import REJECTS, ArrayReader
from jsonl_assets.work_files import (
    CHUNK,
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
# Finding of shards_verified when a shard's lines are not the records validated accepted.
ACCEPTED = "accepted"


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
    reused_shards = len(committed)
    bytes_in = 0
    shards: list[ShardInfo] = []
    if len(set(families)) <= 1:
        # One family: hand the writer whole blocks of lines between rejected ones.
        if families:
            only = writer_for(families[0])
            for block, first_index in _accepted_blocks(dirs.file(TRANSFORM_OUTPUT), rejects):
                bytes_in += len(block)
                only.add_block(block, first_index)
    else:
        for i, fi, line in _accepted_lines(dirs, rejects):
            bytes_in += len(line) + 1
            writer_for(families[fi]).add(line, i)
    for family in sorted(writers):
        shards.extend(writers[family].close())
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


def _accepted_blocks(path: Path, rejects: array) -> Iterator[tuple[bytes, int]]:
    """The work file's runs of lines between rejected ones, as `(whole lines, index of the
    first)`, read in chunks and sliced, never split into lines."""
    r = 0
    next_reject = rejects[0] if rejects else -1
    index = 0  # line number at `pos`
    rest = b""
    with open(path, "rb") as handle:
        while data := handle.read(CHUNK):
            if rest:
                data = rest + data
            end = data.rfind(b"\n") + 1  # complete lines only
            rest = data[end:]
            pos = 0
            while next_reject >= 0:
                start, first = pos, index
                while index < next_reject and (nl := data.find(b"\n", pos, end)) >= 0:
                    pos = nl + 1
                    index += 1
                if pos > start:
                    yield data[start:pos], first
                if index < next_reject or pos >= end:
                    break  # in a later chunk
                pos = data.index(b"\n", pos, end) + 1
                index += 1
                r += 1
                next_reject = rejects[r] if r < len(rejects) else -1
            if pos < end:
                yield data[pos:end], index
                index += data.count(b"\n", pos, end)
    if rest:
        yield rest + b"\n", index  # a last line without newline (never written so)


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
    """Re-read every shard of the partition from disk: its size and sha256 are the ones
    recorded, it decompresses to its end, its line count is its record_count, and its lines
    are, byte for byte and in order, the records the validated stage accepted (each of which
    was parsed and judged against the spec for the objective there). Returns counts and the
    first findings."""
    started = time.perf_counter()
    shards = report.extra["shards"]
    findings: list[dict[str, Any]] = []
    bad: set[str] = set()
    records = 0
    expected = _accepted_by_family(cfg, dirs, report.extra["files"])
    by_family: dict[str, list[dict[str, Any]]] = {}
    for shard in shards:
        by_family.setdefault(_family_of(shard["path"]), []).append(shard)
    for family in sorted(by_family):
        lines = _ExpectedBytes(expected.get(family, iter(())))
        for shard in sorted(by_family[family], key=lambda s: s["path"]):
            problems, count = _check_shard(dirs.package / shard["path"], shard, lines)
            records += count
            if problems:
                bad.add(shard["path"])
                findings.extend(
                    {"rule": rule, "file": shard["path"], "line": line, "message": message}
                    for rule, line, message in problems[:5]
                )
        if not lines.exhausted():
            findings.append(
                {
                    "rule": ACCEPTED,
                    "file": family,
                    "line": None,
                    "message": "accepted records remain after the family's last shard",
                }
            )
            bad.add(family)
    return {
        "shards": len(shards),
        "bad_shards": len(bad),
        "records": records,
        "expected_records": report.records_out,
        "findings": findings[:20],
        "passed": not bad and records == report.records_out,
        "seconds": time.perf_counter() - started,
    }


def _family_of(path: str) -> str:
    """`data/sft-train-00003.jsonl.zst` -> `sft-train`."""
    return Path(path).name.split(".", 1)[0].rsplit("-", 1)[0]


def _accepted_by_family(
    cfg: PipelineConfig, dirs: PartitionDirs, files: list[dict[str, Any]]
) -> dict[str, Iterator[bytes]]:
    """Per shard family, the accepted transformed lines (newline-terminated), in chunks."""
    families = _families(cfg, dirs, files)
    names = sorted(set(families))
    rejects = _load_rejects(dirs.file(REJECTS))
    if len(names) == 1:
        return {names[0]: _joined_blocks(_accepted_blocks(dirs.file(TRANSFORM_OUTPUT), rejects))}
    return {name: _family_lines(dirs, rejects, families, name) for name in names}


def _joined_blocks(blocks: Iterator[tuple[bytes, int]]) -> Iterator[bytes]:
    """The blocks' bytes in pieces of about CHUNK (few large pieces compare fastest)."""
    pending: list[bytes] = []
    size = 0
    for block, _ in blocks:
        pending.append(block)
        size += len(block)
        if size >= CHUNK:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def _accepted_lines(dirs: PartitionDirs, rejects: array) -> Iterator[tuple[int, int, bytes]]:
    """The work file's accepted lines (no newline) as `(index, file index, line)`."""
    file_index = ArrayReader(dirs.file(TRANSFORM_FILES), "I")
    r = 0
    next_reject = rejects[0] if rejects else -1
    index = 0
    try:
        for lines in iter_line_batches(dirs.file(TRANSFORM_OUTPUT)):
            fis = file_index.take(len(lines))
            for k, line in enumerate(lines):
                if index + k == next_reject:
                    r += 1
                    next_reject = rejects[r] if r < len(rejects) else -1
                    continue
                yield index + k, fis[k], line
            index += len(lines)
    finally:
        file_index.close()


def _family_lines(
    dirs: PartitionDirs, rejects: array, families: list[str], family: str
) -> Iterator[bytes]:
    """One family's accepted lines, newline-terminated, in pieces."""
    kept: list[bytes] = []
    for _, fi, line in _accepted_lines(dirs, rejects):
        if families[fi] == family:
            kept.append(line)
            if len(kept) >= 4096:
                kept.append(b"")
                yield b"\n".join(kept)
                kept = []
    if kept:
        kept.append(b"")
        yield b"\n".join(kept)


class _ExpectedBytes:
    """The concatenated accepted lines of a family, read by byte counts across shards."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._pos = 0

    def take(self, n: int) -> bytes:
        """The next `n` expected bytes (fewer only at the end)."""
        while len(self._buffer) - self._pos < n:
            more = next(self._chunks, b"")
            if not more:
                break
            self._buffer = self._buffer[self._pos :] + more
            self._pos = 0
        data = self._buffer[self._pos : self._pos + n]
        self._pos += len(data)
        return data

    def skip_lines(self, n: int) -> None:
        """Drop the next `n` lines (to stay in step after a shard that lacks some)."""
        while n > 0:
            nl = self._buffer.find(b"\n", self._pos)
            if nl < 0:
                more = next(self._chunks, b"")
                if not more:
                    self._buffer, self._pos = b"", 0
                    return
                self._buffer, self._pos = self._buffer[self._pos :] + more, 0
                continue
            self._pos = nl + 1
            n -= 1

    def exhausted(self) -> bool:
        if self._pos < len(self._buffer):
            return False
        self._buffer, self._pos = next(self._chunks, b""), 0
        return not self._buffer


def _check_shard(
    path: Path, shard: dict[str, Any], expected: _ExpectedBytes
) -> tuple[list[tuple[str, int | None, str]], int]:
    """Problems `(rule, line, message)` of one shard and the number of lines it holds."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        expected.skip_lines(shard["record_count"])
        return [("C13", None, "the shard is missing")], 0
    problems: list[tuple[str, int | None, str]] = []
    if size != shard["bytes"]:
        problems.append(("C17", None, f"{size} bytes on disk, {shard['bytes']} recorded"))
    digest = hashlib.sha256()
    count = 0
    taken_lines = 0
    differs_at: int | None = None
    with open(path, "rb") as handle:
        reader = _HashingFile(handle, digest)
        try:
            for chunk in _decompressed(reader, shard["compression"]):
                if differs_at is None:
                    wanted = expected.take(len(chunk))
                    taken_lines += wanted.count(b"\n")
                    if wanted != chunk:
                        differs_at = count + _first_difference_line(chunk, wanted)
                count += chunk.count(b"\n")
        except TruncatedInput as exc:
            problems.append(("C15", count + 1, f"the shard does not decompress: {exc}"))
        reader.drain()
    if taken_lines < shard["record_count"]:
        expected.skip_lines(shard["record_count"] - taken_lines)
    if digest.hexdigest() != shard["sha256"]:
        problems.append(("C17", None, "sha256 of the file differs from the one recorded"))
    if count != shard["record_count"]:
        problems.append(("C16", None, f"{count} records, {shard['record_count']} recorded"))
    if differs_at is not None:
        problems.append(
            (ACCEPTED, differs_at, "the line differs from the record the validated stage accepted")
        )
    return problems, count


def _decompressed(reader: _HashingFile, compression: str) -> Iterator[bytes]:
    """Our own shard's content in chunks. zstd is read frame after frame in large reads (the
    generic reader feeds untrusted input a few bytes at a time, to bound what one call may
    inflate; a shard's content is compared with known bytes chunk by chunk instead)."""
    if compression != "zstd":
        yield from iter_decompressed(reader, compression, CHUNK)  # type: ignore[arg-type]
        return
    stream = zstandard.ZstdDecompressor().stream_reader(
        reader, read_size=CHUNK, read_across_frames=True
    )
    try:
        while data := stream.read(CHUNK):
            yield data
    except zstandard.ZstdError as exc:
        raise TruncatedInput("zstd", 0, str(exc)) from exc


def _first_difference_line(actual: bytes, wanted: bytes) -> int:
    """1-based line (within `actual`) of the first byte where the two differ."""
    n = min(len(actual), len(wanted))
    lo = next((i for i in range(0, n, 4096) if actual[i : i + 4096] != wanted[i : i + 4096]), n)
    at = next((i for i in range(lo, min(n, lo + 4096)) if actual[i] != wanted[i]), n)
    return actual.count(b"\n", 0, at) + 1


class _HashingFile:
    """A binary file whose bytes, as they are read, also go into a hash."""

    def __init__(self, handle: BinaryIO, digest: Any) -> None:
        self._handle = handle
        self._digest = digest

    def read(self, n: int = -1) -> bytes:
        data = self._handle.read(n)
        self._digest.update(data)
        return data

    def readinto(self, buffer: memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while self.read(CHUNK):
            pass
