"""Fingerprints of the configured raw sources, and which partitions a change reaches.

Plain Python (the Dagster sensor and the observable source asset call it). A file is looked
at in two steps: its stat (size, mtime, inode, ctime) first, and its content sha256 only when
the stat differs from the previous snapshot, so an unchanged corpus costs one `stat` per file.
A file counts as changed when its *content* changed: touching a file re-hashes it, but the
same bytes give the same fingerprint. An object on object storage is never read for it: its
ETag and size (and version id, on a versioned bucket) stand for its content.

A source's digest covers the settings that decide which records it gives, resolved, exactly
as the record stages' fingerprints hold them (`record_settings`, from core/record_settings.py:
its adapter, options, split, effective quality policy, ..., the split ratios for a `split:
auto` source, `limits.max_record_bytes`, ...; not its entry as written, nor thresholds) and
the (config-relative name, sha256) of every file its globs match, so adding, removing,
editing or re-configuring a source changes it exactly when `build` would rebuild. A file is named by its `file_key` (its name, and for a
name that is not UTF-8 the name's bytes too: `core/file_names.py`), so two files whose shown
names coincide stay two, and every key is JSON (the sensor's snapshot, a partition's record). A partition's version covers the digests of the
sources that feed it, in config order (records are written in that order, and the first of
two with one id wins): a source with `split: auto` feeds the three splits of its objective,
a source with a declared split feeds that one partition. The sensor rebuilds exactly the
partitions whose version changed, and those a threshold edit reaches: whose thresholds
changed and that a blocking check stopped or fails (`build` runs them; core/partition_state).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.config import PipelineConfig, SourceConfig
from jsonl_assets.core.file_names import KEY_ESCAPE, file_key, os_name_key, os_name_of_key
from jsonl_assets.core.record_settings import DEFAULT_GLOBALS, global_settings, source_settings
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.store import file_hashes
from jsonl_assets.core.store.base import (
    FileStat,
    existing_stat,
    read_bytes,
    store_for,
    write_bytes,
)
from jsonl_assets.core.store.url import is_url
from jsonl_assets.core.store.work_files import PartitionDirs

HASH_CHUNK_BYTES: Final = 1 << 20
VERSION_CHARS: Final = 16
# A partition's record of its files' stats and sha256s (`partition_snapshot`), in its work dir.
FINGERPRINTS_FILE: Final = "raw_sources.fingerprints.json"


@dataclass(frozen=True, slots=True)
class FileFingerprint:
    """What a file looked like: its stat, and the sha256 of its bytes at that stat."""

    size: int
    mtime_ns: int
    inode: int
    ctime_ns: int
    sha256: str

    def same_stat(self, st: FileStat) -> bool:
        return (self.size, self.mtime_ns, self.inode, self.ctime_ns) == (
            st.size,
            st.mtime_ns,
            st.inode,
            st.ctime_ns,
        )


@dataclass(frozen=True, slots=True)
class SourceFiles:
    """One configured source: its digest and the (relative name, sha256) of its files."""

    name: str
    objective: str
    split: str
    digest: str
    files: tuple[tuple[str, str, int], ...]  # (config-relative `file_key`, sha256, size)


@dataclass(frozen=True, slots=True)
class SourcesSnapshot:
    """Every configured source at one moment. `files` is keyed by absolute path (as `os`
    functions take it: `os_name_key` makes it JSON)."""

    files: Mapping[str, FileFingerprint]
    sources: Mapping[str, SourceFiles]
    hashed: tuple[str, ...] = ()  # absolute paths whose content was read for this snapshot
    # The paths of `hashed` each source lists (a file two sources list is under both).
    hashed_per_source: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # The settings that decide the stages of a partition no source feeds (`unfed_settings`).
    unfed: Mapping[str, Any] = field(default_factory=dict)
    # Each partition's thresholds (`partition_thresholds`); empty in a cursor of an older version.
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    # Whether `build` would run a partition whose record stages are current (a blocking check
    # stopped or fails it): asked, lazily, of partitions whose thresholds changed.
    held: Callable[[str], bool] | None = field(default=None, compare=False)

    def partition_versions(self) -> dict[str, str]:
        """Data version of each of the twelve partitions, keyed `objective|split`."""
        return {
            key: partition_version(self.sources_for(key), self.unfed)
            for key in all_partition_key_strings()
        }

    def hashed_for(self, key: str) -> int:
        """How many files of the partition's sources were read for this snapshot (a file
        several of its sources list counts once)."""
        read: set[str] = set()
        for source in self.sources_for(key):
            read |= self.hashed_per_source.get(source.name, frozenset())
        return len(read)

    def sources_for(self, key: str) -> list[SourceFiles]:
        """The sources that feed partition `key`, in config order (`sources` keeps it)."""
        objective, split = key.split("|", 1)
        return [
            s
            for s in self.sources.values()
            if s.objective == objective and split in splits_fed(s.split)
        ]


def path_key(path: str) -> str:
    """A snapshot's path as a JSON key: an object's URL is text, keyed as it is (`file_key`);
    a local path is an OS-level name, keyed by its bytes (`os_name_key`). The locale decides
    neither (in Python's ASCII mode a URL holding `é` is no OS-level name to encode)."""
    return file_key(path, None) if is_url(path) else os_name_key(path)


def key_path(key: str) -> str:
    """The snapshot path whose `path_key` is `key` (its inverse)."""
    if not key.startswith(KEY_ESCAPE):
        return key if is_url(key) else os_name_of_key(key)
    raw = base64.b64decode(key[len(KEY_ESCAPE) :], validate=True)
    text = raw.decode("utf-8", "surrogateescape")
    return text if is_url(text) else os_name_of_key(key)


def all_partition_key_strings() -> list[str]:
    """`objective|split` keys in objective-then-split order (as partitions.all_partition_keys)."""
    return [f"{o}|{s}" for o in OBJECTIVES for s in SPLITS]


def splits_fed(split: str) -> tuple[str, ...]:
    """The splits a source feeds: all three for `auto`, else its declared split."""
    return tuple(SPLITS) if split == "auto" else (split,)


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks (memory stays flat)."""
    digest = hashlib.sha256()
    with store_for(path).open_read(path) as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint_file(
    path: Path, previous: FileFingerprint | None, listed: FileStat | None = None
) -> tuple[FileFingerprint, bool]:
    """The file's fingerprint, and whether its content had to be read (stat differed from
    `previous`, and this process had not hashed it at that stat: file_hashes.py);
    `listed`: an object's stat from its listing (then nothing is asked of the object)."""
    st = listed if listed is not None else existing_stat(path)
    if st.etag:  # object storage: the ETag (with the version id) names the bytes; none is read
        return FileFingerprint(st.size, st.mtime_ns, 0, 0, f"etag:{st.etag}"), False
    if previous is not None and previous.same_stat(st):
        return previous, False
    if (known := file_hashes.known(path.resolve(), st)) is not None:  # hashed in this process
        return FileFingerprint(st.size, st.mtime_ns, st.inode, st.ctime_ns, known), False
    sha = file_sha256(path)
    after = existing_stat(path)
    if (after.size, after.mtime_ns) != (st.size, st.mtime_ns):
        # Written to while we read it: keep no stat, so the next look hashes it again.
        return FileFingerprint(-1, -1, -1, -1, sha), True
    file_hashes.remember(path.resolve(), st, sha)
    return FileFingerprint(st.size, st.mtime_ns, st.inode, st.ctime_ns, sha), True


