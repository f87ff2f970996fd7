"""Stage 2, transformed: adapter, deterministic id, split, trace into `metadata`.

Each extracted raw record goes through its source's adapter. Records of `split: auto` sources
whose id hashes to another split are counted as routed elsewhere (another partition writes
them); failures before a record has an id follow the extract stage's charging rule.
The output lines are the exact bytes the shards will hold.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from jsonl_assets.core.adapters import build_adapter
from jsonl_assets.core.adapters.base import AdapterError
from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.gc_pause import gc_paused
from jsonl_assets.core.quarantine import QuarantineWriter
from jsonl_assets.core.record_ids import MissingIdError, content_id, source_id, split_for_id
from jsonl_assets.core.stage_report import SourceCounters, StageError, StageReport
from jsonl_assets.core.stages.extract_stage import MARKER as EXTRACT_MARKER
from jsonl_assets.core.stages.extract_stage import OUTPUT as EXTRACT_OUTPUT
from jsonl_assets.core.stages.extract_stage import charged_here
from jsonl_assets.core.stages.extract_stage import ensure_output as ensure_extracted
from jsonl_assets.core.store.work_files import (
    CountingSink,
    PartitionDirs,
    WorkFileWriter,
    fingerprint,
    iter_line_batches,
    read_marker,
    write_marker,
)
from jsonl_assets.core.traces import trace_dict

STAGE = "transformed"
CODE_VERSION = "2"
OUTPUT = "transformed.jsonl"
FILES = "transformed.files"
MARKER = "transformed.json"


class _FileContext:
    """Everything the hot loop needs about one source file, looked up once."""

    __slots__ = (
        "adapt",
        "base_meta",
        "charged",
        "counts",
        "file_b64",
        "id_field",
        "kind",
        "name",
        "split",
        "trace_base",
    )

    def __init__(
        self,
        cfg: PipelineConfig,
        split: str,
        file_entry: dict[str, Any],
        adapters: dict[str, Any],
        counters: SourceCounters,
    ) -> None:
        source = next(s for s in cfg.sources if s.name == file_entry["source"])
        self.name = source.name
        self.counts = counters[source.name]
        self.adapt = adapters[source.name]
        self.id_field = source.id_field
        self.split = source.split
        self.charged = charged_here(source, split)
        self.kind = file_entry["kind"]
        self.trace_base = (source.name, file_entry["file"], file_entry["sha256"])
        self.file_b64: str | None = file_entry.get("file_b64")
        meta: dict[str, Any] = dict(source.metadata)
        if source.license:
            meta["license"] = source.license
        if source.content_type:
            meta["content_type"] = source.content_type
        self.base_meta = meta

    def trace(self, position: int) -> dict[str, Any]:
        name, file, sha = self.trace_base
        if self.file_b64 is not None:
            return trace_dict(name, file, self.kind, position, sha, self.file_b64)
        return {"source": name, "file": file, self.kind: position, "sha256": sha}


def transform_fingerprint(cfg: PipelineConfig, dirs: PartitionDirs, upstream_fp: str) -> str:
    sources = [
        {
            "name": s.name,
            "adapter": s.adapter,
            "options": dict(s.adapter_options),
            "split": s.split,
            "id_field": s.id_field,
            "content_type": s.content_type,
            "license": s.license,
            "metadata": dict(s.metadata),
        }
        for s in cfg.sources_for(dirs.objective, dirs.split)
    ]
    return fingerprint(
        STAGE, CODE_VERSION, dirs.key, upstream_fp, sources, cfg.validation_ratio, cfg.test_ratio
    )


def upstream_marker(dirs: PartitionDirs, name: str) -> tuple[str, dict[str, Any]]:
    """The fingerprint and report of a finished upstream stage, or a StageError."""
    try:
        marker = orjson.loads(dirs.file(name).read_bytes())
    except FileNotFoundError as exc:
        raise StageError(
            f"{dirs.key}: upstream stage output {name} is missing; materialize it first"
        ) from exc
    return marker["fingerprint"], marker["report"]


class Transformer:
    """One partition's transformation in progress: adapters, ids, splits, the work files and
    the quarantine. `add_batch` takes raw records; the spec records it made wait in `lines`,
    `file_index` until `flush()` writes them."""

    def __init__(
        self,
        cfg: PipelineConfig,
        dirs: PartitionDirs,
        files: list[dict[str, Any]],
        write_output: bool = True,
    ) -> None:
        self.cfg = cfg
        self.dirs = dirs
        self.adapters = {
            s.name: build_adapter(s.adapter, s.adapter_options)
            for s in cfg.sources_for(dirs.objective, dirs.split)
        }
        self.counters = SourceCounters()
        self.contexts: list[_FileContext] = []
        self.files: list[dict[str, Any]] = []
        for entry in files:
            self.add_file(entry)
        self.toolsets: dict[str, Any] = {}
        # Called with each toolset an adapter derives, the first time it appears.
        self.on_new_toolset: Callable[[dict[str, Any]], None] | None = None
        # Without `write_output` (the one-pass build, which shards the records itself) the
        # lines are only counted; `ensure_output` writes the files if a stage asks for them.
        self.out: WorkFileWriter | CountingSink
        self.index_out: WorkFileWriter | CountingSink
        if write_output:
            self.out = WorkFileWriter(dirs.file(OUTPUT), background=True)  # the largest file
            self.index_out = WorkFileWriter(dirs.file(FILES))
        else:
            self.out, self.index_out = (
                CountingSink(dirs.file(OUTPUT)),
                CountingSink(dirs.file(FILES)),
            )
        self.quarantine = QuarantineWriter(dirs.quarantine / f"{STAGE}.jsonl", STAGE)
        self.ratios = (cfg.validation_ratio, cfg.test_ratio)
        self.lines: list[bytes] = []
        self.file_index = array("I")
        self.bytes_in = 0

    def add_file(self, entry: dict[str, Any]) -> None:
        """The next source file (an entry of the extracted stage's `files`)."""
        self.files.append(entry)
        self.contexts.append(
            _FileContext(self.cfg, self.dirs.split, entry, self.adapters, self.counters)
        )

    def add_batch(
        self,
        entries: Iterable[tuple[int, int, Any, bytes | None, bytes]],
        judge: Callable[[dict[str, Any], bytes, int], None] | None = None,
    ) -> None:
        """Entries `(file index, position, raw value, raw bytes or None, extracted line)`;
        the raw bytes (or, when None, their slice of the extracted line) go to quarantine.
        `judge(record, line, file index)`, if given, sees each spec record made, right away
        (while it is still in the CPU's caches)."""
        contexts, toolsets, quarantine = self.contexts, self.toolsets, self.quarantine
        target_split = self.dirs.split
        vr, tr = self.ratios
        dumps = orjson.dumps
        newline = orjson.OPT_APPEND_NEWLINE
        lines, file_index = self.lines, self.file_index
        for fi, position, raw, raw_bytes, line in entries:
            ctx = contexts[fi]
            counts = ctx.counts
            counts["in"] += 1
            try:
                adapted = ctx.adapt(raw)
                if type(adapted) is not list:
                    adapted = list(adapted)
                if not adapted:
                    raise AdapterError(
                        "adapter:no_records", "the adapter produced no record from this input"
                    )
                ids = [
                    source_id(ctx.name, raw, ctx.id_field, a.id_suffix)
                    if ctx.id_field
                    else content_id(a.record)
                    for a in adapted
                ]
            except (AdapterError, MissingIdError, orjson.JSONEncodeError) as exc:
                if not ctx.charged:
                    counts["charged_elsewhere"] += 1
                    continue
                reason, detail = _rejection(exc)
                counts["rejected_inputs"] += 1
                counts["quarantined"] += 1
                quarantine.add(reason, detail, ctx.trace(position), raw_bytes or _raw_slice(line))
                continue
            counts["made"] += len(adapted)
            for a, record_id in zip(adapted, ids, strict=True):
                split = ctx.split if ctx.split != "auto" else split_for_id(record_id, vr, tr)
                if split != target_split:
                    counts["routed_elsewhere"] += 1
                    continue
                meta = dict(a.metadata) if a.metadata else {}
                meta.update(ctx.base_meta)
                meta["trace"] = ctx.trace(position)
                record = {"id": record_id, **a.record, "metadata": meta}
                if a.toolset is not None and a.toolset["id"] not in toolsets:
                    toolsets[a.toolset["id"]] = a.toolset
                    if self.on_new_toolset is not None:
                        self.on_new_toolset(a.toolset)
                try:
                    out = dumps(record, option=newline)
                except orjson.JSONEncodeError as exc:
                    counts["quarantined"] += 1
                    quarantine.add(*_rejection(exc), meta["trace"], raw_bytes or _raw_slice(line))
                    continue
                lines.append(out)
                if judge is not None:
                    judge(record, out, fi)
                file_index.append(fi)
                counts["out"] += 1

    def flush(self) -> None:
        """Write the waiting spec records and start a new batch."""
        self._write()
        reached("transform.batch")

    def _write(self) -> None:
        self.out.write_many(self.lines)
        self.index_out.write(self.file_index.tobytes())
        self.lines, self.file_index = [], array("I")

    def commit(self, stage_fp: str, started: float) -> StageReport:
        """Commit the work files and the quarantine, then the marker; return the report."""
        self._write()
        self.out.commit()
        self.index_out.commit()
        self.quarantine.commit()
        report = self.report(started)
        write_marker(self.dirs.file(MARKER), stage_fp, report.to_json())
        return report

    def report(self, started: float) -> StageReport:
        """The stage's report so far (what `commit` records once everything is written)."""
        per_source = self.counters.as_dict()

        def total(key: str) -> int:
            return sum(c.get(key, 0) for c in per_source.values())

        toolsets = self.toolsets
        return StageReport(
            stage=STAGE,
            partition=self.dirs.key,
            records_in=total("in") - total("charged_elsewhere"),
            records_out=total("out"),
            bytes_in=self.bytes_in,
            bytes_out=self.out.bytes_written,
            seconds=time.perf_counter() - started,
            quarantine=self.quarantine.summary(),
            per_source=per_source,
            extra={
                "toolsets": [toolsets[k] for k in sorted(toolsets)],
                "routed_elsewhere": total("routed_elsewhere"),
                "charged_elsewhere": total("charged_elsewhere"),
                "expanded": total("made")
                - (total("in") - total("charged_elsewhere") - total("rejected_inputs")),
                "files": self.files,
            },
        )

    def abort(self) -> None:
        self.out.abort()
        self.index_out.abort()
        self.quarantine.abort()


def ensure_output(cfg: PipelineConfig, dirs: PartitionDirs) -> None:
    """Write `transformed.jsonl` and `transformed.files` if the one-pass build left them out
    (a later stage runs on its own): the stage runs again, which gives the same bytes,
    quarantine and marker."""
    if not (dirs.file(OUTPUT).exists() and dirs.file(FILES).exists()):
        run_transform(cfg, dirs, force=True)


def _extracted_entries(lines: list[bytes]) -> Iterator[tuple[int, int, Any, None, bytes]]:
    loads = orjson.loads
    for line in lines:
        try:
            fi, position, raw = loads(line)
        except orjson.JSONDecodeError:  # raw is at orjson's depth limit, see _split_deep
            fi, position, raw = _split_deep(line)
        yield fi, position, raw, None, line


@gc_paused()
def run_transform(cfg: PipelineConfig, dirs: PartitionDirs, *, force: bool = False) -> StageReport:
    started = time.perf_counter()
    upstream_fp, extract_report = upstream_marker(dirs, EXTRACT_MARKER)
    stage_fp = transform_fingerprint(cfg, dirs, upstream_fp)
    if not force and (cached := read_marker(dirs.file(MARKER), stage_fp)) is not None:
        return StageReport.reused_from(cached, started)
    if not dirs.file(EXTRACT_OUTPUT).exists():
        ensure_extracted(cfg, dirs)  # left out by a one-pass build
        upstream_fp, extract_report = upstream_marker(dirs, EXTRACT_MARKER)
        stage_fp = transform_fingerprint(cfg, dirs, upstream_fp)
    transformer = Transformer(cfg, dirs, extract_report["extra"]["files"])
    try:
        for lines in iter_line_batches(dirs.file(EXTRACT_OUTPUT)):
            transformer.bytes_in += sum(map(len, lines)) + len(lines)
            transformer.add_batch(_extracted_entries(lines))
            transformer.flush()
        return transformer.commit(stage_fp, started)
    except BaseException:
        transformer.abort()
        raise


def _rejection(exc: Exception) -> tuple[str, str]:
    """Reason code and detail of an input the adapter or the id could not handle."""
    if isinstance(exc, AdapterError):
        return exc.reason, str(exc)
    if isinstance(exc, MissingIdError):
        return "missing_id", str(exc)
    if "64-bit" in str(exc):
        # An adapter can make a number the reader never saw (qa_reference's numeric answer):
        # it is quarantined as the readers quarantine one, never written altered.
        return "unsupported_value", (
            "the adapter made an integer beyond 64 bits (e.g. a numeric answer): it cannot be "
            "written exactly, and is never written altered"
        )
    # orjson parses 1024 levels of nesting but writes only 254: such a record cannot be
    # hashed into an id nor written to a shard.
    return "unserializable", (
        f"the record cannot be serialised as JSON: {exc} (orjson reads up to 1024 levels of "
        "nesting but writes at most 254)"
    )


def _split_deep(line: bytes) -> tuple[int, int, Any]:
    """Parse an extracted line `[file,position,raw]` whose raw record is nested so deep that
    the wrapping array passes orjson's depth limit: the parts one by one."""
    first = line.index(b",")
    second = line.index(b",", first + 1)
    return int(line[1:first]), int(line[first + 1 : second]), orjson.loads(line[second + 1 : -1])


def _raw_slice(line: bytes) -> bytes:
    """The raw record inside an extracted line `[file,position,raw]`, byte for byte."""
    first = line.index(b",")
    second = line.index(b",", first + 1)
    return line[second + 1 : -1]
