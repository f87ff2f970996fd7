"""Whole-package verifier for LLM Training Data v1: checklist sections A-G (spec section 12).

`verify_package` reads `metadata.json` (A), its toolsets (B), file entries and shards (C),
every record (D, E, F, through `rules`) and the asset index (G). `verify_shard` checks
one shard on its own (C9-C17, C20, D1, D2 and the record rules); the build's shard check
calls it without any metadata.json.

Shards are streamed: the on-disk bytes are hashed while they are decompressed, lines are
split across chunk boundaries here, and each line is parsed with orjson, so memory holds one
chunk and one line at a time. A damaged compressed stream is a C15 error naming the
compressed offset; the records before the damage are still checked.

Implementation choices (where the checklist leaves room):

* Findings are kept for the first `FINDINGS_PER_RULE_FILE` (20) of each (rule, file) and
  `FINDINGS_PER_RULE` (1000) of each rule; all are counted (`error_count`,
  `warning_count`, `omitted`).
* Hostile packages (`verify_limits`): only regular files are opened (a FIFO, device,
  socket or directory is A1 for metadata.json, C13 for a shard, G1 for the asset index);
  a symlink resolving outside the package is A1 / C12 / G1. metadata.json larger than
  `max_metadata_bytes` is A1; a line longer than `max_line_bytes` is D1 (G2 in the asset
  index) and is never held; a file decompressing past `max(max_expansion x on-disk size,
  expansion_floor)` is C15 (G1) and is read no further (C16 is then skipped). A record
  nested too deeply for the rule checks is D1.
* `verify_shard(..., warnings=False)` (the build's check) reports record errors only;
  `verify_package` passes `warnings=True` and reports record warnings too.
* C12 also rejects NUL characters, backslash-rooted and UNC paths, and a path that resolves
  (through symlinks) outside the package directory. G1 applies the same path rules.
* C15 also fires when the file's magic bytes contradict the declared codec (a gzip file
  declared `none`, or a `zstd` shard that does not start with a zstd frame); its records
  are then not read.
* C16's count comparison is skipped when C15 fired (the count is then meaningless).
* C17: a digest that is not 64 hex characters is an error; upper-case hex that matches is
  a warning (the spec recommends lower case).
* C20: a shard of `LARGE_SHARD_BYTES` (64 MiB) or more on disk without `sha256` or
  `record_count`.
* A15: a non-string `reasoning_policy` is an error (the field's type is spec); a value
  other than `train` is a warning.
* D7: duplicate ids are found with `dedup.SeenIds` (24 bytes an id), fed in batches of
  `ID_BATCH` ids; a duplicate names the file and line of the first occurrence.
* `verify_package(..., verified_shards={path: sha256})`: a shard the build already verified
  (shards_verified: its lines are byte for byte the records the validated stage judged), whose declared and on-disk sha256 still equal the
  digest it verified, is checked by hash only (plus its entry's shape, C9-C15): its records
  are not re-parsed, so they add no D7/L1 ids and no asset references; G5 is then skipped
  (unused assets cannot be known). `records_checked` counts such a shard's declared
  `record_count`; `shards_trusted` says how many shards took this path. If the file no
  longer matches, the shard is verified in full.
* `verify_package(..., manifest_path=p)` reads the manifest from `p` (a candidate not yet
  published) while shard paths still resolve against the package directory.
* L1 (our rule, not the spec's): with `forbid_split_leakage=True`, a record id that is
  used in two different splits is an error; it is reported at every occurrence whose split
  differs from the split of the id's first occurrence.
"""

from __future__ import annotations

import posixpath
import re
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Final, cast

import orjson

from jsonl_assets.core.compression import TruncatedInput, detect_compression, iter_decompressed
from jsonl_assets.core.dedup import SeenIds, id_digest
from jsonl_assets.core.rules import (
    ERROR,
    WARNING,
    Problem,
    RecordContext,
    content_problems,
    json_type_name,
    record_errors,
    record_problems,
)
from jsonl_assets.core.rules.spec_vocabulary import (
    COMPRESSIONS,
    MEDIA_PART_TYPES,
    OBJECTIVES,
    SCHEMA_VERSION,
    SPLITS,
)
from jsonl_assets.core.verify.verify_limits import (
    ExpansionExceeded,
    SizedReader,
    Unreadable,
    VerifyLimits,
    bounded_lines,
    capped,
    open_regular,
    read_capped,
)

METADATA_FILE: Final = "metadata.json"
FINDINGS_PER_RULE_FILE: Final = 20
FINDINGS_PER_RULE: Final = 1000  # kept per rule over all files; past it only counted
DEFAULT_LIMITS: Final = VerifyLimits()
LARGE_SHARD_BYTES: Final = 64 * 1024 * 1024
ID_BATCH: Final = 8192
_LINE_BITS: Final = 40  # D7 positions: shard sequence number << 40 | line number
_LINE_MASK: Final = (1 << _LINE_BITS) - 1

