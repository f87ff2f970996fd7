"""The package a work dir serves: `<work_dir>/package.json`, written at its first use.

A work dir holds one package's build state: its stage markers, and the ledgers that say which
shards, quarantine files and snapshot pointers that package's builds wrote (package_files.py,
quarantine_snapshot.py). The removal of no-longer-listed files trusts those ledgers, so two
packages sharing one work dir (two configs beside each other with the default `work`) would
each remove what the other's metadata.json still names. So the first build with a work dir
records the package it serves (its `output.dir`, as it is and relative to the work dir, or
its object-storage URL), created
only if absent (`Store.publish(..., ABSENT)`: two first builds cannot both claim it); a build
of another package with that work dir is refused before it writes anything (`claim_work_dir`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import orjson

from jsonl_assets.core.config.errors import ConfigError
from jsonl_assets.core.file_names import shown
from jsonl_assets.core.store.base import ABSENT, PreconditionFailed, read_bytes, store_for
from jsonl_assets.core.store.url import StoreURL, is_url, url_scheme

OWNER_FILE: Final = "package.json"


def owner_path(work_dir: Path) -> Path:
    return work_dir / OWNER_FILE


def work_dir_package(work_dir: Path) -> dict[str, str] | None:
    """What the work dir records of its package (`package`: its dir or URL, `relative`: a
    local dir relative to the work dir), None if it records none yet; `{}` for a file of
    that name that names no package (another tool's `package.json`: never ours)."""
    path = owner_path(work_dir)
    if store_for(path).stat(path) is None:
        return None
    data = read_bytes(path)
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("package"), str):
        record = {k: v for k, v in doc.items() if k in ("package", "relative") and type(v) is str}
        return _legacy_relative(work_dir, record)
    return {}


def _legacy_relative(work_dir: Path, record: dict[str, str]) -> dict[str, str]:
    """A record of the versions before the `relative` key (d3f2113..386e64c) held a local
    package relative to the work dir in `package` itself (`"../package"`): it is read as
    `relative` is, resolved against the work dir."""
    package = record["package"]
    if "relative" in record or url_scheme(package) or is_url(work_dir) or os.path.isabs(package):
        return record
    beside = os.path.normpath(os.path.join(shown(os.fspath(work_dir)), package))
    return {"package": beside, "relative": package}


def _as_recorded(work_dir: Path, package: Path | StoreURL) -> dict[str, str]:
    """The package as the work dir records it: its dir (as text: `file_names.shown`, so a
    name that is not UTF-8 is written too) or URL; and a local dir relative to the (local)
    work dir too. Either one matching is the same package: a project moved or copied whole
    (config, package and work dir together) and a work dir moved beside a package that
    stayed (an absolute `output.dir`) both keep their work dir."""
    record = {"package": shown(os.fspath(package))}
    if isinstance(package, Path) and isinstance(work_dir, Path):
        record["relative"] = shown(Path(os.path.relpath(package, work_dir)).as_posix())
    return record


def _same(held: dict[str, str], mine: dict[str, str]) -> bool:
    return any(key in held and held[key] == mine.get(key) for key in ("package", "relative"))


def claim_work_dir(
    config_path: Path | str, work_dir: Path, package: Path | StoreURL, record: bool = True
) -> None:
    """Record that `work_dir` serves `package` (the config's `output.dir`), unless it already
    does; `ConfigError` on `output.work_dir`, naming both packages and what to do, when it
    serves another package (nothing is written then). With `record` False, only that check:
    nothing is written (the CLI checks before it takes the package lock, and records after)."""
    mine = _as_recorded(work_dir, package)
    held = work_dir_package(work_dir)
    if held is None and not record:
        return
    if held is None:
        doc = {**mine, "config": shown(os.fspath(config_path))}
        try:
            store_for(work_dir).publish(
                owner_path(work_dir), orjson.dumps(doc, option=orjson.OPT_INDENT_2), ABSENT
            )
            return
        except PreconditionFailed:  # another first build claimed it meanwhile
            held = work_dir_package(work_dir) or {}
    if "package" not in held:
        raise ConfigError(
            config_path,
            "output.work_dir",
            f"{work_dir} holds a {OWNER_FILE} that is not a jsonl-assets work-dir record "
            "(it names no package: another tool's file, an npm project's for example): the "
            "folder is not a jsonl-assets work dir, and a build would write its state among "
            "files that are not its own. Point output.work_dir at a folder of its own (a new "
            "or empty one); nothing was written",
        )
    if not _same(held, mine):
        other = held.get("package", "?")
        if "relative" in held:  # where it is now if it moved with the work dir
            beside = os.path.normpath(os.path.join(shown(os.fspath(work_dir)), held["relative"]))
            other = beside if beside == other else f"{beside} (recorded at {other})"
        raise ConfigError(
            config_path,
            "output.work_dir",
            f"{work_dir} holds the build state of another package, {other} (its "
            f"{OWNER_FILE}), not of this config's output.dir {mine['package']}: a build of "
            "this package would remove files that package still lists. Give each config its "
            f"own work_dir; if {other} is gone (or was moved), remove {work_dir} and build again",
        )
