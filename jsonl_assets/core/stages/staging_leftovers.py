"""Staging prefixes no build will adopt any more, cleared under the package lock.

On object storage each (host, partition work dir) stages its shards under its own prefix,
`<package>/.jsonl-assets-staged/<digest>/` (staged_shards.py), and clears it itself when it
runs again. A build killed mid-upload and never run again from that work dir (another
machine, a wiped /tmp) would leave its objects and its incomplete multipart uploads there
forever. After a publish, while it holds the package lock, the build clears every other
staging prefix that nothing can still use:

* one whose `owner.json` names this host and a work dir that no longer exists: the marker
  that vouched for its shards lived there, so no build can adopt them;
* any other (another host's, or one without `owner.json`) once nothing under it is younger
  than `STALE_HOURS`: the package lock is a lock of this machine only, and a build on
  another machine may be staging right now (its uploads and `owner.json` are fresh).

Its own prefixes (this host, this work dir) are never touched here: they hold what the
current build may still adopt, and it clears them itself.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import orjson

from jsonl_assets.core.stages.staged_shards import OWNER, STAGED_OBJECTS, staging_owner
from jsonl_assets.core.store.base import read_bytes, store_for
from jsonl_assets.core.store.url import is_url
from jsonl_assets.core.store.work_files import PartitionDirs

STALE_HOURS: Final = 24.0


def clear_stale_staging(
    package: Path, own: Iterable[PartitionDirs], now: float | None = None
) -> list[str]:
    """Remove the staging prefixes of `package` (object storage) that no build can still
    adopt (see the module doc), aborting their incomplete uploads; keep those of `own` (the
    current build's partitions). Returns the prefixes cleared (their digests)."""
    if not is_url(package):
        return []
    now = time.time() if now is None else now
    root = package / STAGED_OBJECTS
    store = store_for(root)
    keep = {staging_owner(dirs).name for dirs in own}
    found = {e.name for e in store.list(root) if e.is_dir}
    uploads = getattr(store, "incomplete_uploads", None)
    if uploads is not None:  # a prefix may hold nothing but an upload
        prefix = f"{os.fspath(root).split('://', 1)[1].partition('/')[2]}/"
        found |= {
            key[len(prefix) :].split("/", 1)[0] for key in uploads(root) if key.startswith(prefix)
        }
    cleared = []
    for name in sorted(found - keep):
        owner = root / name
        if _unused(owner, now):
            store.remove_partials(owner)
            store.remove(owner, recursive=True)
            cleared.append(name)
    return cleared


def _unused(owner: Path, now: float) -> bool:
    """Whether no build can still adopt what the staging prefix `owner` holds."""
    store = store_for(owner)
    try:
        doc = orjson.loads(read_bytes(owner / OWNER))
    except (FileNotFoundError, orjson.JSONDecodeError):
        doc = None
    if isinstance(doc, dict) and doc.get("host") == socket.gethostname():
        work = doc.get("work")
        if isinstance(work, str) and not Path(work).exists():
            return True
    newest = max((st.mtime_ns for st in store.glob(f"{os.fspath(owner)}/**").values()), default=0)
    return now - newest / 1e9 >= STALE_HOURS * 3600


def clear_quietly(package: Path, own: Iterable[PartitionDirs]) -> list[str]:
    """`clear_stale_staging`, its failures ignored: a leftover is retried by the next build,
    and a publish that succeeded must not be reported as failed for it."""
    with contextlib.suppress(OSError):
        return clear_stale_staging(package, own)
    return []