NOT_A_FILE: Final = "not-a-file:"  # the sha256 field's prefix for such a path


def not_a_file_fingerprint(why: str) -> FileFingerprint:
    """The fingerprint of a matched path that is not a regular file (`SourceInput.not_a_file`):
    no bytes, and in place of a sha256 what it is, so the partition's version changes when it
    becomes a file (a volume mounted under a dangling symlink), even an empty one."""
    return FileFingerprint(0, 0, 0, 0, f"{NOT_A_FILE}{why}")


def partition_snapshot(cfg: PipelineConfig, dirs: PartitionDirs) -> SourcesSnapshot:
    """The files of the sources that feed partition `dirs`, fingerprinted against the record
    of the partition's last look (`FINGERPRINTS_FILE`, beside its work files): a file whose
    stat is unchanged costs one `stat`, a touched or copied one a re-hash. The record is
    rewritten when it changed. The in-run observation of `raw_sources` and the extracted
    stage's fingerprint both look through here: one stat -> sha256 record per partition."""
    path = dirs.file(FINGERPRINTS_FILE)
    # The record names each file as the config does (config-relative, an object's URL), not
    # by its path: a moved project, or a volume mounted elsewhere, re-hashes nothing.
    names = {
        str(i.path): file_key(i.rel, i.rel_b64)
        for s in cfg.sources_for(dirs.objective, dirs.split)
        for i in s.inputs
    }
    try:
        recorded = fingerprints_from_json(orjson.loads(read_bytes(path)))
    except (OSError, TypeError, ValueError, AttributeError):
        recorded = {}
    previous = {p: recorded[name] for p, name in names.items() if name in recorded}
    snapshot = take_snapshot(cfg, previous, only=sources_feeding(cfg, dirs.key))
    now = {names[p]: fp for p, fp in snapshot.files.items()}
    if now != recorded:  # a temporary of its own: the plan steps of two runs may race here
        write_bytes(path, orjson.dumps(fingerprints_to_json(now)), shared=True)
    return snapshot


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def record_settings(cfg: PipelineConfig, source: SourceConfig) -> dict[str, Any]:
    """The effective settings that decide which records `source` gives, and so the records
    of the partitions it feeds: exactly the values the record stages' fingerprints hold for
    it (`core/record_settings.py`, one implementation for both), so a change makes `build`
    rebuild those partitions and the sensor request them, and nothing else does. Resolved,
    not as written: an equivalent rewrite of the entry, a source's own thresholds, a global
    `quality` rule the source overrides anyway change nothing."""
    return source_settings(cfg, source)


