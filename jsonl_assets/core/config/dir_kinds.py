"""What an existing output dir already holds: a config's dir may not be (nor lie inside)
another kind of jsonl-assets output, checked at load time before anything is written.

Three kinds are known by what they hold at their top:

* a package: `metadata.json` (any file of that name: a package dir, jsonl-assets's or
  another tool's);
* a work dir: `package.json` recording the package it serves (`{"package": ...}`,
  store/work_owner.py; another tool's `package.json`, an npm project's, is no record);
* a quarantine dir: `snapshots/`, or a partition's folder `<objective>-<split>-<16 hex>`
  (quarantine_snapshot.py).

`output.dir` may hold a package (its own: `check_dataset` judges whose), `work_dir` a work
dir (its own: `claim_work_dir` judges whose), `quarantine_dir` a quarantine (shared by
packages on purpose); any other kind is refused: a quarantine written into a published
package ships the rejected raw input with it, and a work dir or quarantine mixed with
another's confuses which files whose GC may remove. Nor may `work_dir` or `quarantine_dir`
lie inside a jsonl-assets package (an ancestor holding a metadata.json jsonl-assets wrote).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import orjson

from jsonl_assets.core.config.output_dirs import DirProblem
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.stage_report import StageError
from jsonl_assets.core.store.base import store_for
from jsonl_assets.core.store.url import StoreURL
from jsonl_assets.core.verify.verify_limits import Unreadable, open_regular

PACKAGE: Final = "package"
WORK: Final = "work"
QUARANTINE: Final = "quarantine"
MANIFEST: Final = "metadata.json"
OWNER_FILE: Final = "package.json"
SNAPSHOTS: Final = "snapshots"
_MAX_RECORD_BYTES: Final = 1 << 20
_PARTITION_FOLDER: Final = re.compile(
    rf"(?:{'|'.join(OBJECTIVES)})-(?:{'|'.join(SPLITS)})-[0-9a-f]{{16}}"
)
# The kind each dir may hold (its own, or shared on purpose).
ALLOWED: Final = {
    "output.dir": PACKAGE,
    "output.work_dir": WORK,
    "output.quarantine_dir": QUARANTINE,
}
_OWN: Final = {PACKAGE: "package", WORK: "work files", QUARANTINE: "quarantine files"}
_WHAT: Final = {
    PACKAGE: f"a package ({MANIFEST}: a published package dir)",
    WORK: f"the build state of a jsonl-assets work dir (its {OWNER_FILE} names the package "
    "it serves)",
    QUARANTINE: f"a quarantine dir ({SNAPSHOTS}/ or a partition's quarantine folder)",
}


def is_work_record(path: Path | StoreURL) -> bool:
    """Whether `path` is a work dir's record of its package (a JSON object naming a
    `package`), not another tool's file of that name. Read only from a regular file, bounded
    (`open_regular`: a FIFO named package.json is no record, never a hang)."""
    try:
        handle, _ = open_regular(path, None)
        with handle:
            data = handle.read(_MAX_RECORD_BYTES + 1)
        doc = orjson.loads(data)
    except (OSError, Unreadable, orjson.JSONDecodeError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("package"), str)


def _names(folder: Path | StoreURL) -> dict[str, bool]:
    """The names at `folder`'s top, each with whether it is a folder ({} if not there)."""
    try:
        if isinstance(folder, StoreURL):
            return {e.name: e.is_dir for e in store_for(folder).list(folder)}
        with os.scandir(folder) as it:
            return {e.name: e.is_dir() for e in it}
    except OSError:  # not there yet (or not listable: `check_own_dirs` names that)
        return {}


def held_kinds(folder: Path | StoreURL) -> list[str]:
    """The kinds of jsonl-assets output `folder` (a local folder or an object-storage
    prefix) holds at its top ([] if it is not there)."""
    names = _names(folder)
    kinds: list[str] = []
    if MANIFEST in names and not names[MANIFEST]:
        kinds.append(PACKAGE)
    if OWNER_FILE in names and not names[OWNER_FILE] and is_work_record(folder / OWNER_FILE):
        kinds.append(WORK)
    if names.get(SNAPSHOTS) or any(
        is_dir and _PARTITION_FOLDER.fullmatch(n) for n, is_dir in names.items()
    ):
        kinds.append(QUARANTINE)
    return kinds


def _ancestors(path: Path | StoreURL) -> list[Path | StoreURL]:
    if isinstance(path, Path):
        return list(path.parents)
    out: list[Path | StoreURL] = []
    while (parent := path.parent) != path:  # up to the bucket
        out.append(parent)
        path = parent
    return out


def _package_above(path: Path | StoreURL) -> Path | StoreURL | None:
    """The nearest ancestor of `path` holding a metadata.json jsonl-assets wrote."""
    from jsonl_assets.core.store.package_files import own_manifest

    for parent in _ancestors(path):
        if isinstance(parent, Path) and not os.path.isfile(parent / MANIFEST):
            continue
        if own_manifest(parent) is not None:
            return parent
    return None


def check_dir_kinds(dirs: Mapping[str, Path | StoreURL]) -> None:
    """`dirs`: dotted key (`output.dir`, `output.work_dir`, `output.quarantine_dir`) -> a
    resolved local path or an object-storage location. `DirProblem` on the first dir holding another kind of output than
    its own, or (`work_dir`, `quarantine_dir`) lying inside a jsonl-assets package."""
    for key, path in dirs.items():
        own = ALLOWED.get(key)
        if own is None:
            continue
        for kind in held_kinds(path):
            if kind != own:
                raise DirProblem(
                    key,
                    f"{path} already holds {_WHAT[kind]}: a build would write its "
                    f"{_OWN[own]} among that output's files (and a package ships what lies "
                    f"in it). Give {key} a folder of its own; nothing was written",
                )
        if own != PACKAGE and (package := _package_above(path)) is not None:
            raise DirProblem(
                key,
                f"{path} lies inside the package dir {package} (its {MANIFEST}): a build "
                "would write its files into that package, which ships them. Choose a "
                "folder outside it; nothing was written",
            )


class OutputKindError(StageError):
    """An object-storage output dir holds another kind of output (`check_object_dirs`)."""


def check_object_dirs(package: Path | StoreURL, quarantine: Path | StoreURL) -> None:
    """`check_dir_kinds` of the output dirs on object storage, which `load_config` leaves to
    the build (a config loads without a request): asked before a build writes anything there
    (`OutputKindError`)."""
    urls = {
        key: path
        for key, path in (("output.dir", package), ("output.quarantine_dir", quarantine))
        if isinstance(path, StoreURL)
    }
    try:
        check_dir_kinds(urls)
    except DirProblem as exc:
        raise OutputKindError(f"{exc.key}: {exc.message}") from None
