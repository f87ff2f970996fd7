"""What a build whose publish failed left in the package, and how it goes.

A build moves its shards into content-addressed snapshot folders and writes its quarantine
folders and pointer before it publishes metadata.json. A publish that then fails leaves them
there, listed by no metadata.json: the loser of the conditional publish (HTTP 412, another
machine won), or a build killed there whose work dir is then lost (another machine, a wiped
/tmp). Two clean-ups, so that nothing is left for good:

* `withdraw_unpublished`: the loser of the publish at once removes the shards its document
  lists and its pointer (and the quarantine files no remaining pointer names) that it wrote
  or moved in itself (since it recorded the version it would replace), best effort, never
  one the package's metadata.json (re-read), the document it would have replaced or this
  work dir's retired records name.
* `sweep_orphans`, in every successful publish's GC: shards in `data/<snapshot folder>/` and
  quarantine files in `<quarantine_dir>/<snapshot folder>/` that nothing names (not the new
  nor the replaced metadata.json, no pointer, no record of this work dir) go once both:
  the replaced metadata.json was published `retention` ago (what a reader may still hold is
  the document it replaced, or one replaced before it: unlisted by both, a file was unlisted
  for that long), and the file is `ORPHAN_GRACE_HOURS` old (another work dir's build may have
  moved it in and not published yet: the same rule as another machine's staging prefix,
  staging_leftovers.py). A pointer is not swept: a quarantine dir may be shared by packages,
  and a pointer does not say whose snapshot it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from jsonl_assets.core.quarantine_snapshot import (
    files_named,
    is_quarantine_path,
    pointer_files,
    pointer_ledger,
    pointer_rel,
    quarantine_lock,
)
from jsonl_assets.core.shard_families import SNAPSHOT_FOLDER, is_shard_path
from jsonl_assets.core.store.base import read_bytes, store_for
from jsonl_assets.core.store.package_files import (
    ledger_names,
    ledger_path,
    listed_shards,
    load_retired,
    load_retiring,
    own_manifest,
    retired_path,
    settle,
)

ORPHAN_GRACE_HOURS: Final = 24.0  # as staging_leftovers.STALE_HOURS
RETIRED_QUARANTINE: Final = "retired_quarantine.json"  # package_gc's record of the quarantine


def withdraw_unpublished(
    package: Path,
    work_dir: Path,
    document: dict[str, Any],
    previous: dict[str, Any] | None,
    quarantine: tuple[Path, dict[str, Any] | None, str | None] | None,
    partitions: list[Path],
    since: float | None,
) -> list[str]:
    """After this build's publish of `document` failed (another publisher won): remove the
    shards it lists that it moved in (written since `since`, when the build recorded the
    version it would replace: snapshot_base.py; None: nothing is known to be its own) and
    that the package's metadata.json (read now), `previous` (the document it would have
    replaced) and this work dir's retired records do not name; and, so written, the pointer it
    wrote (`quarantine`: root, pointer doc, pointer path) and the quarantine files no other
    pointer names. A file older than `since` was there before: a snapshot published earlier
    lists it, one a reader may still hold. Best effort: a failure leaves the rest to the GC's
    sweep. Returns the paths removed (relative to the package or the quarantine dir)."""
    removed: list[str] = []
    if since is None:
        return removed
    with contextlib.suppress(OSError):
        current = own_manifest(package)
        keep = listed_shards(current) | listed_shards(previous) | _recorded(work_dir, "shards")
        mine = _written_since(package, listed_shards(document) - keep, since)
        gone = _remove(package, sorted(mine))
        for ledger in (ledger_path(p) for p in partitions):
            names = ledger_names(ledger)
            if names & set(gone):
                settle(ledger, names - set(gone))
        removed += gone
    if quarantine is None or quarantine[2] is None:
        return removed
    root, doc, rel = quarantine
    with contextlib.suppress(OSError), quarantine_lock(root):
        published = _published_pointer(package)
        if rel == published:
            return removed  # the same metadata.json bytes were published (by another build)
        keep = _recorded(work_dir, "quarantine") | {published}
        removed += _remove(root, sorted(_written_since(root, {rel} - keep, since)))
        files = pointer_files(doc, None) - files_named(root) - keep
        removed += _remove(root, sorted(_written_since(root, files, since)))
        ledger = pointer_ledger(work_dir)
        if rel in (names := ledger_names(ledger)):
            settle(ledger, names - {rel})
    return removed


def _written_since(root: Path, names: set[str], since: float) -> set[str]:
    """The `names` (under `root`) written, moved or renamed in since `since` (to the second:
    an object store's times are whole seconds)."""
    store = store_for(root)
    found = set()
    for name in names:
        st = store.stat(root / name)
        if st is not None and not st.is_dir and max(st.mtime_ns, st.ctime_ns) / 1e9 >= int(since):
            found.add(name)
    return found


def _published_pointer(package: Path) -> str | None:
    try:
        return pointer_rel(read_bytes(package / "metadata.json"))
    except FileNotFoundError:
        return None


def _recorded(work_dir: Path, kind: str) -> set[str]:
    """What this work dir's records keep for their window: retired, or about to be."""
    path = retired_path(work_dir, RETIRED_QUARANTINE) if kind == "quarantine" else None
    retired = load_retired(path or retired_path(work_dir))
    return set(retired) | load_retiring(work_dir).get(kind, set())


def _remove(root: Path, names: list[str]) -> list[str]:
    """Remove `names` under `root` and the snapshot folders they leave empty."""
    store = store_for(root)
    for name in names:
        store.remove(root / name)
    for folder in sorted({str(Path(n).parent) for n in names}):
        if SNAPSHOT_FOLDER.fullmatch(Path(folder).name):
            _remove_if_empty(root / folder)
    return names


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        store = store_for(folder)
        if not any(store.list(folder)):
            store.remove(folder, recursive=True)


def sweep_orphans(
    root: Path,
    parent: str,
    ours_shape: Callable[[str], bool],
    known: set[str],
    replaced_at: float | None,
    retention: float,
    now: float,
) -> list[str]:
    """Remove the files of our shape in the snapshot folders under `root`/`parent` that no
    name in `known` is, once `replaced_at` (when the replaced metadata.json was published;
    None: there was none) is `retention` seconds ago and each file is ORPHAN_GRACE_HOURS old
    (see the module doc). Returns the paths removed, relative to `root`."""
    if replaced_at is not None and now - replaced_at < retention:
        return []
    where = root / parent if parent else root
    store = store_for(where)
    due: list[str] = []
    for folder in list(store.list(where)):
        if not folder.is_dir or folder.is_symlink or not SNAPSHOT_FOLDER.fullmatch(folder.name):
            continue
        base = f"{parent}/{folder.name}" if parent else folder.name
        for entry in list(store.list(where / folder.name)):
            rel = f"{base}/{entry.name}"
            if entry.is_dir or entry.is_symlink or rel in known or not ours_shape(rel):
                continue
            st = store.stat(root / rel)
            if st is not None and not st.is_dir and now - st.mtime_ns / 1e9 >= _grace(retention):
                due.append(rel)
    return _remove(root, sorted(due))


def _grace(retention: float) -> float:
    return max(retention, ORPHAN_GRACE_HOURS * 3600)


def sweep_shards(
    package: Path, known: set[str], replaced_at: float | None, retention: float, now: float
) -> list[str]:
    """`sweep_orphans` over the package's `data/` snapshot folders."""
    return sweep_orphans(package, "data", is_shard_path, known, replaced_at, retention, now)


def sweep_quarantine(
    root: Path, known: set[str], replaced_at: float | None, retention: float, now: float
) -> list[str]:
    """`sweep_orphans` over the quarantine dir's snapshot folders, but for any file a pointer
    there names (any package's; called under the quarantine dir's lock)."""
    keep = known | files_named(root)
    return sweep_orphans(root, "", is_quarantine_path, keep, replaced_at, retention, now)
