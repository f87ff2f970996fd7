"""Stage 5, manifest: metadata.json, verified before it is published, written last.

The candidate document is written to the work dir and the package is verified against it
(every manifest, toolset, shard and asset rule; shards that passed shards_verified - their
lines are byte for byte the records the validated stage judged - are checked by sha256
instead of being re-parsed), and no id may appear in
two splits (checked on the validated stage's id digests). Only a valid package gets its
metadata.json replaced, atomically, and only the version this build started from
(snapshot_base.py): a publisher that lost the race publishes nothing. Then shards no longer
listed are retired and, after the retention window, removed (package_gc.py). The snapshot's
quarantine pointer is written just before metadata.json (quarantine_snapshot.py): the
quarantine a reader of this metadata.json finds is this build's, already whole. On object
storage, the staging prefixes no build can adopt any more go too (staging_leftovers.py).
What the replaced metadata.json lists is recorded in the work dir before it is replaced, so a
kill between the publish and the GC leaves it to the next GC. A build that loses the publish
withdraws the shards and pointer it added; what a killed one left, the GC sweeps
(package_orphans.py).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from jsonl_assets.core.arrow_files import scan_ipc_file
from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.file_names import file_key
from jsonl_assets.core.manifest_builder import (
    EXTENSION_KEY,
    PartitionShards,
    build_manifest,
    manifest_bytes,
)
from jsonl_assets.core.quarantine_snapshot import pointer_rel, read_pointer, write_pointer
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.stage_report import StageError
from jsonl_assets.core.stages.staged_shards import STAGED_OBJECTS
from jsonl_assets.core.stages.staging_leftovers import clear_quietly
from jsonl_assets.core.stages.validate_stage import IDS
from jsonl_assets.core.store.atomic_files import write_atomic
from jsonl_assets.core.store.base import PreconditionFailed, read_bytes, store_for
from jsonl_assets.core.store.package_files import check_ours, own_manifest
from jsonl_assets.core.store.package_gc import (
    QuarantineSnapshots,
    Sweep,
    collect_garbage,
    record_retiring,
)
from jsonl_assets.core.store.package_orphans import withdraw_unpublished
from jsonl_assets.core.store.partition_lock import partition_lock
from jsonl_assets.core.store.published_manifests import note_published
from jsonl_assets.core.store.snapshot_base import (
    base_path,
    current_tag,
    forget_base,
    recorded_base,
)
from jsonl_assets.core.store.work_files import partition_dirs
from jsonl_assets.core.traces import format_trace
from jsonl_assets.core.trusted_shards import trusted_shards, untrusted_partitions
from jsonl_assets.core.verify.ids import LINE_BITS, LINE_MASK, PackageIds
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets.core.verify.records import ID_BATCH
from jsonl_assets.core.verify.report import Finding
from jsonl_assets.core.verify.verify_limits import DEFAULT_MAX_METADATA_BYTES, limits_for_records

MANIFEST_NAME = "metadata.json"
LEAKAGE_EXAMPLES = 10


class SourceVersionsDiffer(StageError):
    """Two partitions of one package read different versions of a source file."""


class PackageChangedError(StageError):
    """Another publisher replaced metadata.json after this build started (HTTP 412)."""


@dataclass
class ManifestResult:
    path: Path
    published: bool
    document: dict[str, Any]
    findings: list[Finding]
    error_count: int
    warning_count: int
    leakage: list[dict[str, Any]] = field(default_factory=list)
    leaked_ids: int = 0
    # Why the manifest was refused before it was verified (too large: `oversized`).
    refused: str | None = None
    seconds: float = 0.0
    collected: list[str] = field(default_factory=list)
    quarantine_pointer: str = ""  # the pointer to the quarantine published with it
    # The verified candidate in the work dir (None: refused before it was written).
    candidate: Path | None = None
    # What a refusal should tell beside verify's findings (how to avoid it).
    hints: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.error_count == 0 and self.leaked_ids == 0


def split_leakage(
    cfg: PipelineConfig, partitions: Sequence[PartitionShards]
) -> tuple[int, list[dict[str, Any]]]:
    """Ids present in more than one split, from the validated stage's digests, split by split
    (the order of SPLITS) through the verifier's `PackageIds`.

    Returns the number of leaks (each occurrence of an id whose first occurrence is in another
    split) and the first examples, naming where both copies came from."""
    ids = PackageIds()
    entries: list[dict[str, Any]] = []  # file number -> the partition's source file entry
    leaked = 0
    examples: list[dict[str, Any]] = []
    id_files: dict[str, Path] = {}
    for p in partitions:
        dirs = partition_dirs(
            cfg.output.work_dir, cfg.output.quarantine_dir, cfg.output.dir, p.objective, p.split
        )
        if dirs.file(IDS).exists():
            id_files[p.key] = dirs.file(IDS)
    if len({key.split("|")[1] for key in id_files}) < 2:
        return 0, []  # ids in one split at most: nothing can leak
    for split in SPLITS:
        for p in partitions:
            path = id_files.get(p.key)
            if p.split != split or path is None:
                continue
            base = len(ids.files)
            for f in p.files:
                ids.add_file(f"{p.key}:{f['file']}", split)
                entries.append(f)
            scan = scan_ipc_file(path)
            height = scan.select(pl.len()).collect().item()
            for offset in range(0, height, ID_BATCH):  # a batch in memory at a time
                batch = scan.slice(offset, ID_BATCH).collect()
                his, los = batch.get_column("hi").to_list(), batch.get_column("lo").to_list()
                digests = [
                    h.to_bytes(8, "big") + lo.to_bytes(8, "big")
                    for h, lo in zip(his, los, strict=True)
                ]
                places = [
                    ((base + (pos >> LINE_BITS)) << LINE_BITS) | (pos & LINE_MASK)
                    for pos in batch.get_column("pos").to_list()
                ]
                for repeat in ids.add(digests, places):
                    if not repeat.leak:
                        continue
                    leaked += 1
                    if len(examples) < LEAKAGE_EXAMPLES:
                        place = places[repeat.index]
                        first_split = ids.files[repeat.first_file][1]
                        examples.append(
                            {
                                "splits": [first_split, split],
                                "first": _trace(entries[repeat.first_file], repeat.first_line),
                                "second": _trace(entries[place >> LINE_BITS], place & LINE_MASK),
                            }
                        )
    return leaked, examples


LEAKS_NAMED = 3  # leaks a refusal's message names (the check's table holds LEAKAGE_EXAMPLES)
ERRORS_NAMED = 3  # verify errors a refusal's message names (the check's table holds more)


def errors_summary(errors: int, findings: Sequence[Mapping[str, Any]]) -> str:
    """The first ERRORS_NAMED error findings, each its rule, file (and line) and message, so
    that a refusal says which check failed: `A4 metadata.json: dataset.name: is blank ...`;
    "" when no error finding is given. Control characters are escaped."""
    named = [_finding(f) for f in findings if f.get("severity") == "error"][:ERRORS_NAMED]
    if not named:
        return ""
    more = f"; {errors - len(named)} more" if errors > len(named) else ""
    return f"{'; '.join(named)}{more}"


def _finding(finding: Mapping[str, Any]) -> str:
    line = finding.get("line")
    where = f"{finding.get('file')}{f' line {line}' if line is not None else ''}"
    return _printable(f"{finding.get('rule')} {where}: {finding.get('message')}")


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def leakage_summary(leaked: int, examples: Sequence[Mapping[str, Any]]) -> str:
    """`<n> ids in two splits`, then where the first leaks' two copies came from (split,
    source, file, position), so that a refusal can be acted on from its message alone:
    `1 ids in two splits: an id in train at raw/tr.jsonl line 2 (source tr) is in test at
    raw/te.jsonl line 2 (source te)`. Control characters of a file name are escaped."""
    text = f"{leaked} ids in two splits"
    named = [_leak(x) for x in examples[:LEAKS_NAMED]]
    if not named:
        return text
    more = f"; {leaked - len(named)} more" if leaked > len(named) else ""
    return f"{text}: {'; '.join(named)}{more}"


def _leak(example: Mapping[str, Any]) -> str:
    first_split, second_split = example["splits"]
    return (
        f"an id in {first_split} at {_place(example['first'])} is in {second_split} at "
        f"{_place(example['second'])}"
    )


def _place(trace: Mapping[str, Any] | None) -> str:
    if not trace:
        return "?"
    return f"{_printable(format_trace(trace))} (source {trace.get('source', '?')})"


def _trace(f: dict[str, Any], position: int) -> dict[str, Any]:
    trace = {"source": f["source"], "file": f["file"], f["kind"]: position}
    if "file_b64" in f:
        trace["file_b64"] = f["file_b64"]
    return trace


def ensure_one_version(partitions: Sequence[PartitionShards]) -> None:
    """Raise `SourceVersionsDiffer` when two partitions read a source file with different
    contents (it changed between them): such a package would mix two versions of it. A file
    is known by its `file_key`: two files whose shown names coincide are two files."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    mixed: list[str] = []
    for p in partitions:
        for f in p.files:
            key = (f["source"], file_key(f["file"], f.get("file_b64")))
            first = seen.setdefault(key, (f["sha256"], p.key))
            if first[0] != f["sha256"]:
                mixed.append(
                    f"{f['file']} (source {f['source']}): {first[1]} read sha256 "
                    f"{first[0][:12]}..., {p.key} read {f['sha256'][:12]}..."
                )
    if mixed:
        raise SourceVersionsDiffer(
            "a source file changed between the partitions that read it, so the package would "
            f"mix two versions of it; nothing was published. {'; '.join(mixed[:5])}"
            + (f"; and {len(mixed) - 5} more" if len(mixed) > 5 else "")
            + ". Build again: the partitions that read the old version are rebuilt"
        )


