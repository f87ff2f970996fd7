"""Stage 3, validated: every record rule of the spec for the objective, and duplicate ids.

The stage hands off verdicts, not records: per batch the indices of rejected lines (to the
staged shards, in memory) and at the end the digests of the accepted ids
(`validated.ids.arrow`, for the package's leakage check).
A rejected record goes to quarantine with `schema:<rule>` (the checklist rule it broke),
`quality:<rule>` (valid but useless: the quality policy, quality_policy.py) or `duplicate_id`
and the trace of the record that was kept; its `raw` is the spec record as the shard would
have held it (not the input: its trace names the input's file and position). Records that
are written are counted per spec warning (W rule) they raise and per quality rule set to
`warn`: `judge` notes an accepted record's warnings, and `finish_batch` counts them once the
batch's duplicate ids are known (a record quarantined for any reason is not counted).
"""

from __future__ import annotations

import hashlib
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.chunks.id_buckets import write_ids
from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.dedup import SeenIds
from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.line_batch import LineBatch
from jsonl_assets.core.quarantine import EXAMPLES_PER_REASON, QuarantineWriter
from jsonl_assets.core.record_settings import validate_globals, validate_source_settings
from jsonl_assets.core.rules import ERROR, Problem, RecordContext, record_errors, record_problems
from jsonl_assets.core.rules.quality_policy import KEEP, QUARANTINE, SourceQuality, source_quality
from jsonl_assets.core.rules.quality_rules import quality_findings
from jsonl_assets.core.rules.schemas import SchemaIndex
from jsonl_assets.core.stage_report import SourceCounters, StageReport, ValidateDetails
from jsonl_assets.core.store.base import store_for
from jsonl_assets.core.store.work_files import PartitionDirs, fingerprint, write_marker

STAGE = "validated"
CODE_VERSION = "10"  # 4: typed report; 5: U+001C..U+001F are not blank (blank_text); 6: an
# array or object in a rule message as bounded JSON (rules.vocabulary.short: never recurses);
# 7: a duplicate_id detail cuts its id at 80 characters (it held the whole id); 8: E9 judged
# (the tools' input_schemas), a call through a not-yet-derived default toolset is unresolved;
# 9: an empty candidate is a D4 warning, rejected as quality:empty_candidate; 10: warnings
# (quality_warned, its examples, spec_warnings) counted of written records only
IDS = "validated.ids.arrow"
MARKER = "validated.json"
_POSITION_BITS = 40
POSITION_MASK = (1 << _POSITION_BITS) - 1
# A batch's verdicts: quarantine entries (line index, reason, detail, trace, raw, extra), the
# accepted records' id digests, positions ((file << 40) | position) and indices in the batch,
# and the accepted records that raised warnings (index in the batch, reasons).
Entry = tuple[int, str, str, dict[str, Any], bytes, dict[str, Any]]
Warned = tuple[int, list[str]]
Verdicts = tuple[list[Entry], list[bytes], list[int], list[int], list[Warned]]
SPEC_WARNING: Final = "quality:spec_warning:"


def record_context(cfg: PipelineConfig, toolsets: list[dict[str, Any]]) -> RecordContext:
    """The toolsets a record may reference: the config's plus those the adapters derived,
    with their tools' input_schemas (E9), as verify reads them from metadata.json."""
    names: dict[str, frozenset[str]] = {}
    schemas: dict[str, dict[str, dict[str, Any]]] = {}
    for toolset in [*cfg.toolsets, *toolsets]:
        add_toolset(names, schemas, toolset)
    default = (cfg.defaults or {}).get("toolset_id")
    # The index wraps `schemas`, which add_toolset fills as toolsets are derived.
    return RecordContext(
        toolsets=names, default_toolset_id=default, tool_schemas=SchemaIndex(schemas)
    )


def add_toolset(
    names: dict[str, frozenset[str]],
    schemas: dict[str, dict[str, dict[str, Any]]],
    toolset: dict[str, Any],
) -> None:
    """Toolset `toolset` (the first of its id counts) into tool names and input_schemas by id,
    read as verify's toolset check reads them (an input_schema that is an object)."""
    toolset_id = toolset["id"]
    if toolset_id in names:
        return
    tools = toolset["tools"]
    names[toolset_id] = frozenset(tool["name"] for tool in tools)
    found = {t["name"]: t["input_schema"] for t in tools if type(t.get("input_schema")) is dict}
    if found:
        schemas[toolset_id] = found


def validate_fingerprint(cfg: PipelineConfig, dirs: PartitionDirs, upstream_fp: str) -> str:
    sources = cfg.sources_for(dirs.objective, dirs.split)
    quality = {s.name: validate_source_settings(s) for s in sources}
    return fingerprint(STAGE, CODE_VERSION, dirs.key, upstream_fp, *validate_globals(cfg), quality)