_TOP_KEYS: Final = frozenset(
    {
        "schema_version",
        "dataset",
        "files",
        "data_card",
        "defaults",
        "toolsets",
        "asset_index",
        "extensions",
    }
)
_TOP_OBJECTS: Final = ("data_card", "defaults", "asset_index", "extensions")
_DATASET_STRINGS: Final = ("dataset_id", "description", "created_at", "license", "contact")
_DATASET_KEYS: Final = frozenset({"name", "tags", *_DATASET_STRINGS})
_DEFAULTS_KEYS: Final = frozenset({"system", "toolset_id", "reasoning_policy"})
_DATA_CARD_KEYS: Final = frozenset({"uri", "sha256", "inline"})
_ASSET_INDEX_KEYS: Final = frozenset({"path", "format"})
_TOOLSET_KEYS: Final = frozenset({"id", "tools"})
_TOOL_KEYS: Final = frozenset({"name", "description", "input_schema", "output_schema"})
_FILE_KEYS: Final = frozenset({"split", "objective", "format", "toolset_id", "shards", "notes"})
_SHARD_KEYS: Final = frozenset({"path", "compression", "record_count", "sha256"})
_ASSET_KEYS: Final = frozenset({"asset_id", "uri", "mime_type", "sha256", "bytes", "metadata"})
_SCHEMA_TYPES: Final = frozenset(
    {"string", "number", "integer", "boolean", "object", "array", "null"}
)
_EXTENSION_CODEC: Final = (("gzip", ".gz"), ("zstd", ".zst"))
_CONTENT: Final = {"none": "not compressed", "gzip": "gzip", "zstd": "zstd"}
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")