def publish_manifest(
    cfg: PipelineConfig,
    partitions: Sequence[PartitionShards],
    replace_other_dataset: bool = False,
) -> ManifestResult:
    """Verify and publish metadata.json. Two builds of the same package publish one after the
    other (they would otherwise share the candidate's and metadata.json's temporary files).
    A package of another dataset there is replaced only if `replace_other_dataset`."""
    with partition_lock(cfg.output.work_dir / "manifest", "manifest"):
        return _publish(cfg, partitions, replace_other_dataset)


def _publish(
    cfg: PipelineConfig, partitions: Sequence[PartitionShards], replace_other_dataset: bool
) -> ManifestResult:
    started = time.perf_counter()
    store = store_for(cfg.output.dir)
    expected = recorded_base(cfg) or current_tag(cfg)  # publish replaces this version only
    previous = own_manifest(cfg.output.dir)
    # metadata.json replaces only our own, of this dataset (or one we are told to replace)
    check_ours(cfg.output.dir, cfg.output.work_dir, cfg.dataset.name, replace_other_dataset)
    ensure_one_version(partitions)
    document = build_manifest(cfg, partitions)
    data = manifest_bytes(document)
    if len(data) > DEFAULT_MAX_METADATA_BYTES:  # a default `verify` would refuse the package
        return _oversized(cfg, document, len(data), started)
    candidate = cfg.output.work_dir / "manifest" / MANIFEST_NAME
    write_atomic(candidate, data)
    verified = trusted_shards(cfg, partitions)  # the others are read record by record
    # The verifier's default caps: what this build publishes, a default `verify` accepts.
    # Lines (and a shard holding one such record) may be longer only up to
    # limits.max_record_bytes, as configured (the transform quarantines a longer record).
    limits = limits_for_records(cfg.max_record_bytes, max_metadata_bytes=DEFAULT_MAX_METADATA_BYTES)
    report = verify_package(
        cfg.output.dir, manifest_path=candidate, verified_shards=verified, limits=limits
    )
    leaked, leakage = split_leakage(cfg, partitions)
    result = ManifestResult(
        path=cfg.output.dir / MANIFEST_NAME,
        published=False,
        document=document,
        findings=report.findings,
        error_count=report.error_count,
        warning_count=report.warning_count,
        leakage=leakage,
        leaked_ids=leaked,
        candidate=candidate,
    )
    untrusted = untrusted_partitions(cfg, partitions)
    if report.error_count and untrusted:
        result.hints.append(_default_toolset_hint(cfg, untrusted))
    if result.valid:
        replaced = _current_bytes(result.path) if previous is not None else None
        quarantine = _quarantine_pointers(cfg, partitions, data, replaced)
        assert quarantine.published[1] is not None
        result.quarantine_pointer = os.fspath(cfg.output.quarantine_dir / quarantine.published[1])
        # What the replaced metadata.json lists, durably, before it is gone: a kill after the
        # publish leaves it for the next GC to retire (package_gc.record_retiring).
        record_retiring(cfg.output.work_dir, previous, quarantine)
        note_published(cfg.output.work_dir, data)  # this work dir's package, even if renamed
        reached("before_publish")
        replaced = store.stat(result.path)  # when what a reader may still hold was published
        try:
            store.publish(result.path, data, expected_tag=expected)
        except PreconditionFailed as exc:
            if _current_bytes(result.path) == data:
                pass  # another build of the same inputs published these very bytes meanwhile
            else:
                _withdraw(cfg, document, previous, quarantine)
                raise PackageChangedError(
                    f"package changed since this build started: {result.path} is no longer the "
                    f"version this build started from ({exc}); nothing was published. Build "
                    "again to publish on top of the new version"
                ) from exc
        finally:
            forget_base(cfg)
        result.published = True
        result.collected = collect_garbage(
            cfg.output.dir,
            cfg.output.work_dir,
            previous,
            document,
            cfg.output.retention_hours,
            quarantine=quarantine,
            sweep=Sweep(None if replaced is None else replaced.mtime_ns / 1e9),
        )
        own = [
            partition_dirs(cfg.output.work_dir, cfg.output.quarantine_dir, cfg.output.dir, o, s)
            for o in OBJECTIVES
            for s in SPLITS
        ]
        result.collected += [
            f"{STAGED_OBJECTS}/{name}/" for name in clear_quietly(cfg.output.dir, own)
        ]
    result.seconds = time.perf_counter() - started
    return result