class Validator:
    """One partition's validation in progress: spec rules, the id set, the rejects and the
    quarantine. Records come in order, in batches: `judge` each, then `finish_batch`;
    `commit()` writes the rest. Toolsets found later (`add_toolsets`) count for the records
    after."""

    def __init__(
        self,
        cfg: PipelineConfig,
        dirs: PartitionDirs,
        files: list[dict[str, Any]],
        toolsets: list[dict[str, Any]],
        terminated: bool = False,
    ) -> None:
        self.dirs = dirs
        self._quality_of = {s.name: source_quality(s.quality, dirs.objective) for s in cfg.sources}
        self._default_quality = source_quality(cfg.quality, dirs.objective)
        self.quality: list[SourceQuality] = []  # per file, its source's policy
        # Lines handed over with their newline: cut it from the bytes quarantine keeps.
        self._cut = -1 if terminated else None
        self.files: list[dict[str, Any]] = []
        self.kinds: list[str] = []
        self.in_per_file: list[int] = []
        for entry in files:
            self.add_file(entry)
        self.ctx = record_context(cfg, toolsets)
        # Toolset ids that rejected records named while no such toolset was known yet.
        self.unresolved: set[str] = set()
        self.counters = SourceCounters()
        self.rule_counts: Counter[str] = Counter()
        self.quality_rejected: Counter[str] = Counter()
        self.quality_warned: Counter[str] = Counter()
        self.warned_examples: dict[str, list[dict[str, Any]]] = {}
        self.spec_warnings: Counter[str] = Counter()
        # The merge's: the partition's distinct ids and the dedup's memory (id_buckets.py).
        self.ids: list[Path] = []
        self.id_set_bytes = 0
        self._duplicates: list[tuple[int, int]] = []
        self.quarantine = QuarantineWriter(dirs.quarantine / f"{STAGE}.jsonl", STAGE)
        self.index = 0
        self.bytes_in = 0
        self.duplicates = 0
        # Called with each accepted record and its line index (a chunk measures them).
        self.on_accept: Callable[[dict[str, Any], int], None] | None = None
        self._start_batch()

    def add_file(self, entry: dict[str, Any]) -> None:
        """The next source file (an entry of the extracted stage's `files`)."""
        self.files.append(entry)
        self.kinds.append(entry["kind"])
        self.quality.append(self._quality_of.get(entry["source"], self._default_quality))
        self.in_per_file.append(0)

    def add_toolsets(self, toolsets: Iterable[dict[str, Any]]) -> None:
        names = self.ctx.toolsets
        index = self.ctx.schema_index
        assert isinstance(names, dict) and index is not None
        schemas = index.raw
        assert isinstance(schemas, dict)
        for toolset in toolsets:
            add_toolset(names, schemas, toolset)

    def judge(self, record: dict[str, Any], line: bytes, fi: int) -> None:
        """Judge the next spec record: `line` is the exact bytes a shard will hold (with its
        newline when the validator is `terminated`), `record` the dict they serialise."""
        k = self._batch_size
        self._batch_size = k + 1
        self.in_per_file[fi] += 1
        ctx = self.ctx
        objective = self.dirs.objective
        quality = self.quality[fi]
        default = ctx.default_toolset_id
        if (
            default is not None
            and default not in ctx.toolsets
            and "toolset_id" not in record
            and b'"tool_call"' in line
        ):
            # Its calls inherit a toolset not derived yet: not judged by E2/E9 now, so the
            # record is unresolved as one naming an unknown toolset (its chunk runs again
            # when the partition derives it; else the manifest verifies its shards in full).
            self.unresolved.add(default)
        if quality.spec_warnings == KEEP:
            errors = record_errors(record, objective, ctx)
            warnings = None
        else:
            errors = record_problems(record, objective, ctx)
            warnings = None
            if errors:
                warnings, errors = errors, [p for p in errors if p.severity == ERROR]
        if errors:
            toolset_id = record.get("toolset_id", ctx.default_toolset_id)
            if type(toolset_id) is str and toolset_id not in ctx.toolsets:
                self.unresolved.add(toolset_id)
            first = errors[0]
            self.rule_counts[first.rule] += 1
            self.counters[self.files[fi]["source"]]["invalid"] += 1
            self._entries.append(
                (
                    self.index + k,
                    f"schema:{first.rule}",
                    "; ".join(e.message for e in errors[:5]),
                    record["metadata"]["trace"],
                    line[: self._cut],
                    {"rules": sorted({e.rule for e in errors})},
                )
            )
            return
        findings = quality_findings(record, objective, quality.rules) if quality.rules else None
        if findings or warnings:
            warned = self._judge_quality(record, line, fi, k, findings, warnings)
            if warned is None:
                return
            if warned:
                self._warned.append((k, warned))
        self._digests.append(hashlib.sha256(record["id"].encode()).digest()[:16])
        self._positions.append((fi << _POSITION_BITS) | record["metadata"]["trace"][self.kinds[fi]])
        self._accepted.append(k)
        if self.on_accept is not None:
            self.on_accept(record, self.index + k)

    def _judge_quality(
        self,
        record: dict[str, Any],
        line: bytes,
        fi: int,
        k: int,
        findings: list[tuple[str, str]] | None,
        warnings: list[Problem] | None,
    ) -> list[str] | None:
        """Judge a spec-valid record's quality findings and spec warnings: quarantine it (and
        return None) when one of them is set to `quarantine` for its source, else return the
        reasons it is written with (counted by `finish_batch`, unless it is a duplicate)."""
        quality = self.quality[fi]
        flagged: list[tuple[str, str, str]] = []  # (reason, action, detail)
        for rule, detail in findings or ():
            flagged.append((f"quality:{rule}", quality.actions[rule], detail))
        if warnings:
            detail_of: dict[str, str] = {}
            for w in warnings:
                detail_of.setdefault(w.rule, f"{w.rule}: {w.message}")
            for rule in sorted(detail_of):
                flagged.append(
                    (f"quality:spec_warning:{rule}", quality.spec_warnings, detail_of[rule])
                )
        trace = record["metadata"]["trace"]
        rejected = [f for f in flagged if f[1] == QUARANTINE]
        if rejected:
            reason = rejected[0][0]
            self.quality_rejected[reason] += 1
            self.counters[self.files[fi]["source"]]["invalid"] += 1
            self._entries.append(
                (
                    self.index + k,
                    reason,
                    "; ".join(f[2] for f in rejected[:5]),
                    trace,
                    line[: self._cut],
                    {"quality": [f[0] for f in rejected]},
                )
            )
            return None
        return [f[0] for f in flagged]

    def finish_batch(self, lines: LineBatch, fis: array) -> array:
        """After `judge` was called for each of `lines` (with file indices `fis`): find the
        duplicate ids among them and write the batch's rejects and quarantine entries.
        Returns the rejects: indices of the rejected lines, ascending, counted from the
        partition's first line."""
        if self._batch_size != len(lines):
            raise ValueError(f"{len(lines)} lines for {self._batch_size} judged records")
        files, counters, cut = self.files, self.counters, self._cut
        entries = self._entries
        self.bytes_in += len(lines.block) + (0 if cut else len(lines))
        if self._warned:
            dropped = {k for k, _ in self._duplicates}
            for k, reasons in self._warned:
                if k not in dropped:  # written: a duplicate id is quarantined
                    self._count_warned(reasons, lines, k)
        for k, kept in self._duplicates:
            record = orjson.loads(lines[k])  # duplicates are rare: parse again
            fi = fis[k]
            counters[files[fi]["source"]]["duplicate"] += 1
            self.duplicates += 1
            kept_fi, kept_pos = kept >> _POSITION_BITS, kept & ((1 << _POSITION_BITS) - 1)
            kept_file = files[kept_fi]
            kept_trace = {
                "source": kept_file["source"],
                "file": kept_file["file"],
                kept_file["kind"]: kept_pos,
                "sha256": kept_file["sha256"],
            }
            if "file_b64" in kept_file:
                kept_trace["file_b64"] = kept_file["file_b64"]
            entries.append(
                (
                    self.index + k,
                    "duplicate_id",
                    f"id {_shown_id(record['id'])} was already written from {kept_file['file']} "
                    f"{kept_file['kind']} {kept_pos}",
                    record["metadata"]["trace"],
                    lines[k][:cut],
                    {"kept": kept_trace},
                )
            )
        # Quarantine entries and rejects in record order, whatever their kind.
        entries.sort(key=lambda e: e[0])
        rejects = array("Q")
        for line_index, reason, detail, trace, raw, extra in entries:
            self.quarantine.add(reason, detail, trace, raw, extra=extra)
            rejects.append(line_index)
        reached("validate.batch")
        self.index += len(lines)
        self._start_batch()
        return rejects

    def _count_warned(self, reasons: list[str], lines: LineBatch, k: int) -> None:
        """Count the warnings of written record `k` of the batch (its trace an example)."""
        trace = None
        for reason in reasons:
            self.quality_warned[reason] += 1
            if reason.startswith(SPEC_WARNING):
                self.spec_warnings[reason[len(SPEC_WARNING) :]] += 1
            examples = self.warned_examples.setdefault(reason, [])
            if len(examples) < EXAMPLES_PER_REASON:
                if trace is None:  # a few a reason: parse again
                    trace = orjson.loads(lines[k])["metadata"]["trace"]
                examples.append(trace)

    def take_verdicts(self) -> Verdicts:
        """A chunk worker's batch: the judged records' verdicts (rule rejects as quarantine
        entries, the accepted ones' digests, positions and indices, the warned ones), without
        the duplicate lookup, which the merge does across chunks. Starts the next batch."""
        verdicts = (self._entries, self._digests, self._positions, self._accepted, self._warned)
        self.index += self._batch_size
        self._start_batch()
        return verdicts

    def put_verdicts(
        self,
        entries: list[Entry],
        size: int,
        duplicates: list[tuple[int, int]],
        warned: list[Warned],
    ) -> None:
        """The merge's batch of `size` lines: the rule rejects a chunk worker found (indices
        counted from the partition's first line), the batch's duplicates `(line index in
        the batch, position kept)` and its accepted records' warnings `(line index in the
        batch, reasons)`, ready for `finish_batch`."""
        self._entries = entries
        self._duplicates = duplicates
        self._warned = warned
        self._batch_size = size

    def tallies(self) -> dict[str, Any]:
        """What `judge` counted (a chunk's part of the report), for `add_tallies`; not the
        warnings, which the merge counts of the records it writes (`finish_batch`)."""
        return {
            "rules": dict(self.rule_counts),
            "quality_rejected": dict(self.quality_rejected),
            "counters": self.counters.as_dict(),
            "in_per_file": list(self.in_per_file),
            "unresolved": sorted(self.unresolved),
        }

    def add_tallies(self, tallies: dict[str, Any], file_index: int) -> None:
        """Add a chunk's tallies (its first file is `file_index` here), in chunk order."""
        self.rule_counts.update(tallies["rules"])
        self.quality_rejected.update(tallies["quality_rejected"])
        for source, counts in tallies["counters"].items():
            self.counters[source].update(counts)
        for k, count in enumerate(tallies["in_per_file"]):
            self.in_per_file[file_index + k] += count
        self.unresolved.update(tallies["unresolved"])

    def _start_batch(self) -> None:
        self._batch_size = 0
        self._entries: list[Entry] = []
        self._digests: list[bytes] = []
        self._positions: list[int] = []
        self._accepted: list[int] = []
        self._warned: list[Warned] = []
        self._duplicates = []

    def commit(
        self, stage_fp: str, started: float, toolsets: list[dict[str, Any]], bytes_out: int
    ) -> StageReport:
        """Commit the id digests and the quarantine, then the marker. `bytes_out`: the bytes
        of the accepted lines (newlines included), as handed to the shards."""
        counters, files = self.counters, self.files
        for fi, count in enumerate(self.in_per_file):
            if count:
                counters[files[fi]["source"]]["in"] += count
        _write_ids(self.dirs.file(IDS), self.ids)
        self.quarantine.commit()
        per_source = counters.as_dict()
        for counts in per_source.values():
            counts["out"] = (
                counts.get("in", 0) - counts.get("invalid", 0) - counts.get("duplicate", 0)
            )
        invalid = sum(self.rule_counts.values()) + sum(self.quality_rejected.values())
        index = self.index
        report = StageReport(
            stage=STAGE,
            partition=self.dirs.key,
            records_in=index,
            records_out=index - invalid - self.duplicates,
            bytes_in=self.bytes_in,
            bytes_out=bytes_out,
            seconds=time.perf_counter() - started,
            quarantine=self.quarantine.summary(),
            per_source=per_source,
            details=ValidateDetails(
                invalid=invalid,
                duplicates=self.duplicates,
                invalid_by_rule=dict(sorted(self.rule_counts.items())),
                quality_quarantined=dict(sorted(self.quality_rejected.items())),
                quality_warned=dict(sorted(self.quality_warned.items())),
                quality_warned_examples=dict(sorted(self.warned_examples.items())),
                spec_warnings=dict(sorted(self.spec_warnings.items())),
                toolsets=toolsets,
                files=files,
                id_set_bytes=self.id_set_bytes,
            ),
        )
        write_marker(self.dirs.file(MARKER), stage_fp, report.to_json())
        return report

    def abort(self) -> None:
        self.quarantine.abort()


def _write_ids(path: Path, parts: list[Path]) -> None:
    out = store_for(path).open_atomic(path)
    try:
        if parts:
            write_ids(parts, out)
        else:
            SeenIds().frame().write_ipc(out)  # type: ignore[arg-type]
    except BaseException:
        out.abort()
        raise
    out.commit()


def _shown_id(value: str) -> str:
    """A written id (a string: the spec record passed its rules) in a `duplicate_id`
    detail: in Python's quoting, as ever, cut at 80 characters."""
    return repr(value) if len(value) <= 80 else f"{value[:80]!r}... ({len(value)} characters)"
