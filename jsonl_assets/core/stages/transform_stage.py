"""Stage 2, transformed: adapter, deterministic id, split, trace into `metadata`.

Each extracted raw record goes through its source's adapter. Records of `split: auto` sources
whose id hashes to another split are counted as routed elsewhere (another partition writes
them); failures before a record has an id follow the extract stage's charging rule.
The lines it makes are the exact bytes the shards will hold; they are handed on in memory,
batch by batch (record_stages.py), never written to a work file.
"""

from __future__ import annotations

import dataclasses
import time
from array import array
from collections.abc import Callable, Iterable
from typing import Any, Final

import orjson

from jsonl_assets.core.adapters import ADAPTERS, build_adapter
from jsonl_assets.core.adapters.annotations import same_json
from jsonl_assets.core.adapters.base import AdapterError
from jsonl_assets.core.adapters.parts import METADATA_CONFLICT
from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.quarantine import QuarantineWriter
from jsonl_assets.core.record_ids import MissingIdError, content_id, source_id, split_for_id
from jsonl_assets.core.record_settings import (
    default_toolset_id,
    transform_globals,
    transform_source_settings,
)
from jsonl_assets.core.rules.vocabulary import RECORD_KEYS
from jsonl_assets.core.shard_families import content_type_problem
from jsonl_assets.core.stage_report import (
    SourceCounters,
    StageError,
    StageReport,
    TransformDetails,
)
from jsonl_assets.core.stages.extract_stage import charged_here
from jsonl_assets.core.store.base import read_bytes, store_for
from jsonl_assets.core.store.work_files import (
    CountingSink,
    PartitionDirs,
    fingerprint,
    write_marker,
)
from jsonl_assets.core.traces import trace_dict
from jsonl_assets.core.value_text import value_text

STAGE = "transformed"
CODE_VERSION = "20"  # 3: typed report; 4: a record's own metadata kept, lines capped as
# written; 5: the chat adapter keeps OpenAI part keys in annotations.part_extras; 6: every
# chat message field kept, call ids never repeat a source id, one split per input,
# metadata_fields conflicts and tool keys beyond the spec's kept (adapter:*_conflict); 7: one
# split per input only with id_field (a content id decides its own split); 8: tool-call keys,
# `functions` beside `tools` and a tool message's text parts kept; 9: whitespace-only optional
# text kept, a prompt repeat stripped only when equal as JSON, alpaca instances beside an
# output/input refused and instance keys kept, `mapping` keeps the record's metadata;
# adapter:unsupported_value details name the text a double would be written as; 10: hh_rlhf
# turns verbatim (only the marker and its separator space removed), U+001C..U+001F are not
# whitespace (text empty_text, qa_reference stripping), arguments/tools strings of non-JSON
# whitespace are JSON errors, not {} / []; 11: a `#` in an alpaca source's id value doubled
# (an instance id `t#1` never equals a plain id `t#1`); 12: chat/sharegpt keys holding [] or
# {} kept in annotations (null as absent everywhere, parts included), an input_audio format its
# media type does not name kept, an explicit empty text part beside tool calls kept, a tool
# message's null content {"content": null} and [] {"content": []}; an id_field segment of
# non-ASCII digits (`٣`) is an object key only, never an array index (field_paths); 13: chat
# "content": "" beside tool calls writes no text part when a refusal follows it either; 14: a
# `metadata_fields` field a made record holds as a key the spec record lacks (native) is moved
# into metadata, not copied; 15: a record's line as written is measured without its newline
# (as `verify` measures it); 16: record values in quarantine details as bounded JSON
# (value_text: an id nested 1,000 deep is missing_id, not a crash), a metadata_fields conflict
# with an alpaca instance key names the instance; 17: a content_type_name detail shows the
# value as bounded JSON (value_text) and a non-string's JSON type ("an integer"); 18: a
# chat/sharegpt record calling tools but declaring none inherits `defaults.toolset_id` when
# set (no toolset derived from its calls; the validator judges them, E2); 19:
# prompt_response refuses a pair beside another pair key (conflicting_fields) and appends an
# alpaca `input`; preference_pairs compares messages as written (a null key is as absent);
# `mapping` optional paths absent, null or "" write no message, a null required one is
# missing_field; 20: 0.0 and -0.0 are different values (same_json), a numeric answer beyond a
# double is adapter:unsupported_value (was not_numeric), an input an adapter did not foresee
# is adapter:failed, a blank tool name (called or declared) is adapter:wrong_type
MARKER = "transformed.json"
CT: Final = "content_type"
# A record's own content type that cannot name its shard (output.shard_by: content_type).
CONTENT_TYPE_NAME: Final = "content_type_name"