def partition_thresholds(cfg: PipelineConfig) -> dict[str, Any]:
    """The thresholds each partition's rate checks are decided by: its objective's (global or
    per objective) and the own `thresholds` of the sources that feed it."""
    out: dict[str, Any] = {}
    for key in all_partition_key_strings():
        objective, split = key.split("|", 1)
        own = [
            [s.name, dict(s.thresholds)]
            for s in cfg.sources
            if s.thresholds and s.objective == objective and split in splits_fed(s.split)
        ]
        out[key] = [dataclasses.asdict(cfg.thresholds_for(objective)), own]
    return out


class HeldByCheck:
    """Whether `build` would run a partition although its record stages are those of its
    current inputs: a blocking check stopped its pass or fails it (core/partition_state);
    each partition asked once."""

    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg
        self.answers: dict[str, bool] = {}

    def __call__(self, key: str) -> bool:
        from jsonl_assets.core.partition_state import held_back  # it imports this module

        if key not in self.answers:
            self.answers[key] = held_back(self.cfg, key)
        return self.answers[key]


def unfed_settings(cfg: PipelineConfig) -> dict[str, Any]:
    """The settings the record stages of a partition no source feeds are fingerprinted by
    (`build` rebuilds such a partition, built empty before, when they change, so the sensor
    must request it too); empty when each is the default, as the version then was. Not the
    quality rules: the validated stage holds those of the sources it judges, here none."""
    settings = global_settings(cfg)
    return {} if settings == DEFAULT_GLOBALS else settings


def source_digest(files: Iterable[tuple[str, str, int]], settings: Mapping[str, Any]) -> str:
    """A source's digest: its files' (name, sha256) and its `record_settings`."""
    payload = {"files": sorted([rel, sha] for rel, sha, _ in files), "settings": dict(settings)}
    return hashlib.sha256(_canonical(payload)).hexdigest()


def partition_version(
    sources: Sequence[SourceFiles], unfed: Mapping[str, Any] | None = None
) -> str:
    """A short, stable version of a partition's inputs: each source's name and digest, in
    the order given (config order); sources listed in name order give the version of the
    older, name-sorted payload. A partition no source feeds has one too, from `unfed`
    (`unfed_settings`; with each setting the default, the version it always had)."""
    payload: Any = [[s.name, s.digest] for s in sources]
    if not sources and unfed:
        payload = {"unfed": dict(unfed)}
    return hashlib.sha256(_canonical(payload)).hexdigest()[:VERSION_CHARS]


def sources_feeding(cfg: PipelineConfig, key: str) -> list[str]:
    """Names of the configured sources that feed partition `objective|split`."""
    objective, split = key.split("|", 1)
    return [
        s.name for s in cfg.sources if s.objective == objective and split in splits_fed(s.split)
    ]


def take_snapshot(
    cfg: PipelineConfig,
    previous: Mapping[str, FileFingerprint] | None = None,
    only: Iterable[str] | None = None,
) -> SourcesSnapshot:
    """Fingerprint every file of every configured source (or of the sources named in `only`;
    the snapshot's versions are then right only for partitions those sources alone feed),
    re-hashing only files whose stat changed since `previous`."""
    previous = previous or {}
    wanted = None if only is None else set(only)
    files: dict[str, FileFingerprint] = {}
    hashed: list[str] = []
    read_now: set[str] = set()
    hashed_per_source: dict[str, frozenset[str]] = {}
    sources: dict[str, SourceFiles] = {}
    for source in cfg.sources:
        if wanted is not None and source.name not in wanted:
            continue
        entries: list[tuple[str, str, int]] = []
        for item in source.inputs:
            key = str(item.path)
            if key not in files and item.not_a_file is not None:
                files[key] = not_a_file_fingerprint(item.not_a_file)
            elif key not in files:
                fp, read = fingerprint_file(item.path, previous.get(key), item.listed)
                files[key] = fp
                if read:
                    hashed.append(key)
                    read_now.add(key)
            entries.append((file_key(item.rel, item.rel_b64), files[key].sha256, files[key].size))
        read_here = {str(item.path) for item in source.inputs}.intersection(read_now)
        hashed_per_source[source.name] = frozenset(read_here)
        sources[source.name] = _source_files(cfg, source, entries)
    return SourcesSnapshot(
        files=files,
        sources=sources,
        hashed=tuple(hashed),
        hashed_per_source=hashed_per_source,
        unfed=unfed_settings(cfg),
        thresholds=partition_thresholds(cfg),
        held=HeldByCheck(cfg),
    )


