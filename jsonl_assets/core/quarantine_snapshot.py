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

A quarantine dir may be shared by packages (each with its own work dir): two of them can
publish one folder name (the same content: an empty quarantine), at the same time. A copy on
disk goes through a temporary name of its own (pid-tagged), and the clean-up of partial copies
removes only those whose writer is gone; an upload to object storage, whose clean-up aborts
every upload of the partition's folders, is made under the quarantine dir's lock
(`quarantine_lock`). The pointer and the GC take that lock too: the GC never removes a file
that any pointer in the dir names (`files_named`), and a pointer is written once every file it
names is checked present, a file another package's GC removed since the shards stage being
copied again from the work dir: a published pointer always resolves. On object storage the
lock is local (keyed by the URL): builds on other machines are not kept apart by it (README).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
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
from jsonl_assets.core.store.package_lock import PackageLock
from jsonl_assets.core.store.url import is_url
from jsonl_assets.core.store.work_files import QUARANTINE_DIR, PartitionDirs, split_partition_key

SNAPSHOTS: Final = "snapshots"
LEDGER: Final = "quarantine_files"
MANIFEST: Final = "metadata.json"
LOCK_WAIT: Final = 600.0  # seconds: held to write a pointer, GC, or upload a quarantine
_READ: Final = 4 << 20
_O, _S, _STAGES = "|".join(OBJECTIVES), "|".join(SPLITS), "|".join(STAGE_RATE)
_QUARANTINE_PATH: Final = re.compile(
    rf"(?:(?:{_O})-(?:{_S})-[0-9a-f]{{16}}/(?:{_STAGES})\.jsonl|{SNAPSHOTS}/[0-9a-f]{{16}}\.json"
    rf"|(?:{_O})/(?:{_S})/(?:{_STAGES})\.jsonl)"
)


class QuarantineMissing(StageError):
    """A file the published quarantine snapshot names is not in the quarantine dir."""


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
    """sha256, size and line count of a work-dir file (streamed; a regular file only)."""
    digest, size, lines = hashlib.sha256(), 0, 0
    with store_for(path).open_read(path) as handle:
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
    root = dirs.quarantine_root
    store = store_for(root)
    files = []
    # Another package's build may copy into this folder at the same time: on disk each copy has
    # a temporary name of its own; an upload (whose clean-up aborts any) is made under the lock.
    with quarantine_lock(root) if is_url(root) else contextlib.nullcontext():
        remove_partial_copies(dirs)
        for stage, source, sha, size, lines in found:
            rel = f"{folder}/{source.name}"
            target = root / rel
            st = store.stat(target)
            if st is None or st.is_dir or st.size != size:
                claim(partition_ledger(dirs), rel)
                _copy_in(source, target)
            files.append(
                {"path": rel, "stage": stage, "sha256": sha, "bytes": size, "records": lines}
            )
    return {"folder": folder, "files": files}


def _copy_in(source: Path, target: Path) -> None:
    """Copy the work-dir file `source` to `target` in the quarantine dir, atomically, through
    a temporary of this writer's own (`shared`): another package's build may write the same
    content-addressed name at the same time, and its clean-up leaves a live writer's alone."""
    store = store_for(target)
    try:
        copy_file_in(store, source, target, _READ, shared=True)
    except FileNotFoundError:  # another package's GC removed the folder, empty, just then
        copy_file_in(store, source, target, _READ, shared=True)


def remove_partial_copies(dirs: PartitionDirs) -> None:
    """Clear what a killed copy left in any of the partition's quarantine folders (this
    build's or an earlier one's, any package's): an incomplete multipart upload on object
    storage (never visible, but billed until aborted; called under `quarantine_lock`, so no
    upload of this machine is in progress), or on disk a hidden `.partial` file whose writer
    (the pid in its name) is gone, or of the untagged name versions before this one wrote."""
    root = dirs.quarantine_root
    store = store_for(root)
    if is_url(root):  # an upload is no object: its folder may list nothing
        store.remove_partials(root, f"{dirs.family_prefix}-")
        return
    pattern = re.compile(rf"{re.escape(dirs.family_prefix)}-[0-9a-f]{{16}}")
    for entry in list(store.list(root)):
        if entry.is_dir and not entry.is_symlink and pattern.fullmatch(entry.name):
            store.remove_partials(root / entry.name)


