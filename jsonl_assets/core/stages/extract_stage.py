"""Stage 1, extracted: stream this partition's source files into raw records with traces.

Inputs that do not parse go to quarantine. A rejected input of a `split: auto` source has no
id yet, so no split: it is charged to the `train` partition only (the other partitions count
it as `charged_elsewhere`), so that every input is quarantined exactly once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any, Protocol

import orjson

from jsonl_assets.core.config import PipelineConfig, SourceConfig, SourceInput
from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.file_names import file_key
from jsonl_assets.core.gc_pause import gc_paused
from jsonl_assets.core.pending_rejections import PendingRejections
from jsonl_assets.core.quarantine import QuarantineWriter
from jsonl_assets.core.readers import READERS, ReadItem, ReadLimits, read_source
from jsonl_assets.core.readers.source_file import SourceFile
from jsonl_assets.core.readers.unwritable_values import unwritable
from jsonl_assets.core.record_settings import extract_globals, extract_source_settings
from jsonl_assets.core.source_fingerprints import SourcesSnapshot, partition_snapshot
from jsonl_assets.core.stage_report import ExtractDetails, SourceCounters, StageReport
from jsonl_assets.core.store.base import FileStat
from jsonl_assets.core.store.work_files import (
    CountingSink,
    PartitionDirs,
    fingerprint,
    read_marker,
    write_marker,
)
from jsonl_assets.core.traces import Rejection, trace_dict

STAGE = "extracted"
CODE_VERSION = "42"  # 3: exact numbers, corrupt gzip members / zstd frames; 4: typed report;
# 5: the quarantine written in the work dir (published by the shards stage); 6: CSV rows
# after a quoted field left open at the end of the file, and JSON array items after a
# damaged one, are read; 7: a file's identity is its ETag, or its ctime too; 8: Parquet rows
# after a damaged row group are read; 9: and JSON array items after a damaged one under a
# nested items_path; 10: a JSON array item with a lone surrogate escape is a parse_error,
# and a file that starts with a zstd skippable frame is zstd; 11: Parquet binary and durations
# converted at any depth, a time with nanoseconds is unsupported_value; 12: duplicate_key;
# 13: the CSV rows after a too_large one are read; 14: duplicate_key in every JSON array item;
# 15: a Parquet file's name is never a glob pattern; 16: unread files; 17: CSV read in strict
# mode (csv_bad_quote), rejected CSV rows keep their bytes; 18: CSV edges (a stray quote in a
# row too large, a header too large, undecodable bytes localised to their row); 19: the
# marker records its extraction settings (partition_gate); 20: text: UTF-16/32 undecodable
# bytes reject their chunk, a cut gzip/zstd file's cut line is corrupt_file; encoding names
# canonical; unsupported_value details name the text a double would be written as; UTF-16/32
# text without a BOM refused; a file's name is the path its glob matched (a symlinked folder
# is not resolved), its bytes shown as UTF-8 whatever the locale (file_names); Parquet maps
# checked and converted like other values (a repeated key is duplicate_key, that row only),
# durations that overflow and dates Python cannot hold are unsupported_value (that row only),
# types polars cannot read unsupported_type, timestamps with a time zone written by polars'
# bundled tz rules; a file is known by its content (sha256), not its stat: a touched or
# copied file is not read again; 21: gzip read as RFC 1952 readers read it (reserved flags,
# header CRC, zero padding only at the end), a JSON array item over the limit skipped by bytes,
# an exponent past 18 digits unsupported_value, a matched path that is no file not_a_file;
# 22: Parquet decoded by pyarrow batches for every file (result independent of batch_rows),
# invalid UTF-8 in a string is invalid_utf8 (that row only), a timestamp past polars'
# calendar no longer empties its file (that row unsupported_value), rows read checked
# against the footer; 23: a zstd frame failing its content checksum is passed (its records
# quarantined, the frames after it read), JSON array items and Parquet rows rejected as
# duplicate_key / unsupported_value / unserialisable keep a rendering as raw
# 24: a JSON array item nested past 1,024 levels is parse_error by its bytes, one holding an
# integer past 4,300 digits unsupported_value (json_guard; ijson crashed or took GBs);
# 25: a text line of U+001C..U+001F is not blank (chunk boundaries; blank_text);
# 26: a small gzip/zstd file cut inside the head a reader reads first (CSV sniffing, BOMs)
# keeps its complete records (stream_head); any invalid UTF-8 in a JSON array item is invalid_utf8
# 27: text chunks: a blank chunk (a cut line's lone newline, blank lines beside no paragraph)
# is attached to a neighbouring chunk, never a chunk of its own; 28: a JSON array item parsed
# on its own is invalid_utf8 before any other reason but too_large (JSONL's order); a surrogate
# pair a codec decoded as two code points (unicode_escape `\\ud83d\\ude00`) is joined, not lone
# 29: such pairs are joined where the CSV/text readers decode (a CSV header's duplicate check
# sees joined names; a text chunk never splits a pair); a cut text stream's blank lines before
# its cut line are attached (to the chunk before, or to the cut line's rejection)
# 30: text chunks: at most max_chars of blank text attached each side, a longer blank run's
# rest is blank chunks that are no record (memory flat); a JSON array item nested 255-1,024
# levels is a record (its rendering), unserializable later as the same JSONL line
# 31: a repeated key beside a value nested ~1,000 deep is duplicate_key (the check recursed and
# gave up); an inexact number in a line that repeats a key is named by its path, not "a number"
# 32: a line with an integer past 4,300 digits and an infinite number: its detail names the
# path (as under any int_max_str_digits), not "at byte N"
# 33: a JSON array item holding an integer of 641-4,300 digits is judged on its bytes (raw as
# read, the integer named by its path), as under any PYTHONINTMAXSTRDIGITS
# 34: a line end (JSONL `\r\n`, a CSV row's own) never counts toward max_record_bytes or a
# too_large raw_size: the same record gets the same verdict whatever the file's line ends;
# a Parquet file whose schema repeats a column or struct field name is duplicate_key, position 0
# 35: a repeated key (JSON object, Parquet map) in a duplicate_key detail cut to 80 characters
# 36: a Parquet date64 (a DATE polars read as a Datetime) written as a date; a date or naive
# timestamp past polars' calendar is unsupported_value found before conversion (no panic)
# 37: a Parquet time32/time64 outside [00:00, 24:00) (polars read it as null) unsupported_value
# 38: JSON array items of a repeated items_path key read in one pass (mismatched brackets: no
# item read twice); a CSV's quoted-field delimiter guess looks at its first 4,096 characters
# 39: text, mode document: a cut gzip/zstd file's corrupt_file raw is the bytes read, not the
# text encoded again (unicode_escape gave other bytes)
# 40: a damaged member's CSV rows, text chunks and JSON array items keep their bytes as raw
# (not the value as JSON), a reader rejection there is corrupt_file; `raw_reencoded` marks a
# raw made by encoding the text again with a codec that does not give the file's bytes back
# 41: Parquet unsupported_value details name the column (a map key
# that is not a string, nanoseconds, a duration past 64-bit microseconds); a decimal256 in a
# struct is read (each row holding one was unsupported_value); a row group the footer places
# past the end of the file is corrupt_file unread (another detail)
# 42: a Parquet footer is checked before polars reads: a row group it misplaces or miscounts
# is corrupt_file unread (the others read by pyarrow), a file num_rows other than its row
# groups' is one corrupt_file after the rows (no phantom rows), a negative value corrupt_file
MARKER = "extracted.json"


def charged_here(source: SourceConfig, split: str) -> bool:
    """Whether a rejection that happens before a record has an id belongs to this partition."""
    return source.split != "auto" or split == "train"


def extract_fingerprint(
    cfg: PipelineConfig, dirs: PartitionDirs, snapshot: SourcesSnapshot | None = None
) -> str:
    """The extraction's fingerprint: its settings and each file's config-relative name and
    content (sha256; an object's ETag), as `partition_snapshot` knows them (or `snapshot`, one
    taken of them): a file touched, copied or moved with its bytes unchanged keeps it."""
    snapshot = snapshot or partition_snapshot(cfg, dirs)
    files = []
    for source in cfg.sources_for(dirs.objective, dirs.split):
        for item in source.inputs:
            name = file_key(item.rel, item.rel_b64)
            files.append([source.name, name, snapshot.files[str(item.path)].sha256])
    sources = [extract_source_settings(s) for s in cfg.sources_for(dirs.objective, dirs.split)]
    return fingerprint(STAGE, CODE_VERSION, dirs.key, *extract_globals(cfg), sources, files)


def extract_settings(cfg: PipelineConfig, dirs: PartitionDirs) -> str:
    """The config's part of the extraction's identity (the fingerprint without the files'
    contents), recorded in the marker: whether a committed extraction was made under today's
    config can be told without stat'ing a source (core/partition_gate.py)."""
    sources = [extract_source_settings(s) for s in cfg.sources_for(dirs.objective, dirs.split)]
    return fingerprint(STAGE, CODE_VERSION, dirs.key, *extract_globals(cfg), sources)


