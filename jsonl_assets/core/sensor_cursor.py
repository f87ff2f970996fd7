"""The `raw_sources_changed` sensor's cursor: short (counts and the name of a snapshot file),
the snapshot of every source's fingerprints in a content-addressed file beside it under
`<work_dir>/sensor/`, so the sensor's state survives restarts and its page stays readable."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson

from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.source_fingerprints import (
    VERSION_CHARS,
    SourceFiles,
    SourcesSnapshot,
    fingerprints_from_json,
    fingerprints_to_json,
    key_path,
    path_key,
)
from jsonl_assets.core.store.base import read_bytes, write_bytes

CURSOR_FORMAT: Final = 2  # 2: the snapshot in a file beside the cursor, not in it
SNAPSHOT_PREFIX: Final = "raw_sources.snapshot."


def snapshot_folder(cfg: PipelineConfig) -> Path:
    """Where the sensor keeps its fingerprint snapshots (the cursor names one of them)."""
    return Path(cfg.output.work_dir) / "sensor"


def dump_cursor(
    snapshot: SourcesSnapshot, epoch: str, generation: int, folder: Path, keep: str = ""
) -> str:
    """A short cursor: the sensor's (epoch, generation) counter, counts, and the name of the
    snapshot file it wrote into `folder` (content-addressed, so a repeated tick rewrites
    nothing). Older snapshot files go, except `keep` (the previous cursor's, still the
    instance's until this tick is committed)."""
    body = orjson.dumps(
        {
            "files": fingerprints_to_json({path_key(p): fp for p, fp in snapshot.files.items()}),
            "sources": {
                name: {
                    "objective": s.objective,
                    "split": s.split,
                    "digest": s.digest,
                    "files": [list(f) for f in s.files],
                }
                for name, s in snapshot.sources.items()  # config order: partition_version
            },
            "unfed": dict(snapshot.unfed),
            "thresholds": dict(snapshot.thresholds),
        }
    )
    name = f"{SNAPSHOT_PREFIX}{hashlib.sha256(body).hexdigest()[:VERSION_CHARS]}.json"
    if not (folder / name).exists():
        write_bytes(folder / name, body)
    for old in folder.glob(f"{SNAPSHOT_PREFIX}*.json"):
        if old.name not in (name, keep):
            old.unlink(missing_ok=True)
    cursor = {
        "format": CURSOR_FORMAT,
        "epoch": epoch,
        "generation": generation,
        "snapshot": name,
        "files": len(snapshot.files),
        "sources": len(snapshot.sources),
    }
    return orjson.dumps(cursor).decode()


@dataclass(frozen=True, slots=True)
class Cursor:
    snapshot: SourcesSnapshot
    epoch: str
    generation: int
    snapshot_file: str


def load_cursor(text: str | None, folder: Path) -> Cursor | None:
    """The cursor written by `dump_cursor`, with its snapshot read from `folder`; None when
    absent, unreadable, of another format or its snapshot file is gone (the sensor then takes
    a new baseline)."""
    if not text:
        return None
    try:
        cursor = orjson.loads(text)
        if cursor.get("format") != CURSOR_FORMAT:
            return None
        name = str(cursor["snapshot"])
        if "/" in name or not name.startswith(SNAPSHOT_PREFIX):
            return None
        data = orjson.loads(read_bytes(folder / name))
        files = {key_path(k): fp for k, fp in fingerprints_from_json(data["files"]).items()}
        sources = {
            name: SourceFiles(
                name=name,
                objective=s["objective"],
                split=s["split"],
                digest=s["digest"],
                files=tuple((str(r), str(h), int(n)) for r, h, n in s["files"]),
            )
            for name, s in data["sources"].items()
        }
        return Cursor(
            SourcesSnapshot(
                files=files,
                sources=sources,
                unfed=dict(data.get("unfed", {})),
                thresholds=dict(data.get("thresholds", {})),
            ),
            str(cursor["epoch"]),
            int(cursor["generation"]),
            name,
        )
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None