def _withdraw(
    cfg: PipelineConfig,
    document: dict[str, Any],
    previous: dict[str, Any] | None,
    quarantine: QuarantineSnapshots,
) -> None:
    """The publish of `document` lost to another publisher: what this build moved into the
    package and the quarantine dir for it goes (package_orphans.withdraw_unpublished)."""
    root = cfg.output.quarantine_dir
    work = [cfg.output.work_dir / o / s for o in OBJECTIVES for s in SPLITS]
    base = store_for(base_path(cfg)).stat(base_path(cfg))  # when this build started to move
    since = None if base is None else base.mtime_ns / 1e9
    with contextlib.suppress(Exception):  # best effort: the refusal is what must be told
        withdraw_unpublished(
            cfg.output.dir,
            cfg.output.work_dir,
            document,
            previous,
            (root, *quarantine.published),
            work,
            since,
        )


def _default_toolset_hint(cfg: PipelineConfig, keys: list[str]) -> str:
    default = (cfg.defaults or {}).get("toolset_id")
    return (
        f"{', '.join(keys)}: records there inherit defaults.toolset_id {default!r}, a toolset "
        "only another partition's records derive, so the build could not check their tool "
        "calls against it and verified these shards record by record; declare that toolset in "
        "the config's `toolsets` (its tools as the package's metadata.json lists them, under "
        "an id of your own named by defaults.toolset_id if the config refuses the derived id) "
        "to have such records judged, and quarantined, by the build"
    )


