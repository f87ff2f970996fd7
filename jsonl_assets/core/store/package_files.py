"""Which files of the package dir this project wrote.

Before a shard gets its final name in the package, its path is appended (fsynced) to the
partition's ledger, `<work>/<objective>/<split>/package_files`; the garbage collection
(package_gc.py) rewrites the ledgers without what it removed. A file is ours if a ledger of
the work dir, the package's own metadata.json (one this project wrote), or the work dir's
`manifest/retired.json` names it: the GC records there each shard of ours no longer listed
until it removes it, so one that only a replaced metadata.json listed (a work dir lost, or
the flat `data/<name>` shards of a version before the ledgers) stays ours until then; so
does one `manifest/retiring.json` names (what a replaced metadata.json listed, recorded before
the publish replaced it, until the GC has retired it: a kill in between loses nothing). Of
each of those lists only the names of our shards' shape (`is_shard_path`) count. Besides
those: `metadata.json` itself, hidden `.<name>.partial` temporaries (removed by the next run),
the package lock's `.jsonl-assets*` files, and the shards in a partition's snapshot folder
(`data/<objective>-<split>-<16 hex digits>/<objective>-<split>...-NNNNN.jsonl...`): another
build, from another work dir or machine, may be adding one before it publishes, so they are
never called foreign (they are only removed when a ledger or metadata.json names them).
Anything else - a user's shard-like `data/sft-train-00007.jsonl.zst`, `data/x.jsonl.zst`, a
README - is foreign: the build fails naming it and never deletes or replaces it.

A metadata.json of ours is that of this config's package only if it names the config's
`dataset.name`, or this work dir published that very document (a dataset renamed with its
work dir kept; published_manifests.py; a work dir from before that record: one whose ledgers
recorded all its shards): another dataset's jsonl-assets package (downloaded, copied, named
by a mistyped `output.dir`, or published there on purpose by another config, even one whose
shards coincide with some of ours) is not replaced, nor its shards retired, unless the build
is told so (`check_dataset`, `--replace-other-dataset`).

`check_ours` asks both, and every step that would add a file to the package dir asks it
first: the record stages before they stage a shard (on object storage the shards are staged
under a hidden prefix of the package dir), the shards step before it moves one in, the
manifest step before it publishes. A build refused there adds nothing to the package dir.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.shard_families import SNAPSHOT_FOLDER, is_shard_path, shard_name_pattern
from jsonl_assets.core.stage_report import StageError
from jsonl_assets.core.store.atomic_files import is_partial_name
from jsonl_assets.core.store.base import Entry, read_bytes, store_for, write_bytes
from jsonl_assets.core.store.published_manifests import digest, published_digests
from jsonl_assets.core.store.url import is_url

LEDGER: Final = "package_files"
RETIRED_FILE: Final = "retired.json"
RETIRING_FILE: Final = "retiring.json"
MANIFEST: Final = "metadata.json"
LOCK_PREFIX: Final = ".jsonl-assets"
_MAX_MANIFEST_BYTES: Final = 256 << 20
SHOWN: Final = 10


class ForeignFilesError(StageError):
    """The package dir holds files this project did not write (named in the message)."""

    def __init__(self, package: Path, names: list[str]) -> None:
        self.names = names
        shown = ", ".join(names[:SHOWN]) + (
            f" (and {len(names) - SHOWN} more)" * (len(names) > SHOWN)
        )
        super().__init__(
            f"the package dir {package} holds files not written by jsonl-assets: {shown}. "
            "Nothing was deleted or replaced; move them away or choose another output.dir"
        )


class OtherDatasetError(StageError):
    """The package dir holds the package of another dataset (its metadata.json names another
    `dataset.name`, and this work dir did not publish it)."""


REPLACE_FLAG: Final = "--replace-other-dataset"


def check_dataset(package: Path, work_dir: Path, name: str, replace_other: bool = False) -> None:
    """`OtherDatasetError` when the package dir holds a package of ours (`own_manifest`) of
    another dataset than `name` that this work dir did not publish, unless `replace_other`."""
    found = _own_document(package)
    if found is None or replace_other:
        return
    doc, data = found
    dataset = doc.get("dataset")
    theirs = dataset.get("name") if isinstance(dataset, dict) else None
    if theirs == name or _published_here(work_dir, doc, data):
        return  # this config's dataset, or the same package with its dataset renamed
    shown = repr(theirs) if isinstance(theirs, str) else "no dataset name"
    raise OtherDatasetError(
        f"the package dir {package} holds the package of another dataset: its "
        f"{MANIFEST} names {shown}, this config's dataset.name is {name!r}, and this work "
        f"dir ({work_dir}) did not build it. Nothing was deleted or replaced; choose another "
        f"output.dir, or build with `jsonl-assets build {REPLACE_FLAG}` (in Dagster: "
        "resources.pipeline.config.replace_other_dataset: true) to replace that package"
    )


def claim(ledger: Path, relpath: str) -> None:
    """Record `relpath` (`data/<name>`) as ours, durably, before the file gets that name."""
    store_for(ledger).append(ledger, relpath.encode() + b"\n")


def settle(ledger: Path, relpaths: set[str]) -> None:
    """Rewrite the ledger to exactly `relpaths` (after the orphans are removed)."""
    write_bytes(ledger, b"".join(p.encode() + b"\n" for p in sorted(relpaths)))


def ledger_names(ledger: Path) -> set[str]:
    try:
        data = read_bytes(ledger)
    except FileNotFoundError:
        return set()
    return {line.decode("utf-8", "replace") for line in data.split(b"\n") if line}


def ledger_path(work_partition_dir: Path) -> Path:
    return work_partition_dir / LEDGER


def retired_path(work_dir: Path, name: str = RETIRED_FILE) -> Path:
    """Where the GC records what it retired (package_gc.py): `<work_dir>/manifest/<name>`."""
    return work_dir / "manifest" / name


def load_retiring(work_dir: Path) -> dict[str, set[str]]:
    """The names a build is about to retire (package_gc.record_retiring), per kind
    (`shards`, `quarantine`): what a replaced metadata.json and its pointer listed, recorded
    before metadata.json was replaced and not yet taken into the retired records."""
    try:
        doc = orjson.loads(read_bytes(retired_path(work_dir, RETIRING_FILE)))
    except (FileNotFoundError, orjson.JSONDecodeError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {
        kind: {n for n in names if isinstance(n, str)}
        for kind, names in doc.items()
        if isinstance(names, list)
    }


def load_retired(path: Path) -> dict[str, float]:
    """A retired record: each path retired and since when (seconds since the epoch)."""
    try:
        doc = orjson.loads(read_bytes(path))
    except (FileNotFoundError, orjson.JSONDecodeError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {k: float(v) for k, v in doc.items() if isinstance(v, int | float)}


def _published_here(work_dir: Path, doc: dict[str, Any], data: bytes) -> bool:
    """Whether this work dir published the metadata.json `data` (its record of what it
    published; a work dir from before that record: its ledgers recorded all the shards the
    document lists). Some shards in common prove nothing: shards are content-addressed, and
    two datasets built from the same sources share them."""
    digests = published_digests(work_dir)
    if digests is not None:
        return digest(data) in digests
    listed = listed_shards(doc)
    return bool(listed) and listed <= _recorded(work_dir)


def own_manifest(package: Path) -> dict[str, Any] | None:
    """The package's metadata.json if this project wrote it (a regular file with our
    extension), else None."""
    found = _own_document(package)
    return None if found is None else found[0]


def _own_document(package: Path) -> tuple[dict[str, Any], bytes] | None:
    """`own_manifest` with the document's bytes as read."""
    path = package / MANIFEST
    store = store_for(path)
    try:
        st = store.stat(path)
        if st is None or st.is_dir or st.size > _MAX_MANIFEST_BYTES:
            return None
        if any(e.name == MANIFEST and e.is_symlink for e in store.list(package)):
            return None
        data = read_bytes(path)
        doc = orjson.loads(data)
    except (OSError, orjson.JSONDecodeError):
        return None
    from jsonl_assets.core.manifest_builder import EXTENSION_KEY, GENERATOR

    ext = doc.get("extensions") if isinstance(doc, dict) else None
    ours = isinstance(ext, dict) and isinstance(ext.get(EXTENSION_KEY), dict)
    generator = ext[EXTENSION_KEY].get("generator") if ours else None  # type: ignore[index]
    if not isinstance(generator, str) or generator.split("/")[0] != GENERATOR.split("/")[0]:
        return None
    return doc, data


