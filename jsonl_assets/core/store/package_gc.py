"""Garbage collection of shards no longer listed, after a publish and a retention window.

After metadata.json is published, a shard this project wrote (named by a ledger of the work
dir, or by the metadata.json it replaced) that the new metadata.json does not list is
*retired*: `<work_dir>/manifest/retired.json` records when it was first seen unlisted. It is
removed at a later publish (or this one, with `output.retention_hours: 0`) once it has been
retired for the retention window, so a reader still holding the old metadata.json keeps
every shard it lists for that long. A retired shard that is listed again is simply kept.
Removed names leave the ledgers; an emptied snapshot folder goes too.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.store.base import read_bytes, store_for, write_bytes
from jsonl_assets.core.store.package_files import (
    ledger_names,
    ledger_path,
    listed_shards,
    settle,
)

RETIRED_FILE: Final = "retired.json"


def retired_path(work_dir: Path) -> Path:
    return work_dir / "manifest" / RETIRED_FILE


def _load(path: Path) -> dict[str, float]:
    try:
        doc = orjson.loads(read_bytes(path))
    except (FileNotFoundError, orjson.JSONDecodeError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {k: float(v) for k, v in doc.items() if isinstance(v, int | float)}


def collect_garbage(
    package: Path,
    work_dir: Path,
    previous: dict[str, Any] | None,
    published: dict[str, Any],
    retention_hours: float,
    now: float | None = None,
) -> list[str]:
    """Retire our shards that `published` (the new metadata.json) does not list, and remove
    those retired for `retention_hours`; `previous` is the metadata.json it replaced (None if
    there was none or not ours). Returns the paths removed."""
    now = time.time() if now is None else now
    listed = listed_shards(published)
    ledgers = {
        (o, s): ledger_names(ledger_path(work_dir / o / s)) for o in OBJECTIVES for s in SPLITS
    }
    ours = set().union(*ledgers.values()) | listed_shards(previous)
    path = retired_path(work_dir)
    before = _load(path)
    retired = {name: before.get(name, now) for name in sorted(ours - listed)}
    store = store_for(package)
    removed: list[str] = []
    for name, since in retired.items():
        if now - since >= retention_hours * 3600:
            store.remove(package / name)
            removed.append(name)
    for name in removed:
        del retired[name]
    if retired or before:
        write_bytes(path, orjson.dumps(retired, option=orjson.OPT_SORT_KEYS))
    gone = set(removed)
    for (objective, split), names in ledgers.items():
        if names & gone:
            settle(ledger_path(work_dir / objective / split), names - gone)
    for folder in sorted({str(Path(name).parent) for name in removed}):
        if folder != "data" and not any(store.list(package / folder)):
            with contextlib.suppress(OSError):
                store.remove(package / folder, recursive=True)
    return removed
