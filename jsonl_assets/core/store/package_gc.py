"""Garbage collection of shards no longer listed, after a publish and a retention window.

After metadata.json is published, a shard this project wrote (named by a ledger of the work
dir, or by the metadata.json it replaced) that the new metadata.json does not list is
*retired*: `<work_dir>/manifest/retired.json` records when it was first seen unlisted. It is
removed at a later publish (or this one, with `output.retention_hours: 0`) once it has been
retired for the retention window, so a reader still holding the old metadata.json keeps
every shard it lists for that long. What retired.json lists stays retired, with its first
time, until it is removed (it was ours when it was retired, even if no ledger names it: a
work dir lost, shards of a version before the ledgers), and stays ours for the foreign-file
check (package_files.owned) until then. A retired shard that is listed again is simply kept.
Removed names leave the ledgers; an emptied snapshot folder goes too, and so does any empty
snapshot folder nothing of ours lies in (a GC killed before its folder clean-up left one).
What the replaced metadata.json lists is recorded before the publish (`record_retiring`,
`manifest/retiring.json`): a build killed between the publish and the GC leaves it to the
next GC, which otherwise would not know it (another dataset's package, a work dir lost).
The quarantine files and snapshot pointers (quarantine_snapshot.py) are collected the same
way, with their own ledgers and `retired_quarantine.json`: a reader holding an old
metadata.json keeps its quarantine for as long as its shards. A quarantine dir may be shared by packages, whose
content-addressed folders can have one name (an empty quarantine's, say): a quarantine file
any pointer in the quarantine dir still names (another package's published or retired
snapshot) is never removed, only kept retired until no pointer names it; the choice is made
under the quarantine dir's lock, which the pointer's writer takes too
(quarantine_snapshot.quarantine_lock). The quarantine files of the layout before snapshots
(`<objective>/<split>/<stage>.jsonl`, quarantine_snapshot.legacy_files) are retired too.
What a publish that failed left in the snapshot folders, named by nothing (another work dir's,
or one lost), is swept after the window and a grace (`Sweep`, package_orphans.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.quarantine_snapshot import (
    claimed_files,
    files_named,
    is_quarantine_path,
    legacy_files,
    pointer_files,
    quarantine_lock,
)
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.shard_families import is_shard_path
from jsonl_assets.core.store.base import store_for, write_bytes
from jsonl_assets.core.store.package_files import (
    RETIRING_FILE,
    ledger_names,
    ledger_path,
    listed_shards,
    load_retired,
    load_retiring,
    retired_path,
    settle,
)
from jsonl_assets.core.store.package_orphans import (
    RETIRED_QUARANTINE,
    sweep_quarantine,
    sweep_shards,
)
from jsonl_assets.core.store.url import is_url

# A partition's snapshot folder, in `data/` and in the quarantine dir:
# `<objective>-<split>-<16 hex>`.
SNAPSHOT_FOLDER: Final = re.compile(
    rf"(?:{'|'.join(OBJECTIVES)})-(?:{'|'.join(SPLITS)})-[0-9a-f]{{16}}"
)


@dataclass(frozen=True)
class QuarantineSnapshots:
    """The quarantine dir and the pointers (doc, path relative to it) of the snapshot replaced
    (None if none) and of the one published (quarantine_snapshot.py)."""

    root: Path
    previous: tuple[dict[str, Any] | None, str | None]
    published: tuple[dict[str, Any] | None, str | None]


@dataclass(frozen=True)
class Sweep:
    """Sweep the snapshot folders for what a failed publish left (package_orphans.py):
    `replaced_at`, when the metadata.json replaced was published (None: there was none)."""

    replaced_at: float | None


def _partition_keys() -> list[tuple[str, str]]:
    return [(o, s) for o in OBJECTIVES for s in SPLITS]


def record_retiring(
    work_dir: Path, previous: dict[str, Any] | None, quarantine: QuarantineSnapshots | None
) -> None:
    """Before metadata.json is replaced: record durably (`manifest/retiring.json`, atomically,
    added to what an earlier build killed before its GC recorded there) the shards the
    document about to be replaced lists and the quarantine files its pointer names. The GC
    after the publish takes them as `previous`; a build killed in between leaves them there
    for the next GC, which would otherwise no longer know them (the replaced document is
    gone: another dataset's, or one whose work dir was lost)."""
    pending = load_retiring(work_dir)
    shards = pending.get("shards", set()) | listed_shards(previous)
    files = pending.get("quarantine", set())
    if quarantine is not None:
        files |= {n for n in pointer_files(*quarantine.previous) if is_quarantine_path(n)}
    if shards == pending.get("shards", set()) and files == pending.get("quarantine", set()):
        return  # nothing new (a first publish, or recorded already)
    doc = {"quarantine": sorted(files), "shards": sorted(shards)}
    write_bytes(retired_path(work_dir, RETIRING_FILE), orjson.dumps(doc))


def collect_garbage(
    package: Path,
    work_dir: Path,
    previous: dict[str, Any] | None,
    published: dict[str, Any],
    retention_hours: float,
    now: float | None = None,
    quarantine: QuarantineSnapshots | None = None,
    sweep: Sweep | None = None,
) -> list[str]:
    """Retire our shards that `published` (the new metadata.json) does not list, and remove
    those retired for `retention_hours`; `previous` is the metadata.json it replaced (None if
    there was none or not ours). With `quarantine`, the same for the quarantine files and
    pointers the new snapshot's pointer does not name. With `sweep`, also the files nothing
    names that a publish which failed left in the snapshot folders (package_orphans.py).
    Returns the paths removed."""
    now = time.time() if now is None else now
    pending = load_retiring(work_dir)  # what a replaced metadata.json listed (record_retiring)
    shard_ledgers = [ledger_path(work_dir / o / s) for o, s in _partition_keys()]
    ledgers = {ledger: ledger_names(ledger) for ledger in shard_ledgers}
    known = set().union(*ledgers.values(), pending.get("shards", set()))
    known |= listed_shards(previous) | listed_shards(published)
    known |= set(load_retired(retired_path(work_dir)))
    removed = _retire(
        package,
        ledgers,
        listed_shards(previous) | pending.get("shards", set()),
        listed_shards(published),
        retired_path(work_dir),
        retention_hours * 3600,
        now,
        is_shard_path,
        folders=("data", SNAPSHOT_FOLDER),
    )
    retention = retention_hours * 3600
    if sweep is not None:
        removed += sweep_shards(package, known, sweep.replaced_at, retention, now)
    if quarantine is not None:
        with quarantine_lock(quarantine.root):  # no pointer is written while we choose
            claimed = claimed_files(work_dir, _partition_keys())
            known_files = set().union(*claimed.values(), pending.get("quarantine", set()))
            known_files |= pointer_files(*quarantine.previous) | pointer_files(
                *quarantine.published
            )
            known_files |= set(load_retired(retired_path(work_dir, RETIRED_QUARANTINE)))
            removed += _retire(
                quarantine.root,
                claimed,
                pointer_files(*quarantine.previous) | pending.get("quarantine", set()),
                pointer_files(*quarantine.published),
                retired_path(work_dir, RETIRED_QUARANTINE),
                retention_hours * 3600,
                now,
                is_quarantine_path,
                legacy=legacy_files(quarantine.root),
                still_named=lambda due: files_named(quarantine.root, exclude=due),
                folders=("", SNAPSHOT_FOLDER),
            )
            if sweep is not None:
                removed += sweep_quarantine(
                    quarantine.root, known_files, sweep.replaced_at, retention, now
                )
    if pending:  # all retired now, in retired.json / retired_quarantine.json
        store_for(work_dir).remove(retired_path(work_dir, RETIRING_FILE))
    return removed


def _retire(
    root: Path,
    ledgers: dict[Path, set[str]],
    previous: set[str],
    listed: set[str],
    path: Path,
    retention: float,
    now: float,
    ours_shape: Callable[[str], bool],
    legacy: AbstractSet[str] = frozenset(),
    still_named: Callable[[set[str]], set[str]] | None = None,
    folders: tuple[str, re.Pattern[str]] | None = None,
) -> list[str]:
    """Under `root`: retire the files ours (in a ledger, `previous`, `legacy`, or retired
    already at `path`) but not `listed`, remove those retired for `retention` seconds (and
    the folders they leave empty), and settle the ledgers. Returns the paths removed,
    relative to `root`. A name retired earlier keeps its first time until it is removed or
    listed again; a name `previous` (the document just replaced) lists was listed until now,
    so its time is now, whatever an earlier retirement said (another work dir's build may
    have listed it again meanwhile). Of the names due, those `still_named` returns (named by
    a snapshot someone may still read: another package's, sharing the folder) stay retired.

    Only a name with the shape of a file this project writes there (`ours_shape`: a shard
    path, a quarantine file or pointer) is ever retired or removed: whatever else a ledger,
    the replaced document or a hand-edited retired record names (`../x`, an absolute path,
    `metadata.json`) is left alone.

    The folders `removed` leaves empty go, and so does any empty folder of our snapshot shape
    (`folders`, relative to `root`) that no name of ours lies in: one a GC killed before its
    folder clean-up left, whose names had already left the records. A folder holding anything
    (a foreign file, a partial copy) is kept; on object storage a folder is no object, so
    there is none to remove."""
    before = load_retired(path)
    named = set().union(*ledgers.values()) | previous | legacy | set(before)
    ours = {name for name in named if ours_shape(name)}
    retired = {
        name: now if name in previous else before.get(name, now) for name in sorted(ours - listed)
    }
    due = {name for name, since in retired.items() if now - since >= retention}
    if due and still_named is not None:
        due -= still_named(due)
    store = store_for(root)
    removed: list[str] = []
    for name in sorted(due):
        store.remove(root / name)
        removed.append(name)
    for name in removed:
        del retired[name]
    if retired or before:
        write_bytes(path, orjson.dumps(retired, option=orjson.OPT_SORT_KEYS))
    gone = set(removed)
    for ledger, names in ledgers.items():
        if names & gone:
            settle(ledger, names - gone)
    emptied = {str(parent) for name in removed for parent in Path(name).parents}
    kept = {str(Path(name).parent) for name in (named | listed) - gone}
    emptied |= _snapshot_folders(root, folders) - kept
    for folder in sorted(emptied - {".", "data"}, key=lambda f: (-f.count("/"), f)):
        _remove_if_empty(root / folder)  # the deepest first: `sft/train`, then `sft`
    return removed


def _remove_if_empty(folder: Path) -> None:
    """Remove `folder` if it holds nothing. On disk by rmdir, which refuses a folder another
    build has just written into (a partial copy); on object storage a folder is a prefix, with
    nothing to remove once its objects are gone."""
    with contextlib.suppress(OSError):
        if is_url(folder):
            store = store_for(folder)
            if not any(store.list(folder)):
                store.remove(folder, recursive=True)
        else:
            os.rmdir(folder)


def _snapshot_folders(root: Path, shape: tuple[str, re.Pattern[str]] | None) -> set[str]:
    """The folders (no symlinks) in `root`'s subfolder `shape[0]` whose name matches
    `shape[1]` (our snapshot folders' shape), relative to `root`."""
    if shape is None:
        return set()
    parent, pattern = shape
    where = root / parent if parent else root
    return {
        f"{parent}/{e.name}" if parent else e.name
        for e in list(store_for(where).list(where))
        if e.is_dir and not e.is_symlink and pattern.fullmatch(e.name)
    }
