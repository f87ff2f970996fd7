"""Stage 5, manifest: metadata.json, verified before it is published, written last.

The candidate document is written to the work dir and the package is verified against it
(every manifest, toolset, shard and asset rule; shards that passed shards_verified - their
lines are byte for byte the records the validated stage judged - are checked by sha256
instead of being re-parsed), and no id may appear in
two splits (checked on the validated stage's id digests). Only a valid package gets its
metadata.json replaced, atomically, and only the version this build started from
(snapshot_base.py): a publisher that lost the race publishes nothing. Then shards no longer
listed are retired and, after the retention window, removed (package_gc.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.manifest_builder import PartitionShards, build_manifest, manifest_bytes
from jsonl_assets.core.rules.spec_vocabulary import SPLITS
from jsonl_assets.core.stage_report import StageError
from jsonl_assets.core.stages.validate_stage import IDS
from jsonl_assets.core.store.atomic_files import write_atomic
from jsonl_assets.core.store.base import PreconditionFailed, read_bytes, store_for
from jsonl_assets.core.store.package_files import check_package, own_manifest
from jsonl_assets.core.store.package_gc import collect_garbage
from jsonl_assets.core.store.partition_lock import partition_lock
from jsonl_assets.core.store.snapshot_base import current_tag, forget_base, recorded_base
from jsonl_assets.core.store.work_files import partition_dirs
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets.core.verify.report import Finding
from jsonl_assets.core.verify.verify_limits import (
    DEFAULT_MAX_LINE_BYTES,
    DEFAULT_MAX_METADATA_BYTES,
    VerifyLimits,
)

MANIFEST_NAME = "metadata.json"
LEAKAGE_EXAMPLES = 10


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
    seconds: float = 0.0
    collected: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.error_count == 0 and self.leaked_ids == 0


def split_leakage(
    cfg: PipelineConfig, partitions: Sequence[PartitionShards]
) -> tuple[int, list[dict[str, Any]]]:
    """Ids present in more than one split, from the validated stage's digests.

    Returns the number of leaked ids and examples naming where each copy came from."""
    by_split: dict[str, list[tuple[Path, list[dict[str, Any]]]]] = {s: [] for s in SPLITS}
    for p in partitions:
        dirs = partition_dirs(
            cfg.output.work_dir, cfg.output.quarantine_dir, cfg.output.dir, p.objective, p.split
        )
        by_split[p.split].append((dirs.file(IDS), list(p.files)))
    frames: dict[str, pl.LazyFrame] = {}
    for split, items in by_split.items():
        parts = [
            pl.scan_ipc(path).with_columns(pl.lit(n, dtype=pl.UInt32).alias("part"))
            for n, (path, _) in enumerate(items)
            if path.exists()
        ]
        if parts:
            frames[split] = pl.concat(parts)
    leaked = 0
    examples: list[dict[str, Any]] = []
    names = sorted(frames, key=SPLITS.index)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            joined = (
                frames[a]
                .join(frames[b], on=["hi", "lo"], how="inner", suffix="_b")
                .collect(engine="streaming")
            )
            leaked += joined.height
            for row in joined.head(LEAKAGE_EXAMPLES).iter_rows(named=True):
                examples.append(
                    {
                        "splits": [a, b],
                        "first": _trace(by_split[a][row["part"]][1], row["pos"]),
                        "second": _trace(by_split[b][row["part_b"]][1], row["pos_b"]),
                    }
                )
    return leaked, examples[:LEAKAGE_EXAMPLES]


def _trace(files: list[dict[str, Any]], packed: int | None) -> dict[str, Any] | None:
    if packed is None:
        return None
    fi, position = packed >> 40, packed & ((1 << 40) - 1)
    f = files[fi]
    trace = {"source": f["source"], "file": f["file"], f["kind"]: position}
    if "file_b64" in f:
        trace["file_b64"] = f["file_b64"]
    return trace


def publish_manifest(cfg: PipelineConfig, partitions: Sequence[PartitionShards]) -> ManifestResult:
    """Verify and publish metadata.json. Two builds of the same package publish one after the
    other (they would otherwise share the candidate's and metadata.json's temporary files)."""
    with partition_lock(cfg.output.work_dir / "manifest", "manifest"):
        return _publish(cfg, partitions)


def _publish(cfg: PipelineConfig, partitions: Sequence[PartitionShards]) -> ManifestResult:
    started = time.perf_counter()
    store = store_for(cfg.output.dir)
    expected = recorded_base(cfg) or current_tag(cfg)  # publish replaces this version only
    previous = own_manifest(cfg.output.dir)
    check_package(cfg.output.dir, cfg.output.work_dir)  # metadata.json replaces only our own
    document = build_manifest(cfg, partitions)
    data = manifest_bytes(document)
    candidate = cfg.output.work_dir / "manifest" / MANIFEST_NAME
    write_atomic(candidate, data)
    verified = {s["path"]: s["sha256"] for p in partitions for s in p.shards}
    # The verifier's caps guard against foreign packages; here they must not refuse what
    # this build wrote: its own manifest, and records up to limits.max_record_bytes (a
    # written line can be longer than its input, e.g. a CSV field's escapes: 8x room).
    limits = VerifyLimits(
        max_metadata_bytes=max(DEFAULT_MAX_METADATA_BYTES, len(data)),
        max_line_bytes=max(DEFAULT_MAX_LINE_BYTES, 8 * cfg.max_record_bytes),
    )
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
    )
    if result.valid:
        reached("before_publish")
        try:
            store.publish(result.path, data, expected_tag=expected)
        except PreconditionFailed as exc:
            if _current_bytes(result.path) == data:
                pass  # another build of the same inputs published these very bytes meanwhile
            else:
                raise PackageChangedError(
                    f"package changed since this build started: {result.path} is no longer the "
                    f"version this build started from ({exc}); nothing was published. Build "
                    "again to publish on top of the new version"
                ) from exc
        finally:
            forget_base(cfg)
        result.published = True
        result.collected = collect_garbage(
            cfg.output.dir, cfg.output.work_dir, previous, document, cfg.output.retention_hours
        )
    result.seconds = time.perf_counter() - started
    return result


def _current_bytes(path: Path) -> bytes | None:
    try:
        return read_bytes(path)
    except FileNotFoundError:
        return None