# What an adapter raises on an input it did not foresee: that input is quarantined as
# `adapter:failed` (a TypeError as before, `unserializable`: orjson.JSONEncodeError is
# TypeError itself), and the build goes on. Not RecursionError, whose depth depends on the
# caller's stack (so on the executor), nor MemoryError, whose limit is the machine's: both
# stop the build, never a differing package.
_UNFORESEEN: Final = (ValueError, TypeError, ArithmeticError, LookupError, AttributeError)
FAILED: Final = "adapter:failed"


class _FileContext:
    """Everything the hot loop needs about one source file, looked up once."""

    __slots__ = (
        "adapt",
        "base_meta",
        "charged",
        "counts",
        "file_b64",
        "id_field",
        "kept_fields",
        "kind",
        "moved_fields",
        "name",
        "split",
        "suffixed",
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
        self.suffixed = ADAPTERS[source.adapter].id_suffixes
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
        self.kept_fields = source.metadata_fields
        spec_keys = RECORD_KEYS[source.objective]
        self.moved_fields = tuple(k for k in self.kept_fields if k not in spec_keys)

    def move_kept_fields(self, adapted: list[Any], raw: Any) -> list[Any]:
        """`adapted` without the `metadata_fields` fields of `raw` that a made record holds as
        keys the spec record does not have (`native` keeps every top-level key): they go to
        its `metadata` only (`metadata()`), where at top level they would be unknown keys
        (D6) and the option could never keep them."""
        if type(raw) is not dict:
            return adapted
        moved = [k for k in self.moved_fields if k in raw]
        return [
            dataclasses.replace(a, record={k: v for k, v in a.record.items() if k not in moved})
            if any(k in a.record for k in moved)
            else a
            for a in adapted
        ]

    def metadata(self, made: Any, raw: Any, position: int) -> dict[str, Any]:
        """A made record's `metadata`: what the record itself says (the adapter's metadata,
        then `metadata_fields`), the source's `metadata`, `license` and `content_type` where
        it says nothing, and the trace; a trace the record held already is kept in it as
        `upstream`. No value the record brought is replaced (`check_kept_fields` ran)."""
        meta = dict(made.metadata) if made.metadata else {}
        if self.kept_fields and type(raw) is dict:
            for k in self.kept_fields:
                if k in raw and k not in meta:  # else equal to it (`check_kept_fields`)
                    meta[k] = raw[k]
        if meta:
            for k, v in self.base_meta.items():
                if k not in meta:
                    meta[k] = v
        else:
            meta.update(self.base_meta)
        trace = self.trace(position)
        if "trace" in meta:
            trace["upstream"] = meta["trace"]
        meta["trace"] = trace
        return meta

    def check_kept_fields(self, adapted: list[Any], raw: Any) -> None:
        """`adapter:metadata_conflict` when a `metadata_fields` field of `raw` and the same
        key of a made record's metadata hold different values (one would be lost); an equal
        value is fine. The detail names where that key came from: the record's own
        `metadata`, or the part of the record the adapter took it from (`Adapted.metadata_from`,
        an alpaca instance), and says when the input made several records: all go with it."""
        if type(raw) is not dict:
            return
        for made in adapted:
            own = made.metadata
            if not own:
                continue
            for k in self.kept_fields:
                if k in raw and k in own and not same_json(own[k], raw[k]):
                    raise AdapterError(METADATA_CONFLICT, _kept_conflict(k, raw, made, adapted))

    def trace(self, position: int) -> dict[str, Any]:
        name, file, sha = self.trace_base
        if self.file_b64 is not None:
            return trace_dict(name, file, self.kind, position, sha, self.file_b64)
        return {"source": name, "file": file, self.kind: position, "sha256": sha}


def _kept_conflict(key: str, raw: dict[str, Any], made: Any, adapted: list[Any]) -> str:
    """The detail of a `metadata_fields` conflict on `key` (`check_kept_fields`)."""
    record_meta = raw.get("metadata")
    if made.metadata_from and not (type(record_meta) is dict and key in record_meta):
        where = f"{made.metadata_from}.{key} (a key the adapter moves into metadata)"
    else:
        where = f"its own metadata.{key}"
    whole = (
        f"; the whole input record is refused, with all {len(adapted)} records it makes"
        if len(adapted) > 1
        else ""
    )
    return (
        f"metadata_fields: the record's field {value_text(key)} and {where} hold different "
        f"values; one of them would be lost{whole}"
    )


def transform_fingerprint(cfg: PipelineConfig, dirs: PartitionDirs, upstream_fp: str) -> str:
    sources = [transform_source_settings(s) for s in cfg.sources_for(dirs.objective, dirs.split)]
    return fingerprint(
        STAGE,
        CODE_VERSION,
        dirs.key,
        upstream_fp,
        sources,
        *cfg.routing_ratios(dirs.objective, dirs.split),
        *transform_globals(cfg),
    )


def upstream_marker(dirs: PartitionDirs, name: str) -> tuple[str, dict[str, Any]]:
    """The fingerprint and report of a finished upstream stage, or a StageError."""
    try:
        marker = orjson.loads(read_bytes(dirs.file(name)))
    except FileNotFoundError as exc:
        raise StageError(
            f"{dirs.key}: upstream stage output {name} is missing; materialize it first"
        ) from exc
    except orjson.JSONDecodeError:
        marker = None
    if (
        type(marker) is not dict
        or type(marker.get("fingerprint")) is not str
        or type(marker.get("report")) is not dict
    ):
        raise StageError(f"{dirs.key}: upstream stage output {name} is damaged; build it again")
    return marker["fingerprint"], marker["report"]


class Transformer:
    """One partition's transformation in progress: adapters, ids, splits and the quarantine.
    `add_batch` takes raw records; the spec records it made wait in `lines`, `file_index`
    until `flush()` hands them over (the caller keeps the lists) and starts new ones."""

    def __init__(
        self,
        cfg: PipelineConfig,
        dirs: PartitionDirs,
        files: list[dict[str, Any]],
    ) -> None:
        self.cfg = cfg
        self.dirs = dirs
        self.adapters = {
            s.name: build_adapter(s.adapter, s.adapter_options, default_toolset_id(cfg))
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
        # Counts the bytes of the lines made (`bytes_out`); they are never written here.
        self.out = CountingSink(dirs.file("transformed.jsonl"))
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
        entries: Iterable[tuple[int, int, Any, bytes]],
        judge: Callable[[dict[str, Any], bytes, int], None] | None = None,
    ) -> None:
        """Entries `(file index, position, raw value, raw bytes)`; the raw bytes go to
        quarantine. `judge(record, line, file index)`, if given, sees each spec record made, right away
        (while it is still in the CPU's caches)."""
        contexts, toolsets, quarantine = self.contexts, self.toolsets, self.quarantine
        target_split = self.dirs.split
        vr, tr = self.ratios
        dumps = orjson.dumps
        newline = orjson.OPT_APPEND_NEWLINE
        lines, file_index = self.lines, self.file_index
        max_bytes = self.cfg.max_record_bytes
        by_type = self.cfg.output.shard_by == "content_type"  # it names the record's shard
        for fi, position, raw, raw_bytes in entries:
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
                if ctx.moved_fields:
                    adapted = ctx.move_kept_fields(adapted, raw)
                ids = [
                    source_id(ctx.name, raw, ctx.id_field, a.id_suffix, suffixed=ctx.suffixed)
                    if ctx.id_field
                    else content_id(a.record)
                    for a in adapted
                ]
                if ctx.kept_fields:
                    ctx.check_kept_fields(adapted, raw)
            except (AdapterError, MissingIdError, *_UNFORESEEN) as exc:
                if not ctx.charged:
                    counts["charged_elsewhere"] += 1
                    continue
                reason, detail = _rejection(exc)
                counts["rejected_inputs"] += 1
                counts["quarantined"] += 1
                quarantine.add(reason, detail, ctx.trace(position), raw_bytes)
                continue
            counts["made"] += len(adapted)
            for a, record_id, split in zip(adapted, ids, _splits(ctx, ids, vr, tr), strict=True):
                if split != target_split:
                    counts["routed_elsewhere"] += 1
                    continue
                record = {"id": record_id, **a.record, "metadata": ctx.metadata(a, raw, position)}
                if a.toolset is not None and a.toolset["id"] not in toolsets:
                    toolsets[a.toolset["id"]] = a.toolset
                    if self.on_new_toolset is not None:
                        self.on_new_toolset(a.toolset)
                try:
                    # An exact-size copy: orjson's bytes keep its whole write buffer (about
                    # 8 KiB for a 1 KiB record), and a batch of lines is held until flushed.
                    out = bytes(memoryview(dumps(record, option=newline)))
                except orjson.JSONEncodeError as exc:
                    counts["quarantined"] += 1
                    quarantine.add(*_rejection(exc), record["metadata"]["trace"], raw_bytes)
                    continue
                if by_type and (problem := content_type_problem(record["metadata"].get(CT))):
                    counts["quarantined"] += 1
                    quarantine.add(
                        CONTENT_TYPE_NAME, problem, record["metadata"]["trace"], raw_bytes
                    )
                    continue
                if len(out) - 1 > max_bytes:  # its newline is no record byte
                    counts["quarantined"] += 1
                    quarantine.add(
                        "too_large",
                        f"the record is {len(out) - 1} bytes as written (with its id, trace and "
                        f"JSON escapes), over the limit of {max_bytes} bytes (max_record_bytes)",
                        record["metadata"]["trace"],
                        raw_bytes,
                    )
                    continue
                lines.append(out)
                if judge is not None:
                    judge(record, out, fi)
                file_index.append(fi)
                counts["out"] += 1

    def flush(self) -> None:
        """Hand over the waiting spec records (the caller took `lines`, `file_index`) and
        start a new batch."""
        self.out.write_many(self.lines)
        self.lines, self.file_index = [], array("I")
        reached("transform.batch")

    def commit(self, stage_fp: str, started: float) -> StageReport:
        """Commit the quarantine, then the marker; return the report."""
        self.out.commit()
        self.quarantine.commit()
        report = self.report(started)
        write_marker(self.dirs.file(MARKER), stage_fp, report.to_json())
        return report

    def commit_refused(self) -> None:
        """The pass the parse check stopped: its quarantine only, no marker. Every input it
        rejected (a record `too_large` as written counts toward that check) is on disk, in
        the file the failure names. The stage's earlier marker is removed first: its outputs
        are no longer the ones on disk (a config changed back must run the stage again)."""
        self.out.abort()
        store_for(self.dirs.file(MARKER)).remove(self.dirs.file(MARKER))
        self.quarantine.commit()

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
            details=TransformDetails(
                toolsets=[toolsets[k] for k in sorted(toolsets)],
                routed_elsewhere=total("routed_elsewhere"),
                charged_elsewhere=total("charged_elsewhere"),
                expanded=total("made")
                - (total("in") - total("charged_elsewhere") - total("rejected_inputs")),
                files=self.files,
            ),
        )

    def abort(self) -> None:
        self.quarantine.abort()