def listed_shards(doc: dict[str, Any] | None) -> set[str]:
    """The shard paths a metadata.json lists that have the shape of ours (`is_shard_path`):
    a hand-edited document naming `../x`, `/etc/x` or `metadata.json` makes none of them
    ours."""
    names: set[str] = set()
    files = doc.get("files") if doc else None
    for entry in files if isinstance(files, list) else []:
        shards = entry.get("shards") if isinstance(entry, dict) else None
        for shard in shards if isinstance(shards, list) else []:
            path = shard.get("path") if isinstance(shard, dict) else None
            if isinstance(path, str) and is_shard_path(path):
                names.add(path)
    return names


def _recorded(work_dir: Path) -> set[str]:
    """Shard paths the work dir recorded: its ledgers and the shards it retired (or is about
    to retire: what the metadata.json it replaced listed)."""
    names: set[str] = set()
    for objective in OBJECTIVES:
        for split in SPLITS:
            names |= ledger_names(ledger_path(work_dir / objective / split))
    names |= load_retiring(work_dir).get("shards", set())
    return names | {name for name in load_retired(retired_path(work_dir)) if is_shard_path(name)}


def owned(package: Path, work_dir: Path) -> tuple[set[str], bool]:
    """Shard paths (`data/<name>`) this project recorded as its own (metadata.json, the
    ledgers, the shards retired and not yet removed), and whether metadata.json is ours."""
    doc = own_manifest(package)
    return listed_shards(doc) | _recorded(work_dir), doc is not None


