"""The quarantine published with a package snapshot, so that both always describe one build.

The record stages write a partition's quarantine in its work dir. The shards stage publishes
it to `<quarantine_dir>/<objective>-<split>-<digest>/<stage>.jsonl`, the folder named after
the files' content (a published file is never rewritten; an unchanged quarantine keeps its
folder). Before metadata.json is committed, the manifest stage writes the snapshot's pointer,
`<quarantine_dir>/snapshots/<digest of the metadata.json bytes>.json`, naming each partition's
folder and files: a reader holding a metadata.json finds exactly that build's quarantine
(`published_quarantine`). Each file is claimed in a work-dir ledger before it gets its name,
so the retention GC (package_gc.py) removes only files this project wrote. A copy killed
midway (a multipart upload on object storage) is cleared by the partition's next publish.
The layout before snapshots (c8beb97 up to 91f5056), `<objective>/<split>/<stage>.jsonl`,
named by no ledger nor pointer, is found by listing (`legacy_files`: exactly those names)
and retired and removed like the files of a snapshot no longer published.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.rules.reject_reasons import STAGE_RATE
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.shard_families import snapshot_digest
from jsonl_assets.core.stage_report import StageError
from jsonl_assets.core.store.base import copy_file_in, read_bytes, store_for, write_bytes
from jsonl_assets.core.store.package_files import claim, ledger_names
from jsonl_assets.core.store.url import is_url
from jsonl_assets.core.store.work_files import PartitionDirs

SNAPSHOTS: Final = "snapshots"
LEDGER: Final = "quarantine_files"
MANIFEST: Final = "metadata.json"
_READ: Final = 4 << 20
_O, _S, _STAGES = "|".join(OBJECTIVES), "|".join(SPLITS), "|".join(STAGE_RATE)
_QUARANTINE_PATH: Final = re.compile(
    rf"(?:(?:{_O})-(?:{_S})-[0-9a-f]{{16}}/(?:{_STAGES})\.jsonl|{SNAPSHOTS}/[0-9a-f]{{16}}\.json"
    rf"|(?:{_O})/(?:{_S})/(?:{_STAGES})\.jsonl)"
)


def is_quarantine_path(rel: str) -> bool:
    """Whether `rel` (relative to the quarantine dir) has the shape of a file this module
    writes: `<objective>-<split>-<16 hex>/<stage>.jsonl` or `snapshots/<16 hex>.json`; or
    wrote before snapshots: `<objective>/<split>/<stage>.jsonl`."""
    return _QUARANTINE_PATH.fullmatch(rel) is not None


def legacy_files(quarantine_root: Path) -> set[str]:
    """The files of the layout before snapshots under the quarantine dir,
    `<objective>/<split>/<stage>.jsonl` (regular files of exactly those names; a symlink or
    anything else there is not ours), relative to it."""
    store = store_for(quarantine_root)
    found: set[str] = set()
    for objective in _folders(quarantine_root, OBJECTIVES):
        for split in _folders(quarantine_root / objective, SPLITS):
            found |= {
                f"{objective}/{split}/{e.name}"
                for e in store.list(quarantine_root / objective / split)
                if not e.is_dir and not e.is_symlink
                and is_quarantine_path(f"{objective}/{split}/{e.name}")
            }  # fmt: skip
    return found


def _folders(parent: Path, names: tuple[str, ...]) -> list[str]:
    entries = store_for(parent).list(parent)
    return sorted(e.name for e in entries if e.is_dir and not e.is_symlink and e.name in names)


def pointer_rel(metadata: bytes) -> str:
    """The pointer of the snapshot whose metadata.json is `metadata` (its bytes), relative to
    the quarantine dir."""
    return f"{SNAPSHOTS}/{hashlib.sha256(metadata).hexdigest()[:16]}.json"


def snapshot_path(quarantine_root: Path, metadata: bytes) -> Path:
    return quarantine_root / pointer_rel(metadata)


def partition_ledger(dirs: PartitionDirs) -> Path:
    return dirs.work / LEDGER


def pointer_ledger(work_dir: Path) -> Path:
    return work_dir / "manifest" / LEDGER


def _digest(path: Path) -> tuple[str, int, int]:
    """sha256, size and line count of a work-dir file (streamed)."""
    digest, size, lines = hashlib.sha256(), 0, 0
    with open(path, "rb") as handle:
        while data := handle.read(_READ):
            digest.update(data)
            size += len(data)
            lines += data.count(b"\n")
    return digest.hexdigest(), size, lines


def publish_quarantine(cfg: PipelineConfig, dirs: PartitionDirs) -> dict[str, Any]:
    """Copy the partition's quarantine (as its record stages wrote it) into its
    content-addressed folder under the quarantine dir, unless it is there already; return
    the folder and its files (path relative to the quarantine dir, stage, sha256, bytes,
    records). A partition no source feeds with nothing quarantined publishes nothing ({}):
    whether it was built empty (a schedule, a backfill) or never (the CLI skips it), the
    snapshot is the same."""
    found = []
    for stage in STAGE_RATE:
        source = dirs.quarantine / f"{stage}.jsonl"
        if not source.is_file():
            raise StageError(
                f"{dirs.key}: the {stage} quarantine {source} is gone from the work dir; "
                "build the partition again (--force) to write it"
            )
        found.append((stage, source, *_digest(source)))
    if not cfg.sources_for(dirs.objective, dirs.split) and not any(f[3] for f in found):
        return {}
    folder = f"{dirs.family_prefix}-{snapshot_digest((s.name, h, n) for _, s, h, n, _ in found)}"
    store = store_for(dirs.quarantine_root)
    remove_partial_copies(dirs)
    files = []
    for stage, source, sha, size, lines in found:
        rel = f"{folder}/{source.name}"
        target = dirs.quarantine_root / rel
        st = store.stat(target)
        if st is None or st.is_dir or st.size != size:
            claim(partition_ledger(dirs), rel)
            copy_file_in(store, source, target, _READ)
        files.append({"path": rel, "stage": stage, "sha256": sha, "bytes": size, "records": lines})
    return {"folder": folder, "files": files}


def remove_partial_copies(dirs: PartitionDirs) -> int:
    """Clear what a killed copy left in any of the partition's quarantine folders (this
    build's or an earlier one's): an incomplete multipart upload on object storage (never
    visible, but billed until aborted), a hidden `.partial` file on disk. Returns how many."""
    root = dirs.quarantine_root
    store = store_for(root)
    if is_url(root):  # an upload is no object: its folder may list nothing
        return store.remove_partials(root, f"{dirs.family_prefix}-")
    pattern = re.compile(rf"{re.escape(dirs.family_prefix)}-[0-9a-f]{{16}}")
    return sum(
        store.remove_partials(root / entry.name)
        for entry in list(store.list(root))
        if entry.is_dir and not entry.is_symlink and pattern.fullmatch(entry.name)
    )


def write_pointer(
    quarantine_root: Path, work_dir: Path, metadata: bytes, partitions: dict[str, dict[str, Any]]
) -> str:
    """Write the pointer of the snapshot `metadata` (before metadata.json is committed):
    each partition's published quarantine. Returns its path relative to the quarantine dir."""
    rel = pointer_rel(metadata)
    path = quarantine_root / rel
    doc = {
        "metadata_sha256": hashlib.sha256(metadata).hexdigest(),
        "partitions": {key: partitions[key] for key in sorted(partitions)},
    }
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
    if _read(path) != data:  # the same bytes again (a rerun, an unchanged package): kept
        claim(pointer_ledger(work_dir), rel)
        write_bytes(path, data)
    return rel


