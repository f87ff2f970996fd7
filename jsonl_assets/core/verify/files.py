"""The `files` array: C1-C8, C18 and C19 on each entry, then each shard (`shards`).

C18 compares shard paths in normal form (`paths.normal_path`), and the files they name:
two paths that reach one file (a symlink or hard link inside the package, same device and
inode) are C18 too, and the file is read once. The ids of every shard go to one
`ids.PackageIds` (D7, L1).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonl_assets.core.rules import RecordContext
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.store.url import is_url
from jsonl_assets.core.verify.ids import PackageIds, shard_sink
from jsonl_assets.core.verify.paths import normal_path, path_problem
from jsonl_assets.core.verify.report import METADATA_FILE, Sink, jtype, show
from jsonl_assets.core.verify.shards import verify_shard
from jsonl_assets.core.verify.verify_limits import VerifyLimits

_FILE_KEYS = frozenset({"split", "objective", "format", "toolset_id", "shards", "notes"})


@dataclass
class Tally:
    records: int = 0
    shards: int = 0
    trusted: int = 0
    # shards (or file entries) whose records were not all read: trusted by hash, stopped past
    # --max-shard-errors, unreadable, damaged, or shards that are not a list
    unread: int = 0


def check_files(
    package_dir: Path,
    meta: dict[str, Any],
    base: RecordContext,
    sink: Sink,
    asset_refs: set[str] | None,
    forbid_split_leakage: bool,
    verified_shards: Mapping[str, str],
    limits: VerifyLimits,
) -> Tally:
    """C1-C20 and every record."""
    tally = Tally()
    files = meta.get("files")
    if type(files) is not list:
        tally.unread += 1
        return tally
    err = sink.meta_error
    ids = PackageIds()
    seen_paths: dict[str, str] = {}
    seen_files: dict[tuple[int, int], str] = {}
    local = not is_url(package_dir)
    pairs: dict[tuple[str, str], int] = {}
    for i, entry in enumerate(files):
        where = f"files[{i}]"
        if type(entry) is not dict:
            err("C1", f"{where}: must be an object, got {jtype(entry)}")
            tally.unread += 1
            continue
        for key in ("split", "objective", "shards"):
            if key not in entry:
                err("C1", f"{where}: missing {show(key)}")
        for key in entry:
            if key not in _FILE_KEYS:
                err("C7", f"{where}.{key}: unknown file-entry key")
        split = entry.get("split")
        if "split" in entry and split not in SPLITS:
            err("C2", f"{where}.split: {show(split)} is not one of {', '.join(SPLITS)}")
        objective = entry.get("objective")
        if "objective" in entry and objective not in OBJECTIVES:
            err("C3", f"{where}.objective: {show(objective)} is not one of {', '.join(OBJECTIVES)}")
        if "format" in entry and entry["format"] != "jsonl":
            err("C4", f"{where}.format: {show(entry['format'])} is not 'jsonl'")
        file_toolset = entry.get("toolset_id")
        if "toolset_id" in entry:
            if type(file_toolset) is not str:
                err("C5", f"{where}.toolset_id: must be a string")
                file_toolset = None
            elif file_toolset not in base.toolsets:
                err("C5", f"{where}.toolset_id: unknown toolset {show(file_toolset)}")
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
            tally.unread += 1
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
                normal = normal_path(path)
                if normal in seen_paths:
                    err("C18", f"{where}.shards[{j}]: {show(path)} is also {seen_paths[normal]}")
                    continue
                seen_paths[normal] = f"{where}.shards[{j}]"
                identity = None  # a path out of the package is C12 in verify_shard
                if local and path_problem(package_dir, path) is None:
                    identity = file_identity(package_dir / path)
                if identity is not None:
                    if identity in seen_files:
                        err(
                            "C18",
                            f"{where}.shards[{j}]: {show(path)} is the same file as "
                            f"{seen_files[identity]} (through a link): not read again",
                        )
                        continue
                    seen_files[identity] = f"{where}.shards[{j}] ({show(path)})"
            id_sink = None
            if type(path) is str:
                id_sink = shard_sink(ids, sink, path, valid_split, forbid_split_leakage)
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
            tally.unread += not check.whole
    return tally


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the regular file `path` reaches through symlinks, else None (the
    shard check then says what is wrong with it)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None