def foreign_files(package: Path, work_dir: Path) -> list[str]:
    """Paths (relative to the package) of what this project did not write."""
    store = store_for(package)
    if not is_url(package):
        st = store.stat(package)
        if st is None or not st.is_dir:
            return []
    # On object storage the package is the prefix `<dir>/`, listed whatever sits at `<dir>`
    # itself (an object of that very key makes `stat` answer "a file", not "a folder").
    # The folder is listed before the ledgers are read: a shard is claimed before it gets
    # its name, so one a concurrent build of another partition just wrote is in its ledger.
    candidates: list[tuple[str, Entry]] = []  # (relative path, its listing)
    for entry in sorted(store.list(package), key=lambda e: e.name):
        name = entry.name
        if name.startswith(LOCK_PREFIX) or _is_partial(entry):
            continue
        if name == "data" and entry.is_dir:
            for sub in sorted(store.list(package / name), key=lambda e: e.name):
                if _is_partial(sub):
                    continue
                folder = SNAPSHOT_FOLDER.fullmatch(sub.name)
                if folder and sub.is_dir and not sub.is_symlink:
                    candidates.extend(_snapshot_candidates(package, sub.name, folder["prefix"]))
                    continue
                candidates.append((f"data/{sub.name}" + "/" * sub.is_dir, sub))
            continue
        candidates.append((name + "/" * entry.is_dir, entry))
    names, manifest_ours = owned(package, work_dir)
    foreign = []
    for rel, entry in candidates:
        if rel == MANIFEST and manifest_ours:
            continue
        if not entry.is_dir and rel in names and not entry.is_symlink:
            continue
        if not entry.is_symlink and store.stat(package / rel) is None:
            continue  # an orphan another partition's build removed meanwhile
        foreign.append(rel)
    return foreign


def _snapshot_candidates(package: Path, folder: str, prefix: str) -> list[tuple[str, Entry]]:
    """The names in a snapshot folder that are not this project's shards of that partition."""
    shard = shard_name_pattern(prefix)
    return [
        (f"data/{folder}/{e.name}" + "/" * e.is_dir, e)
        for e in sorted(store_for(package).list(package / "data" / folder), key=lambda e: e.name)
        if not _is_partial(e)
        and not (shard.fullmatch(e.name) and not e.is_dir and not e.is_symlink)
    ]


def _is_partial(entry: Entry) -> bool:
    return is_partial_name(entry.name) and not entry.is_dir and not entry.is_symlink


def check_package(package: Path, work_dir: Path) -> None:
    """Raise `ForeignFilesError` if the package dir holds anything this project did not write."""
    foreign = foreign_files(package, work_dir)
    if foreign:
        raise ForeignFilesError(package, foreign)


def check_ours(package: Path, work_dir: Path, name: str, replace_other: bool = False) -> None:
    """Every refusal a build makes about the package dir, before it adds a file there:
    `ForeignFilesError` (`check_package`), then `OtherDatasetError` (`check_dataset`, unless
    `replace_other`)."""
    check_package(package, work_dir)
    check_dataset(package, work_dir, name, replace_other)