def _source_files(
    cfg: PipelineConfig, source: SourceConfig, entries: list[tuple[str, str, int]]
) -> SourceFiles:
    return SourceFiles(
        name=source.name,
        objective=source.objective,
        split=source.split,
        digest=source_digest(entries, record_settings(cfg, source)),
        files=tuple(sorted(entries)),
    )


def read_partition_version(
    cfg: PipelineConfig, key: str, files: Iterable[Mapping[str, Any]]
) -> str:
    """A partition's version from the files a stage actually read (dicts with `source`,
    `file`, `sha256`, `bytes`, `file_b64` for a name that is not UTF-8 and, for an object,
    `etag`, as `extracted` reports them). It
    equals the snapshot's `partition_versions()[key]` when the files did not change in
    between (an object is named by its ETag there, as `fingerprint_file` names it)."""
    by_source: dict[str, list[tuple[str, str, int]]] = {}
    for f in files:
        named = f"etag:{f['etag']}" if f.get("etag") else str(f["sha256"])
        name = file_key(str(f["file"]), f.get("file_b64"))
        by_source.setdefault(str(f["source"]), []).append((name, named, int(f["bytes"])))
    objective, split = key.split("|", 1)
    return partition_version(
        [
            _source_files(cfg, source, by_source.get(source.name, []))
            for source in cfg.sources
            if source.objective == objective and split in splits_fed(source.split)
        ],
        unfed_settings(cfg),
    )


def changed_sources(before: SourcesSnapshot, after: SourcesSnapshot) -> list[str]:
    """Names of sources added, removed or changed, and of those whose place among a
    partition's sources changed (sorted)."""

    def digest(snap: SourcesSnapshot, name: str) -> str | None:
        source = snap.sources.get(name)
        return source.digest if source is not None else None

    names = set(before.sources) | set(after.sources)
    changed = {n for n in names if digest(before, n) != digest(after, n)}
    for key in changed_partitions(before, after):
        old = [s.name for s in before.sources_for(key) if s.name not in changed]
        new = [s.name for s in after.sources_for(key) if s.name not in changed]
        changed.update(a for a, b in zip(old, new, strict=False) if a != b)
    return sorted(changed)


def changed_partitions(before: SourcesSnapshot, after: SourcesSnapshot) -> list[str]:
    """Partitions (objective|split, canonical order) whose version changed: a source of it
    changed (content, entry, the settings that decide its records), was added, removed or
    moved to or from it, or its sources' order changed; and those whose thresholds changed
    that a blocking check stopped or fails (`after.held`): `build` runs those too."""
    old, new = before.partition_versions(), after.partition_versions()
    return [
        k
        for k in all_partition_key_strings()
        if old[k] != new[k] or _thresholds_reach(before, after, k)
    ]


def _thresholds_reach(before: SourcesSnapshot, after: SourcesSnapshot, key: str) -> bool:
    if not before.thresholds or after.held is None:  # an older cursor: thresholds unknown
        return False
    return before.thresholds.get(key) != after.thresholds.get(key) and after.held(key)


def fingerprints_to_json(files: Mapping[str, FileFingerprint]) -> dict[str, list[Any]]:
    """Fingerprints as plain JSON, keyed as given (the cursor: by absolute path; a partition's
    record: by config-relative name)."""
    return {
        path: [fp.size, fp.mtime_ns, fp.inode, fp.ctime_ns, fp.sha256]
        for path, fp in sorted(files.items())
    }


def fingerprints_from_json(data: Mapping[str, Any]) -> dict[str, FileFingerprint]:
    """The inverse of `fingerprints_to_json`; raises ValueError/TypeError on malformed data."""
    return {
        path: FileFingerprint(int(a), int(b), int(c), int(d), str(e))
        for path, (a, b, c, d, e) in data.items()
    }