IdSink = Callable[[list[bytes], list[int]], None]
_jtype = json_type_name
# Values from a hostile manifest are shown short and flat: reprlib stops at depth 6 and
# long strings/containers, where repr() would recurse 1,000 levels or print megabytes.
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 120
_show = _REPR.repr


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule. `file` is relative to the package dir; `line` is 1-based or None."""

    rule: str
    severity: str  # "error" | "warning"
    file: str
    line: int | None
    message: str


@dataclass
class ShardCheck:
    """Result of verifying one shard: what is on disk, and what is wrong with it.

    `sha256`/`bytes` describe the on-disk file ("" / 0 when it could not be read);
    `record_count` is the number of non-empty lines found (the declared count when the
    shard was trusted by hash, `parsed` False). `findings` is capped per rule; the counts
    cover every finding and `omitted` says how many were left out, per rule.
    """

    path: str
    sha256: str
    record_count: int
    bytes: int
    findings: list[Finding]
    error_count: int = 0
    warning_count: int = 0
    omitted: dict[str, int] = field(default_factory=dict)
    parsed: bool = True

    @property
    def ok(self) -> bool:
        return self.error_count == 0


@dataclass
class VerifyReport:
    """Result of verifying a package. `findings` is capped per (rule, file); the counts and
    `omitted` ((rule, file) -> findings left out) cover everything found."""

    findings: list[Finding]
    error_count: int
    warning_count: int
    records_checked: int
    shards_checked: int
    omitted: dict[tuple[str, str], int] = field(default_factory=dict)
    shards_trusted: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0


class _Sink:
    """Collects findings, keeping the first `cap` per (rule, file) and `FINDINGS_PER_RULE`
    per rule, and counting every one. Past the per-rule cap, omitted findings are counted
    under (rule, "*"): a manifest of a million bad entries costs no memory per entry."""

    def __init__(self, cap: int = FINDINGS_PER_RULE_FILE) -> None:
        self.cap = cap
        self.findings: list[Finding] = []
        self.kept: dict[tuple[str, str], int] = {}
        self.per_rule: dict[str, int] = {}
        self.omitted: dict[tuple[str, str], int] = {}
        self.errors = 0
        self.warnings = 0

    def add(self, rule: str, severity: str, file: str, line: int | None, message: str) -> None:
        if severity == ERROR:
            self.errors += 1
        else:
            self.warnings += 1
        self._keep(Finding(rule, severity, file, line, message))

    def _keep(self, finding: Finding) -> None:
        rule_kept = self.per_rule.get(finding.rule, 0)
        if rule_kept >= FINDINGS_PER_RULE:
            key = (finding.rule, "*")
            self.omitted[key] = self.omitted.get(key, 0) + 1
            return
        key = (finding.rule, finding.file)
        kept = self.kept.get(key, 0)
        if kept < self.cap:
            self.kept[key] = kept + 1
            self.per_rule[finding.rule] = rule_kept + 1
            self.findings.append(finding)
        else:
            self.omitted[key] = self.omitted.get(key, 0) + 1

    def error(self, rule: str, file: str, line: int | None, message: str) -> None:
        self.add(rule, ERROR, file, line, message)

    def warning(self, rule: str, file: str, line: int | None, message: str) -> None:
        self.add(rule, WARNING, file, line, message)

    def problems(self, problems: list[Problem], file: str, line: int | None) -> None:
        for problem in problems:
            self.add(problem.rule, problem.severity, file, line, problem.message)

    def meta_error(self, rule: str, message: str) -> None:
        self.add(rule, ERROR, METADATA_FILE, None, message)

    def meta_warning(self, rule: str, message: str) -> None:
        self.add(rule, WARNING, METADATA_FILE, None, message)

    def merge(self, check: ShardCheck) -> None:
        for finding in check.findings:
            self._keep(finding)
        for rule, count in check.omitted.items():
            full = self.per_rule.get(rule, 0) >= FINDINGS_PER_RULE
            key = (rule, "*" if full else check.path)
            self.omitted[key] = self.omitted.get(key, 0) + count
        self.errors += check.error_count
        self.warnings += check.warning_count


# --- paths --------------------------------------------------------------------------------


def path_problem(package_dir: Path, path: str) -> str | None:
    """Why `path` is not a safe relative path inside `package_dir` (C12/G1), or None."""
    if not path:
        return "path is empty"
    if "\x00" in path:
        return "path contains a NUL character"
    if path.startswith(("/", "\\")):
        return f"path {_show(path)} is absolute"
    if _SCHEME.match(path):
        return f"path {_show(path)} has a drive letter or URI scheme"
    if ".." in re.split(r"[/\\]", path):
        return f"path {_show(path)} has a '..' segment"
    try:
        root = package_dir.resolve()
        target = (root / path).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        return f"path {_show(path)} cannot be resolved: {exc}"
    if target != root and root not in target.parents:
        return f"path {_show(path)} resolves outside the package directory"
    return None


def _normal_path(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/"))


# --- shards -------------------------------------------------------------------------------


def verify_shard(
    package_dir: Path,
    shard: Mapping[str, Any],
    objective: str | None,
    ctx: RecordContext,
    *,
    id_sink: IdSink | None = None,
    warnings: bool = False,
    asset_refs: set[str] | None = None,
    trusted_sha256: str | None = None,
    limits: VerifyLimits = DEFAULT_LIMITS,
) -> ShardCheck:
    """Check one shard entry and its file: C9-C17, C20, D1, D2 and every record rule.

    `objective` None (the file entry's objective is invalid) checks only that each line
    is a JSON object. `id_sink` receives batches of (id digests, 1-based line numbers) of
    records with a string `id`. `warnings` adds the record rules' warnings. `asset_refs`,
    when given, collects every `ref.asset_id` used (for G5). `trusted_sha256` is the digest
    of a file the build already verified (shards_verified): when the entry declares it, the file still
    has it, and the entry declares a record_count, the records are not read again. `limits`
    caps the line length and the decompressed size (see `verify_limits`).
    """
    sink = _Sink()
    if not isinstance(shard, Mapping):
        sink.error("C9", METADATA_FILE, None, f"shard entry must be an object, got {_jtype(shard)}")
        return _shard_result("", sink)
    path = shard.get("path")
    if type(path) is not str:
        sink.error("C9", METADATA_FILE, None, "shard entry needs a string 'path'")
        return _shard_result("", sink)
    for key in shard:
        if key not in _SHARD_KEYS:
            sink.error("C10", path, None, f"shard entry: unknown key {_show(key)}")
    compression = shard.get("compression", "none")
    codec: str | None = compression
    if compression not in COMPRESSIONS:
        sink.error(
            "C11", path, None, f"compression {_show(compression)} is not one of none/gzip/zstd"
        )
        codec = None
    declared_count = _declared_count(shard, path, sink)
    declared_sha = _declared_sha(shard, path, sink)

    problem = path_problem(package_dir, path)
    if problem is not None:
        sink.error("C12", path, None, problem)
        return _shard_result(path, sink)
    try:
        raw, size = open_regular(package_dir / path, package_dir)
    except Unreadable as exc:
        if exc.kind in ("outside", "unresolvable"):  # changed since path_problem looked
            sink.error("C12", path, None, f"path {_show(path)} {exc.reason}")
        elif exc.kind == "not_regular":
            sink.error("C13", path, None, "shard file is not a regular file")
        else:
            sink.error("C13", path, None, f"shard file {exc.reason}")
        return _shard_result(path, sink)
    if size > limits.max_shard_bytes:
        raw.close()
        sink.error(
            "C13",
            path,
            None,
            f"shard file is {size} bytes, more than --max-shard-bytes ({limits.max_shard_bytes}):"
            " not read",
        )
        return _shard_result(path, sink)
    if codec is not None:
        expected = next((c for c, ext in _EXTENSION_CODEC if path.endswith(ext)), "none")
        if expected != codec:
            sink.warning(
                "C14", path, None, f"file extension suggests {expected}, compression is {codec}"
            )

    count = 0
    damaged = False
    with raw:
        head = raw.read(min(4, size))
        raw.seek(0)
        reader = SizedReader(raw, size)
        found = detect_compression(head)
        if codec is not None and found != codec:
            if not head:
                what = f"file is empty, which is not a {codec} stream"
            else:
                what = f"file content is {_CONTENT[found]} (by its magic bytes)"
                what += f" but compression is declared {codec}"
            sink.error("C15", path, None, what)
            codec = None
        trusted = False
        if (
            codec is not None
            and trusted_sha256 is not None
            and declared_sha is not None
            and declared_count is not None
            and declared_sha.lower() == trusted_sha256.lower()
        ):
            reader.drain()
            trusted = reader.sha.hexdigest() == trusted_sha256.lower()
            if trusted:
                count = declared_count
            else:  # changed since it was verified: verify it in full
                raw.seek(0)
                reader = SizedReader(raw, size)
        if codec is not None and not trusted:
            count, damaged = _read_records(
                reader, codec, path, objective, ctx, sink, id_sink, warnings, asset_refs, limits
            )
        reader.drain()
    digest = reader.sha.hexdigest()

    if declared_count is not None and not damaged and codec is not None and declared_count != count:
        sink.error(
            "C16", path, None, f"record_count is {declared_count} but the shard holds {count}"
        )
    if declared_sha is not None and declared_sha.lower() != digest:
        sink.error("C17", path, None, f"sha256 is {declared_sha} but the file's is {digest}")
    if reader.size >= LARGE_SHARD_BYTES:
        missing = [key for key in ("sha256", "record_count") if key not in shard]
        if missing:
            sink.warning(
                "C20",
                path,
                None,
                f"large shard ({reader.size} bytes) without {' and '.join(missing)}",
            )
    return _shard_result(path, sink, digest, count, reader.size, parsed=not trusted)


def _shard_result(
    path: str,
    sink: _Sink,
    sha256: str = "",
    count: int = 0,
    size: int = 0,
    *,
    parsed: bool = True,
) -> ShardCheck:
    omitted = {rule: n for (rule, _), n in sink.omitted.items()}
    return ShardCheck(
        path, sha256, count, size, sink.findings, sink.errors, sink.warnings, omitted, parsed
    )


def _declared_count(shard: Mapping[str, Any], path: str, sink: _Sink) -> int | None:
    if "record_count" not in shard:
        return None
    value = shard["record_count"]
    if type(value) is not int or value < 0:
        sink.error(
            "C16", path, None, f"record_count must be a non-negative integer, got {_show(value)}"
        )
        return None
    return value


def _declared_sha(shard: Mapping[str, Any], path: str, sink: _Sink) -> str | None:
    if "sha256" not in shard:
        return None
    value = shard["sha256"]
    if type(value) is not str or len(value) != 64 or not _HEX.issuperset(value):
        sink.error("C17", path, None, f"sha256 must be 64 hex characters, got {_show(value)}")
        return None
    if value != value.lower():
        sink.warning("C17", path, None, "sha256 should be written in lower-case hex")
    return value


def _read_records(
    reader: SizedReader,
    codec: str,
    path: str,
    objective: str | None,
    ctx: RecordContext,
    sink: _Sink,
    id_sink: IdSink | None,
    warnings: bool,
    asset_refs: set[str] | None,
    limits: VerifyLimits,
) -> tuple[int, bool]:
    """Check every line of the shard; return (records found, stream damaged or capped).

    A line longer than `limits.max_line_bytes` is a D1 error (counted as a record, never
    held); more than `limits.decompressed_cap` bytes is a C15 error and ends the reading.
    """
    check = record_problems if warnings else record_errors
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    count = 0
    line_no = 0
    digests: list[bytes] = []
    lines: list[int] = []
    damaged = False
    max_line = limits.max_line_bytes
    cap = limits.decompressed_cap(reader.total)
    chunks = capped(iter_decompressed(cast(BinaryIO, reader), codec), cap)
    try:
        for line in bounded_lines(chunks, max_line):
            line_no += 1
            if type(line) is int:
                count += 1
                sink.error("D1", path, line_no, _too_long(line, max_line))
                continue
            if not line or line.isspace():
                sink.warning("D2", path, line_no, "blank line")
                continue
            count += 1
            try:
                record = loads(line)
            except decode_error as exc:
                sink.error("D1", path, line_no, f"line is not valid JSON: {exc}")
                continue
            if objective is not None:
                try:
                    problems = check(record, objective, ctx)
                except RecursionError:
                    problems = [Problem("D1", ERROR, "record is nested too deeply to check")]
                if problems:
                    sink.problems(problems, path, line_no)
            elif type(record) is not dict:
                sink.error(
                    "D1", path, line_no, f"record: root must be an object, got {_jtype(record)}"
                )
            if type(record) is not dict:
                continue
            if id_sink is not None:
                record_id = record.get("id")
                if type(record_id) is str:
                    digests.append(id_digest(record_id))
                    lines.append(line_no)
                    if len(digests) >= ID_BATCH:
                        id_sink(digests, lines)
                        digests, lines = [], []
            if asset_refs is not None and (b"asset_id" in line or b"\\u" in line):
                _collect_asset_refs(record, asset_refs)
    except TruncatedInput as exc:
        damaged = True
        sink.error(
            "C15",
            path,
            None,
            f"{exc.compression} stream damaged at compressed offset {exc.offset} "
            f"(after line {line_no}): {exc.detail}",
        )
    except ExpansionExceeded as exc:
        damaged = True
        sink.error("C15", path, None, f"{codec} stream {exc} (after line {line_no})")
    if digests and id_sink is not None:
        id_sink(digests, lines)
    return count, damaged


def _too_long(length: int, limit: int) -> str:
    return (
        f"line is longer than --max-line-bytes ({limit}; {length} bytes read): it was not "
        "parsed (the build's limits.max_record_bytes bounds records the same way)"
    )


def _collect_asset_refs(record: dict[str, Any], out: set[str]) -> None:
    branches: list[object] = [record.get("messages")]
    candidates = record.get("candidates")
    if type(candidates) is list:
        branches.extend(c.get("messages") for c in candidates if type(c) is dict)
    for messages in branches:
        if type(messages) is not list:
            continue
        for message in messages:
            content = message.get("content") if type(message) is dict else None
            if type(content) is not list:
                continue
            for part in content:
                if type(part) is not dict:
                    continue
                kind = part.get("type")
                if type(kind) is str and kind in MEDIA_PART_TYPES:
                    ref = part.get("ref")
                    if type(ref) is dict and type(ref.get("asset_id")) is str:
                        out.add(ref["asset_id"])


# --- package ------------------------------------------------------------------------------


def verify_package(
    package_dir: Path,
    *,
    forbid_split_leakage: bool = False,
    manifest_path: Path | None = None,
    verified_shards: Mapping[str, str] | None = None,
    limits: VerifyLimits = DEFAULT_LIMITS,
) -> VerifyReport:
    """Verify a whole package directory against checklist A-G (and L1 when asked).

    `manifest_path` reads the manifest from elsewhere (default: `metadata.json` in the
    package dir); `verified_shards` maps shard paths to the sha256 a record-by-record
    verification already vouched for (see the module docstring). `limits` bounds what is
    read (see `verify_limits`); each breach is an error of the rule of the file concerned.
    """
    package_dir = Path(package_dir)
    sink = _Sink()
    if manifest_path is None:
        meta = _load_manifest(package_dir / METADATA_FILE, package_dir, limits, sink)
    else:  # a candidate the build wrote to its work dir: no containment check
        meta = _load_manifest(manifest_path, None, limits, sink)
    if meta is None:
        return VerifyReport(sink.findings, sink.errors, sink.warnings, 0, 0, sink.omitted)
    _check_manifest(meta, sink)
    toolsets, schemas = _check_toolsets(meta.get("toolsets"), sink)
    default_toolset = _check_defaults(meta, toolsets, sink)
    assets = _check_asset_index(package_dir, meta, sink, limits)
    asset_ids = frozenset(assets) if assets is not None else None
    base = RecordContext(
        toolsets=toolsets,
        default_toolset_id=default_toolset,
        asset_ids=asset_ids,
        tool_schemas=schemas,
    )
    defaults = meta.get("defaults")
    if type(defaults) is dict and "system" in defaults:
        try:
            problems = content_problems(defaults["system"], "defaults.system", base)
        except RecursionError:
            problems = [Problem("D1", ERROR, "defaults.system is nested too deeply to check")]
        for problem in problems:
            message = f"{problem.message} ({problem.rule})"
            sink.add("A13", problem.severity, METADATA_FILE, None, message)

    refs: set[str] | None = set() if assets is not None else None
    tally = _check_files(
        package_dir, meta, base, sink, refs, forbid_split_leakage, verified_shards or {}, limits
    )
    if assets is not None and refs is not None and tally.trusted == 0:
        index_path = str(meta["asset_index"]["path"])
        for asset_id, line in assets.items():
            if asset_id not in refs:
                sink.warning("G5", index_path, line, f"asset {_show(asset_id)} is never referenced")
    return VerifyReport(
        sink.findings,
        sink.errors,
        sink.warnings,
        tally.records,
        tally.shards,
        sink.omitted,
        tally.trusted,
    )


@dataclass
class _Tally:
    records: int = 0
    shards: int = 0
    trusted: int = 0


def _load_manifest(
    path: Path, root: Path | None, limits: VerifyLimits, sink: _Sink
) -> dict[str, Any] | None:
    try:
        data = read_capped(path, root, limits.max_metadata_bytes)
    except Unreadable as exc:
        message = f"metadata.json {exc.reason}"
        if exc.kind == "too_large":
            message += " (--max-metadata-bytes)"
        sink.error("A1", METADATA_FILE, None, message)
        return None
    try:
        meta = orjson.loads(data)
    except (orjson.JSONDecodeError, RecursionError) as exc:
        sink.error("A1", METADATA_FILE, None, f"metadata.json is not valid JSON: {exc}")
        return None
    if type(meta) is not dict:
        sink.error("A1", METADATA_FILE, None, f"root must be an object, got {_jtype(meta)}")
        return None
    return meta


def _check_manifest(meta: dict[str, Any], sink: _Sink) -> None:
    """A2-A12 and A15 (A13/A14 need the toolsets; see _check_defaults)."""
    err = sink.meta_error
    warn = sink.meta_warning
    version = meta.get("schema_version")
    if "schema_version" not in meta:
        err("A2", "schema_version: missing")
    elif version != SCHEMA_VERSION:
        err("A2", f"schema_version: {_show(version)} is not {_show(SCHEMA_VERSION)}")
    for key in meta:
        if key not in _TOP_KEYS:
            err("A7", f"{key}: unknown top-level key (custom data belongs in 'extensions')")
    for key in _TOP_OBJECTS:
        if key in meta and type(meta[key]) is not dict:
            err("A8", f"{key}: must be an object, got {_jtype(meta[key])}")
    if "toolsets" in meta and type(meta["toolsets"]) is not list:
        err("A8", f"toolsets: must be an array, got {_jtype(meta['toolsets'])}")

    dataset = meta.get("dataset")
    if "dataset" not in meta:
        err("A3", "dataset: missing")
    elif type(dataset) is not dict:
        err("A3", f"dataset: must be an object, got {_jtype(dataset)}")
    else:
        name = dataset.get("name")
        if "name" not in dataset:
            err("A4", "dataset.name: missing")
        elif type(name) is not str:
            err("A4", f"dataset.name: must be a string, got {_jtype(name)}")
        elif not name.strip():
            err("A4", "dataset.name: is blank")
        for key in _DATASET_STRINGS:
            if key in dataset and type(dataset[key]) is not str:
                err("A9", f"dataset.{key}: must be a string, got {_jtype(dataset[key])}")
        tags = dataset.get("tags")
        if "tags" in dataset and (
            type(tags) is not list or any(type(tag) is not str for tag in tags)
        ):
            err("A9", "dataset.tags: must be an array of strings")
        created = dataset.get("created_at")
        if type(created) is str and not _is_datetime(created):
            warn("A10", f"dataset.created_at: {_show(created)} is not an ISO-8601 date-time")
        _unknown_keys(dataset, _DATASET_KEYS, "dataset", warn)

    files = meta.get("files")
    if "files" not in meta:
        err("A5", "files: missing")
    elif type(files) is not list:
        err("A5", f"files: must be an array, got {_jtype(files)}")
    elif not files:
        err("A6", "files: has no entries")

    card = meta.get("data_card")
    if type(card) is dict:
        inline = card.get("inline") is True
        if not inline and type(card.get("uri")) is not str:
            err("A12", "data_card: needs a string 'uri' or 'inline': true")
        if "sha256" in card and type(card["sha256"]) is not str:
            err("A12", f"data_card.sha256: must be a string, got {_jtype(card['sha256'])}")
        if not inline:  # an embedded card carries the Data Card's own sections
            _unknown_keys(card, _DATA_CARD_KEYS, "data_card", warn)

    defaults = meta.get("defaults")
    if type(defaults) is dict:
        _unknown_keys(defaults, _DEFAULTS_KEYS, "defaults", warn)
        if "reasoning_policy" in defaults:
            policy = defaults["reasoning_policy"]
            if type(policy) is not str:
                err("A15", f"defaults.reasoning_policy: must be a string, got {_jtype(policy)}")
            elif policy != "train":
                warn("A15", f"defaults.reasoning_policy: {_show(policy)} is not 'train'")
    index = meta.get("asset_index")
    if type(index) is dict:
        _unknown_keys(index, _ASSET_INDEX_KEYS, "asset_index", warn)


def _unknown_keys(
    obj: dict[str, Any], known: frozenset[str], where: str, warn: Callable[[str, str], None]
) -> None:
    for key in obj:
        if key not in known:
            warn("A11", f"{where}.{key}: unknown key")


def _is_datetime(text: str) -> bool:
    if len(text) < 11:  # a bare date is not a date-time
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _check_toolsets(
    toolsets: object, sink: _Sink
) -> tuple[dict[str, frozenset[str]], dict[str, dict[str, dict[str, Any]]]]:
    """B1-B7; return toolset id -> tool names and toolset id -> tool -> input_schema."""
    names: dict[str, frozenset[str]] = {}
    schemas: dict[str, dict[str, dict[str, Any]]] = {}
    if type(toolsets) is not list:
        return names, schemas
    err = sink.meta_error
    warn = sink.meta_warning
    for i, toolset in enumerate(toolsets):
        where = f"toolsets[{i}]"
        if type(toolset) is not dict:
            err("B1", f"{where}: must be an object, got {_jtype(toolset)}")
            continue
        for key in toolset:
            if key not in _TOOLSET_KEYS:
                warn("B1", f"{where}.{key}: unknown toolset key")
        toolset_id = toolset.get("id")
        if type(toolset_id) is not str:
            err("B1", f"{where}: needs a string 'id'")
        elif toolset_id in names:
            err("B2", f"{where}.id: {_show(toolset_id)} is used by an earlier toolset")
            toolset_id = None
        tools = toolset.get("tools")
        if type(tools) is not list:
            err("B1", f"{where}: needs an array 'tools'")
            tools = []
        tool_names: dict[str, None] = {}
        tool_schemas: dict[str, dict[str, Any]] = {}
        for j, tool in enumerate(tools):
            tw = f"{where}.tools[{j}]"
            if type(tool) is not dict:
                err("B3", f"{tw}: must be an object, got {_jtype(tool)}")
                continue
            for key in tool:
                if key not in _TOOL_KEYS:
                    err("B4", f"{tw}.{key}: unknown tool key")
            name = tool.get("name")
            if type(name) is not str:
                err("B3", f"{tw}: needs a string 'name'")
            elif name in tool_names:
                err("B6", f"{tw}.name: {_show(name)} is used by an earlier tool of {where}")
            else:
                tool_names[name] = None
            if "description" in tool and type(tool["description"]) is not str:
                err("B5", f"{tw}.description: must be a string")
            for key in ("input_schema", "output_schema"):
                if key not in tool:
                    continue
                schema = tool[key]
                if type(schema) is not dict:
                    err("B5", f"{tw}.{key}: must be an object, got {_jtype(schema)}")
                    continue
                for issue in _schema_problems(schema, f"{tw}.{key}"):
                    warn("B7", issue)
                if key == "input_schema":
                    kind = schema.get("type")
                    if kind is not None and kind != "object":
                        warn("B7", f"{tw}.input_schema.type: {_show(kind)}; arguments are objects")
                    if type(name) is str:
                        tool_schemas[name] = schema
        if type(toolset_id) is str:
            names[toolset_id] = frozenset(tool_names)
            if tool_schemas:
                schemas[toolset_id] = tool_schemas
    return names, schemas


def _schema_problems(schema: object, where: str) -> list[str]:
    """B7: a small structural check of a JSON Schema (not a full metaschema validation)."""
    problems: list[str] = []
    stack: list[tuple[object, str]] = [(schema, where)]
    while stack:
        node, at = stack.pop()
        if type(node) is bool:
            continue
        if type(node) is not dict:
            problems.append(f"{at}: a schema must be an object or a boolean")
            continue
        kind = node.get("type", None)
        kinds = kind if type(kind) is list else [kind] if kind is not None else []
        for item in kinds:
            if type(item) is not str or item not in _SCHEMA_TYPES:
                problems.append(f"{at}.type: {_show(item)} is not a JSON Schema type")
        required = node.get("required")
        if "required" in node and (
            type(required) is not list or any(type(item) is not str for item in required)
        ):
            problems.append(f"{at}.required: must be an array of strings")
        if "enum" in node and type(node["enum"]) is not list:
            problems.append(f"{at}.enum: must be an array")
        props = node.get("properties")
        if "properties" in node:
            if type(props) is not dict:
                problems.append(f"{at}.properties: must be an object")
            else:
                stack.extend((sub, f"{at}.properties.{key}") for key, sub in props.items())
        for key in ("items", "additionalProperties"):
            if key in node:
                stack.append((node[key], f"{at}.{key}"))
    return problems


def _check_defaults(meta: dict[str, Any], toolsets: Mapping[str, Any], sink: _Sink) -> str | None:
    """A14; return the default toolset id when it is a string."""
    defaults = meta.get("defaults")
    if type(defaults) is not dict or "toolset_id" not in defaults:
        return None
    toolset_id = defaults["toolset_id"]
    if type(toolset_id) is not str:
        sink.error("A14", METADATA_FILE, None, "defaults.toolset_id: must be a string")
        return None
    if toolset_id not in toolsets:
        sink.error(
            "A14", METADATA_FILE, None, f"defaults.toolset_id: unknown toolset {_show(toolset_id)}"
        )
    return toolset_id


def _check_asset_index(
    package_dir: Path, meta: dict[str, Any], sink: _Sink, limits: VerifyLimits
) -> dict[str, int] | None:
    """G1-G4; return asset id -> line, or None when no usable index is declared."""
    index = meta.get("asset_index")
    if type(index) is not dict:
        return None
    path = index.get("path")
    if type(path) is not str:
        sink.error("G1", METADATA_FILE, None, "asset_index: needs a string 'path'")
        return None
    if "format" in index and index["format"] != "jsonl":
        sink.error(
            "G1",
            METADATA_FILE,
            None,
            f"asset_index.format: {_show(index['format'])} is not 'jsonl'",
        )
    problem = path_problem(package_dir, path)
    if problem is not None:
        sink.error("G1", METADATA_FILE, None, f"asset_index.path: {problem}")
        return None
    try:
        raw, size = open_regular(package_dir / path, package_dir)
    except Unreadable as exc:
        sink.error("G1", path, None, f"asset index file {exc.reason}")
        return None
    assets: dict[str, int] = {}
    line_no = 0
    with raw:
        codec = detect_compression(raw.read(min(4, size)))
        raw.seek(0)
        reader = SizedReader(raw, size)
        chunks = capped(
            iter_decompressed(cast(BinaryIO, reader), codec), limits.decompressed_cap(size)
        )
        try:
            for line in bounded_lines(chunks, limits.max_line_bytes):
                line_no += 1
                if type(line) is int:
                    sink.error("G2", path, line_no, _too_long(line, limits.max_line_bytes))
                elif not line or line.isspace():
                    sink.warning("G2", path, line_no, "blank line")
                else:
                    _check_asset_line(line, path, line_no, assets, sink)
        except TruncatedInput as exc:
            sink.error("G1", path, None, str(exc))
        except ExpansionExceeded as exc:
            sink.error("G1", path, None, f"{codec} stream {exc} (after line {line_no})")
    return assets


def _check_asset_line(
    line: bytes, path: str, line_no: int, assets: dict[str, int], sink: _Sink
) -> None:
    try:
        asset = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        sink.error("G2", path, line_no, f"line is not valid JSON: {exc}")
        return
    if type(asset) is not dict:
        sink.error("G2", path, line_no, f"asset must be an object, got {_jtype(asset)}")
        return
    for key in ("asset_id", "uri"):
        if type(asset.get(key)) is not str:
            sink.error("G2", path, line_no, f"asset needs a string {_show(key)}")
    for key in asset:
        if key not in _ASSET_KEYS:
            sink.error("G3", path, line_no, f"unknown asset key {_show(key)}")
    for key in ("mime_type", "sha256"):
        if key in asset and type(asset[key]) is not str:
            sink.error("G3", path, line_no, f"{key}: must be a string, got {_jtype(asset[key])}")
    if "bytes" in asset and (type(asset["bytes"]) is not int or asset["bytes"] < 0):
        sink.error(
            "G3",
            path,
            line_no,
            f"bytes: must be a non-negative integer, got {_show(asset['bytes'])}",
        )
    if "metadata" in asset and type(asset["metadata"]) is not dict:
        sink.error("G3", path, line_no, "metadata: must be an object")
    asset_id = asset.get("asset_id")
    if type(asset_id) is str:
        first = assets.get(asset_id)
        if first is not None:
            sink.error("G4", path, line_no, f"asset_id {_show(asset_id)} repeats line {first}")
        else:
            assets[asset_id] = line_no


def _check_files(
    package_dir: Path,
    meta: dict[str, Any],
    base: RecordContext,
    sink: _Sink,
    asset_refs: set[str] | None,
    forbid_split_leakage: bool,
    verified_shards: Mapping[str, str],
    limits: VerifyLimits,
) -> _Tally:
    """C1-C20 and every record."""
    tally = _Tally()
    files = meta.get("files")
    if type(files) is not list:
        return tally
    err = sink.meta_error
    seen_ids = SeenIds()
    shard_info: list[tuple[str, str | None]] = []  # sequence number -> (path, split)
    seen_paths: dict[str, str] = {}
    pairs: dict[tuple[str, str], int] = {}
    for i, entry in enumerate(files):
        where = f"files[{i}]"
        if type(entry) is not dict:
            err("C1", f"{where}: must be an object, got {_jtype(entry)}")
            continue
        for key in ("split", "objective", "shards"):
            if key not in entry:
                err("C1", f"{where}: missing {_show(key)}")
        for key in entry:
            if key not in _FILE_KEYS:
                err("C7", f"{where}.{key}: unknown file-entry key")
        split = entry.get("split")
        if "split" in entry and split not in SPLITS:
            err("C2", f"{where}.split: {_show(split)} is not one of {', '.join(SPLITS)}")
        objective = entry.get("objective")
        if "objective" in entry and objective not in OBJECTIVES:
            err(
                "C3", f"{where}.objective: {_show(objective)} is not one of {', '.join(OBJECTIVES)}"
            )
        if "format" in entry and entry["format"] != "jsonl":
            err("C4", f"{where}.format: {_show(entry['format'])} is not 'jsonl'")
        file_toolset = entry.get("toolset_id")
        if "toolset_id" in entry:
            if type(file_toolset) is not str:
                err("C5", f"{where}.toolset_id: must be a string")
                file_toolset = None
            elif file_toolset not in base.toolsets:
                err("C5", f"{where}.toolset_id: unknown toolset {_show(file_toolset)}")
        if "notes" in entry and type(entry["notes"]) is not str:
            err("C6", f"{where}.notes: must be a string")
        valid_split = split if split in SPLITS else None
        valid_objective = objective if objective in OBJECTIVES else None
        if valid_split is not None and valid_objective is not None:
            pair = (valid_split, valid_objective)
            if pair in pairs:
                sink.warning(
                    "C19",
                    METADATA_FILE,
                    None,
                    f"{where}: ({valid_split}, {valid_objective}) is also files[{pairs[pair]}]",
                )
            else:
                pairs[pair] = i
        shards = entry.get("shards")
        if "shards" in entry and (type(shards) is not list or not shards):
            err("C8", f"{where}.shards: must be a non-empty array")
        if type(shards) is not list:
            continue
        ctx = RecordContext(
            toolsets=base.toolsets,
            file_toolset_id=file_toolset,
            default_toolset_id=base.default_toolset_id,
            asset_ids=base.asset_ids,
            tool_schemas=base.tool_schemas,
        )
        for j, shard in enumerate(shards):
            path = shard.get("path") if type(shard) is dict else None
            if type(path) is str:
                normal = _normal_path(path)
                if normal in seen_paths:
                    err("C18", f"{where}.shards[{j}]: {_show(path)} is also {seen_paths[normal]}")
                    continue
                seen_paths[normal] = f"{where}.shards[{j}]"
            id_sink = None
            if type(path) is str:
                id_sink = _id_sink(
                    seen_ids, shard_info, path, valid_split, sink, forbid_split_leakage
                )
            check = verify_shard(
                package_dir,
                shard,
                valid_objective,
                ctx,
                id_sink=id_sink,
                warnings=True,
                asset_refs=asset_refs,
                trusted_sha256=verified_shards.get(path) if type(path) is str else None,
                limits=limits,
            )
            sink.merge(check)
            tally.records += check.record_count
            tally.shards += 1
            tally.trusted += not check.parsed
    return tally


def _id_sink(
    seen: SeenIds,
    shard_info: list[tuple[str, str | None]],
    path: str,
    split: str | None,
    sink: _Sink,
    forbid_split_leakage: bool,
) -> IdSink:
    """D7/L1: feed a shard's ids to the package-wide id set."""
    sequence = len(shard_info)
    shard_info.append((path, split))
    base = sequence << _LINE_BITS

    def add(digests: list[bytes], lines: list[int]) -> None:
        positions = [base | line for line in lines]
        for index, first in seen.add_batch(digests, positions):
            first_path, first_split = shard_info[first >> _LINE_BITS]
            first_line = first & _LINE_MASK
            line = lines[index]
            sink.warning(
                "D7", path, line, f"duplicate id: first used at {first_path} line {first_line}"
            )
            if (
                forbid_split_leakage
                and split is not None
                and first_split is not None
                and split != first_split
            ):
                sink.error(
                    "L1",
                    path,
                    line,
                    f"id leaks across splits: used in {split} here and in {first_split} at "
                    f"{first_path} line {first_line}",
                )

    return add