def _splits(ctx: _FileContext, ids: list[str], vr: float, tr: float) -> list[str]:
    """The split of each record one input made. With `id_field` the ids come from the input's
    own id, so its records (an alpaca task's instances) share their first record's split; a
    content id is the record itself, so it alone decides: the same record always lands in
    one split, whichever input made it, and the partition's dedup catches a repeat."""
    if ctx.split != "auto":
        return [ctx.split] * len(ids)
    if ctx.id_field:
        return [split_for_id(ids[0], vr, tr)] * len(ids)
    return [split_for_id(i, vr, tr) for i in ids]


def _rejection(exc: Exception) -> tuple[str, str]:
    """Reason code and detail of an input the adapter or the id could not handle."""
    if isinstance(exc, AdapterError):
        return exc.reason, str(exc)
    if isinstance(exc, MissingIdError):
        return "missing_id", str(exc)
    if not isinstance(exc, TypeError):  # orjson.JSONEncodeError is TypeError
        return FAILED, (
            f"the adapter failed on this input ({type(exc).__name__}: {value_text(str(exc))}); "
            "the input is kept here, the rest of the source is built"
        )
    if "64-bit" in str(exc):
        # A backstop: an adapter refuses a number it would write altered itself (parts.py
        # `embedded_json`, qa_reference `parse_number`, as adapter:unsupported_value). One it
        # made anyway is the adapter's doing too, so it counts toward the adapter rate.
        return "adapter:unsupported_value", (
            "the adapter made an integer beyond 64 bits (e.g. a numeric answer): it cannot be "
            "written exactly, and is never written altered"
        )
    # orjson parses 1024 levels of nesting but writes only 254: such a record cannot be
    # hashed into an id nor written to a shard.
    return "unserializable", (
        f"the record cannot be serialised as JSON: {exc} (orjson reads up to 1024 levels of "
        "nesting but writes at most 254)"
    )