@contextlib.contextmanager
def quarantine_lock(quarantine_root: Path) -> Iterator[None]:
    """Hold the quarantine dir's lock (package_lock.PackageLock of that dir: a kernel lock in
    it, or for a URL a local lock keyed by it): a pointer is written, the GC chooses and
    removes, and (on object storage) a partition's quarantine is uploaded, one at a time."""
    lock = PackageLock(quarantine_root)
    lock.acquire(LOCK_WAIT)
    try:
        yield
    finally:
        lock.release()


def write_pointer(
    quarantine_root: Path, work_dir: Path, metadata: bytes, partitions: dict[str, dict[str, Any]]
) -> str:
    """Write the pointer of the snapshot `metadata` (before metadata.json is committed):
    each partition's published quarantine, every file of which is there (`_restore`).
    Returns its path relative to the quarantine dir."""
    rel = pointer_rel(metadata)
    path = quarantine_root / rel
    doc = {
        "metadata_sha256": hashlib.sha256(metadata).hexdigest(),
        "partitions": {key: partitions[key] for key in sorted(partitions)},
    }
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
    with quarantine_lock(quarantine_root):
        for key in sorted(partitions):
            _restore(quarantine_root, work_dir, key, partitions[key]["files"])
        if _read(path) != data:  # the same bytes again (a rerun, an unchanged package): kept
            claim(pointer_ledger(work_dir), rel)
            write_bytes(path, data)
    return rel


def _restore(quarantine_root: Path, work_dir: Path, key: str, files: list[dict[str, Any]]) -> None:
    """Copy again from the work dir each of the partition's published quarantine `files`
    that is no longer in the quarantine dir (another package's GC removed a folder of the
    same name since the shards stage found it there)."""
    store = store_for(quarantine_root)
    objective, split = split_partition_key(key)
    work = work_dir / objective / split
    for entry in files:
        target = quarantine_root / entry["path"]
        st = store.stat(target)
        if st is not None and not st.is_dir and st.size == entry["bytes"]:
            continue
        source = work / QUARANTINE_DIR / f"{entry['stage']}.jsonl"
        if not source.is_file() or _digest(source)[0] != entry["sha256"]:
            raise StageError(
                f"{key}: the quarantine file {target} is gone from the quarantine dir and the "
                "work dir no longer holds its content; nothing was published. Build the "
                "partition again (--force) to publish its quarantine anew"
            )
        claim(work / LEDGER, entry["path"])
        _copy_in(source, target)


def files_named(quarantine_root: Path, exclude: AbstractSet[str] = frozenset()) -> set[str]:
    """The quarantine files that the pointers in the quarantine dir name (any package's
    snapshot: published, or replaced and not yet removed), but for the pointers in
    `exclude`: what no clean-up may remove."""
    store = store_for(quarantine_root)
    names: set[str] = set()
    for entry in list(store.list(quarantine_root / SNAPSHOTS)):
        rel = f"{SNAPSHOTS}/{entry.name}"
        if entry.is_dir or rel in exclude or not is_quarantine_path(rel):
            continue
        try:
            doc = orjson.loads(read_bytes(quarantine_root / rel))
        except (FileNotFoundError, orjson.JSONDecodeError):
            continue  # removed meanwhile, or no pointer a reader could resolve
        partitions = doc.get("partitions") if isinstance(doc, dict) else None
        for part in partitions.values() if isinstance(partitions, dict) else []:
            files = part.get("files") if isinstance(part, dict) else None
            for f in files if isinstance(files, list) else []:
                if isinstance(f, dict) and isinstance(f.get("path"), str):
                    names.add(f["path"])
    return names


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
    found = {
        key: [quarantine_root / f["path"] for f in entry["files"]]
        for key, entry in doc["partitions"].items()
    }
    store = store_for(quarantine_root)
    missing = [p for paths in found.values() for p in paths if store.stat(p) is None]
    if missing:
        raise QuarantineMissing(
            f"the quarantine published with {package / MANIFEST} is incomplete: "
            f"{snapshot_path(quarantine_root, metadata)} names {missing[0]}, which is gone"
            + f" (and {len(missing) - 1} more)" * (len(missing) > 1)
            + "; build the package again to publish its quarantine anew"
        )
    return found


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