class HashedBytes(Protocol):
    """What the extraction needs of a read file: its stored bytes' hash, size and codec, and
    on object storage its ETag (with the version id), "" elsewhere."""

    @property
    def sha256(self) -> str: ...

    @property
    def etag(self) -> str: ...

    size: int
    compression: str


class Extraction:
    """One partition's extraction in progress: reads every source file of the partition,
    writes the quarantine, and counts. `records()` hands the good records to the caller,
    which works on them in the same pass (record_stages.py)."""

    def __init__(self, cfg: PipelineConfig, dirs: PartitionDirs) -> None:
        self.cfg = cfg
        self.dirs = dirs
        dirs.work.mkdir(parents=True, exist_ok=True)
        self.counters = SourceCounters()
        self.files: list[dict[str, Any]] = []
        # The raw records are handed on, never written: `bytes_out` counts the `[file,
        # position, raw]` lines they stand for (what the transform stage reads).
        self.out = CountingSink(dirs.file("extracted.jsonl"))
        self.quarantine = QuarantineWriter(dirs.quarantine / f"{STAGE}.jsonl", STAGE)
        self.bytes_in = 0
        # Files a rejection left (partly) unread, charged here: `{"source", "file"}`.
        self.unread_files: list[dict[str, str]] = []

    def records(self, hash_first: bool = False) -> Iterator[tuple[int, int, Any, bytes, bool]]:
        """Good records, one at a time, as `(file_index, position, value, raw bytes, exact)`,
        counted in batches of 4096 as they are handed over. `exact` says
        that `value == orjson.loads(raw)` (JSONL); for other formats the value is the
        reader's, and a caller wanting what later stages see parses `raw`.

        A file's entry in `files` (with its sha256) is added once the file is read; with
        `hash_first` the file is hashed before it is read and its entry is in `files` before
        its first record is handed over (a caller that traces records needs the sha256)."""
        cfg, dirs = self.cfg, self.dirs
        limits = ReadLimits(max_record_bytes=cfg.max_record_bytes)
        for source in cfg.sources_for(dirs.objective, dirs.split):
            for item in source.inputs:
                index = len(self.files)
                source_file, items = read_input(source, item, limits, dirs)
                if hash_first:
                    source_file.hash_remaining()
                    self.files.append(file_entry(source.name, item, source_file))
                yield from self.file_records(index, source, item, source_file, items)
                if not hash_first:
                    self.files.append(file_entry(source.name, item, source_file))

    def file_records(
        self,
        index: int,
        source: SourceConfig,
        item: SourceInput,
        source_file: HashedBytes,
        items: Iterator[ReadItem],
    ) -> Iterator[tuple[int, int, Any, bytes, bool]]:
        """The good records of one file's `items` (a whole file, or a chunk of one: then
        `source_file` stands for the chunk's bytes), its rejections quarantined once read."""
        dirs = self.dirs
        here = charged_here(source, dirs.split)
        counts = self.counters[source.name]
        dumps = orjson.dumps
        kind = READERS[item.format].position_kind
        exact = item.format == "jsonl"
        # `[index,position,raw]\n`: the prefix, the comma after the position, "]\n".
        framing = len(b"[%d," % index) + 3
        rejected = PendingRejections(dirs.scratch, keep=here)
        pending = 0  # lines of the batch
        counted = 0  # their bytes, when they are not built
        good = 0
        for entry in items:
            if type(entry) is tuple:
                position, value, raw = entry
                if raw is None:
                    try:
                        raw = dumps(value)
                    except orjson.JSONEncodeError as exc:  # a lone surrogate (a codec's)
                        rejected.append(unwritable(position, kind, value, exc))
                        continue
                counted += framing + len(raw) + len(b"%d" % position)
                pending += 1
                yield index, position, value, raw, exact
                if pending >= 4096:
                    good += pending
                    self.out.bytes_written += counted
                    pending, counted = 0, 0
                    reached("extract.batch")
            else:
                rejected.append(entry)  # type: ignore[arg-type]
        good += pending
        self.out.bytes_written += counted
        reached("extract.file")
        sha = source_file.sha256
        self.bytes_in += source_file.size
        counts["items"] += good + len(rejected)
        counts["records"] += good
        if not here:
            counts["charged_elsewhere"] += len(rejected)
        elif rejected.unread:
            counts["unread_files"] += 1
            self.unread_files.append({"source": source.name, "file": item.rel})
        for rej in rejected:  # none are kept when they are charged elsewhere
            counts["quarantined"] += 1
            self.quarantine.add(
                rej.reason,
                rej.detail,
                trace_dict(source.name, item.rel, kind, rej.position, sha, item.rel_b64),
                rej.raw,
                raw_truncated=rej.raw_truncated,
                raw_size=rej.raw_size,
                extra={"raw_reencoded": rej.raw_reencoded} if rej.raw_reencoded else None,
            )
        rejected.close()

    def commit(self, stage_fp: str, started: float) -> StageReport:
        """Commit the quarantine, then the marker; return the report."""
        self.quarantine.commit()
        per_source = self.counters.as_dict()
        items = sum(c.get("items", 0) for c in per_source.values())
        elsewhere = sum(c.get("charged_elsewhere", 0) for c in per_source.values())
        report = StageReport(
            stage=STAGE,
            partition=self.dirs.key,
            records_in=items - elsewhere,
            records_out=sum(c.get("records", 0) for c in per_source.values()),
            bytes_in=self.bytes_in,
            bytes_out=self.out.bytes_written,
            seconds=time.perf_counter() - started,
            quarantine=self.quarantine.summary(),
            per_source=per_source,
            details=ExtractDetails(
                files=self.files, charged_elsewhere=elsewhere, unread_files=self.unread_files
            ),
        )
        settings = extract_settings(self.cfg, self.dirs)
        write_marker(self.dirs.file(MARKER), stage_fp, report.to_json(), settings=settings)
        return report

    def abort(self) -> None:
        self.quarantine.abort()


