"""The package a work dir serves: `<work_dir>/package.json`, written at its first use.

A work dir holds one package's build state: its stage markers, and the ledgers that say which
shards, quarantine files and snapshot pointers that package's builds wrote (package_files.py,
quarantine_snapshot.py). The removal of no-longer-listed files trusts those ledgers, so two
packages sharing one work dir (two configs beside each other with the default `work`) would
each remove what the other's metadata.json still names. So the first build with a work dir
records the package it serves (its `output.dir`, relative to the work dir, or its
object-storage URL), created
only if absent (`Store.publish(..., ABSENT)`: two first builds cannot both claim it); a build
of another package with that work dir is refused before it writes anything (`claim_work_dir`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import orjson

from jsonl_assets.core.config.errors import ConfigError
from jsonl_assets.core.store.base import ABSENT, PreconditionFailed, read_bytes, store_for
from jsonl_assets.core.store.url import StoreURL

OWNER_FILE: Final = "package.json"


def owner_path(work_dir: Path) -> Path:
    return work_dir / OWNER_FILE


def work_dir_package(work_dir: Path) -> str | None:
    """The package the work dir serves (as recorded), None if it records none yet; a record
    that names no package reads as its raw text (never ours)."""
    path = owner_path(work_dir)
    if store_for(path).stat(path) is None:
        return None
    data = read_bytes(path)
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("package"), str):
        return str(doc["package"])
    return repr(data[:200])


def _as_recorded(work_dir: Path, package: Path | StoreURL) -> str:
    """The package as the work dir records it: a URL as it is; a local dir relative to the
    (local) work dir, so a project moved or copied whole (config, package and work dir
    together, or one volume mounted elsewhere) still finds its work dir its own."""
    if isinstance(package, Path) and isinstance(work_dir, Path):
        return Path(os.path.relpath(package, work_dir)).as_posix()
    return os.fspath(package)


def claim_work_dir(config_path: Path | str, work_dir: Path, package: Path | StoreURL) -> None:
    """Record that `work_dir` serves `package` (the config's `output.dir`), unless it already
    does; `ConfigError` on `output.work_dir`, naming both packages and what to do, when it
    serves another package (nothing is written then)."""
    mine = _as_recorded(work_dir, package)
    held = work_dir_package(work_dir)
    if held is None:
        doc = {"package": mine, "config": os.fspath(config_path)}
        try:
            store_for(work_dir).publish(
                owner_path(work_dir), orjson.dumps(doc, option=orjson.OPT_INDENT_2), ABSENT
            )
            return
        except PreconditionFailed:  # another first build claimed it meanwhile
            held = work_dir_package(work_dir)
    if held != mine:
        if isinstance(work_dir, Path) and "://" not in held:
            held = os.path.normpath(work_dir / held)  # as the user knows it
            mine = os.fspath(package)
        raise ConfigError(
            config_path,
            "output.work_dir",
            f"{work_dir} holds the build state of another package, {held} (its "
            f"{OWNER_FILE}), not of this config's output.dir {mine}: a build of this package "
            "would remove files that package still lists. Give each config its own "
            f"work_dir; if {held} is gone (or was moved), remove {work_dir} and build again",
        )