def _read(path: Path) -> bytes | None:
    try:
        return read_bytes(path)
    except FileNotFoundError:
        return None


def read_pointer(quarantine_root: Path, metadata: bytes) -> dict[str, Any] | None:
    """The pointer of the snapshot `metadata` (a metadata.json's bytes), or None if that
    snapshot has none (published before quarantines were, or not by this project)."""
    data = _read(snapshot_path(quarantine_root, metadata))
    if data is None:
        return None
    doc = orjson.loads(data)
    expected = hashlib.sha256(metadata).hexdigest()
    if not isinstance(doc, dict) or doc.get("metadata_sha256") != expected:
        return None
    return doc


def published_quarantine(package: Path, quarantine_root: Path) -> dict[str, list[Path]] | None:
    """The quarantine files of the package's published snapshot, per partition
    (`objective|split`), in stage order; None if it has no pointer."""
    metadata = read_bytes(package / MANIFEST)
    doc = read_pointer(quarantine_root, metadata)
    if doc is None:
        return None
    return {
        key: [quarantine_root / f["path"] for f in entry["files"]]
        for key, entry in doc["partitions"].items()
    }


def pointer_files(doc: dict[str, Any] | None, rel: str | None) -> set[str]:
    """Every file a pointer names (relative to the quarantine dir), itself included."""
    if doc is None:
        return set()
    names = {f["path"] for entry in doc.get("partitions", {}).values() for f in entry["files"]}
    return names | ({rel} if rel else set())


def claimed_files(work_dir: Path, keys: list[tuple[str, str]]) -> dict[Path, set[str]]:
    """The quarantine files (and pointers) this work dir claimed, per ledger."""
    ledgers = [work_dir / o / s / LEDGER for o, s in keys] + [pointer_ledger(work_dir)]
    return {ledger: ledger_names(ledger) for ledger in ledgers}