class _NotAFile:
    """What is known of the bytes of a matched path that is not a regular file: none were
    read (a FIFO would block, a device never end). The sha256 is that of no bytes."""

    size = 0
    compression = "none"
    etag = ""
    sha256 = hashlib.sha256(b"").hexdigest()

    def hash_remaining(self) -> None:
        pass


def read_input(
    source: SourceConfig,
    item: SourceInput,
    limits: ReadLimits,
    dirs: PartitionDirs,
    st: FileStat | None = None,
) -> tuple[SourceFile | _NotAFile, Iterator[ReadItem]]:
    """A whole file opened for the extraction (`st`: its stat, as planned) and its records
    and rejections. A path that is not a regular file (a FIFO, a device, a dangling symlink:
    `SourceInput.not_a_file`) is never opened: it is one whole-file rejection `not_a_file`
    naming what it is, an unread file (position 0), quarantined like a file whose header
    cannot be read."""
    if item.not_a_file is not None:
        lost = Rejection(position=0, reason="not_a_file", detail=item.not_a_file)
        return _NotAFile(), iter([lost])
    source_file = SourceFile(item.path, item.rel, st)
    items = read_source(source_file, item.format, source.read_options, limits, dirs.scratch)
    return source_file, items


def file_entry(source: str, item: SourceInput, source_file: HashedBytes) -> dict[str, Any]:
    """A file's entry in the stages' `files` (its sha256 must be known)."""
    entry = {
        "source": source,
        "file": item.rel,
        "kind": READERS[item.format].position_kind,
        "sha256": source_file.sha256,
        "bytes": source_file.size,
        "compression": source_file.compression,
        "format": item.format,
    }
    if item.rel_b64 is not None:
        entry["file_b64"] = item.rel_b64
    if source_file.etag:  # object storage: what the sensor's fingerprint names the bytes by
        entry["etag"] = source_file.etag
    return entry


@gc_paused()
def run_extract(cfg: PipelineConfig, dirs: PartitionDirs, *, force: bool = False) -> StageReport:
    """The extract step alone (what the pass's first step commits): the quarantine and the
    marker, nothing handed on."""
    started = time.perf_counter()
    stage_fp = extract_fingerprint(cfg, dirs)
    if not force and (cached := read_marker(dirs.file(MARKER), stage_fp)) is not None:
        return StageReport.reused_from(cached, started)
    extraction = Extraction(cfg, dirs)
    try:
        for _ in extraction.records():
            pass
        return extraction.commit(stage_fp, started)
    except BaseException:
        extraction.abort()
        raise