def _oversized(
    cfg: PipelineConfig, document: dict[str, Any], size: int, started: float
) -> ManifestResult:
    """The manifest refused for its size, before anything is written or published."""
    extension = document.get("extensions", {}).get(EXTENSION_KEY, {})
    message = oversized_message(
        size, len(document.get("toolsets", [])), len(extension.get("source_files", []))
    )
    return ManifestResult(
        path=cfg.output.dir / MANIFEST_NAME,
        published=False,
        document=document,
        findings=[Finding("A1", "error", MANIFEST_NAME, None, message)],
        error_count=1,
        warning_count=0,
        refused=message,
        seconds=time.perf_counter() - started,
    )


def oversized_message(size: int, toolsets: int, source_files: int) -> str:
    cap = DEFAULT_MAX_METADATA_BYTES
    return (
        f"metadata.json would be {size} bytes, more than {cap} ({cap >> 20} MiB), the most "
        "`jsonl-assets verify` reads by default; it lists "
        f"{toolsets} toolsets and {source_files} source files. Nothing was published: the "
        "package is unchanged. Make it list fewer: fewer, larger files per source (e.g. "
        "concatenate small files), and fewer distinct tool lists (give a source's records "
        "one toolset with the adapter option toolset_id, or share one tool list among them)"
    )


def _quarantine_pointers(
    cfg: PipelineConfig,
    partitions: Sequence[PartitionShards],
    data: bytes,
    replaced: bytes | None,
) -> QuarantineSnapshots:
    """Write the quarantine pointer of the snapshot `data` (the new metadata.json's bytes),
    before metadata.json is committed; return it and the pointer of the snapshot `replaced`
    (for the GC)."""
    root = cfg.output.quarantine_dir
    old = (read_pointer(root, replaced), pointer_rel(replaced)) if replaced else (None, None)
    published = {p.key: p.quarantine for p in partitions if p.quarantine}
    rel = write_pointer(root, cfg.output.work_dir, data, published)
    return QuarantineSnapshots(root, old, (read_pointer(root, data), rel))


def _current_bytes(path: Path) -> bytes | None:
    try:
        return read_bytes(path)
    except FileNotFoundError:
        return None
