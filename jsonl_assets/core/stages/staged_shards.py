"""Shards made by the one-pass build, staged in the work dir until the shards stage adopts them.

The one-pass build (record_stages.py) learns batch by batch which records the validated stage
accepts. It compresses them into shards at once (on a helper thread, while it makes the next
batch), into `<work>/staged/data/` (for a package on object storage: under a hidden prefix
of the package, each shard a multipart upload as it is written, see `staged_root`), with the
writer the shards stage journals, fed the lines with their indices. They stay out of the
package's listing: the shards stage, which Dagster runs only if the validated checks pass,
moves them in (`adopt`: one atomic rename, or server-side copy, each, journaled like a shard
it wrote, so a killed adoption resumes).

`staged.json`, committed before the validated marker, holds the shards stage's fingerprint,
the staged shards, and each family's content digest (what `shards_verified` checks against).
A pass killed midway leaves a staging folder that the next pass clears. Nothing is staged
into a package dir that refuses the build (record_stages.py asks `check_ours` first), and a
shards step refused there removes what was staged in it earlier (`withdraw`).
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import time
from array import array
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.line_batch import LineBatch
from jsonl_assets.core.shard_families import (
    FamilyContent,
    file_family,
    record_family,
    snapshot_folder,
)
from jsonl_assets.core.shard_writer import ShardInfo, ShardJournal, ShardWriteError, ShardWriter
from jsonl_assets.core.source_fingerprints import file_sha256
from jsonl_assets.core.store.base import store_for, write_bytes
from jsonl_assets.core.store.package_files import LOCK_PREFIX
from jsonl_assets.core.store.url import is_url
from jsonl_assets.core.store.work_files import PartitionDirs, read_marker, write_marker

STAGED_DIR: Final = "staged"
MARKER: Final = "staged.json"
FRAME_THREADS: Final = 2
STAGED_OBJECTS: Final = f"{LOCK_PREFIX}-staged"  # in a package on object storage
OWNER: Final = "owner.json"  # in a staging prefix: the host and work dir that stage there


def staged_root(dirs: PartitionDirs) -> Path:
    """Where the pass writes the partition's shards: `<work>/staged` for a local package (a
    rename moves them in); for a package on object storage, a hidden prefix of the package,
    `<package>/.jsonl-assets-staged/<work dir digest>/<objective>-<split>/`, so that each
    shard streams up as a multipart upload while it is written and is moved in by a
    server-side copy (the digest of the host and work dir keeps builders apart)."""
    if not is_url(dirs.package):
        return dirs.work / STAGED_DIR
    return staging_owner(dirs) / dirs.family_prefix


def staging_owner(dirs: PartitionDirs) -> Path:
    """`<package>/.jsonl-assets-staged/<digest of the host and the partition's work dir>`:
    the prefix that holds what this host and work dir stage for the partition (object
    storage only), and its `owner.json` (`OWNER`: who, for `staging_leftovers.py`)."""
    owner = hashlib.sha256(f"{socket.gethostname()}:{dirs.work.resolve()}".encode()).hexdigest()
    return dirs.package / STAGED_OBJECTS / owner[:16]


def _claim_staging(dirs: PartitionDirs) -> None:
    """Write the staging prefix's `owner.json` (before any upload under it)."""
    if is_url(dirs.package):
        doc = {"host": socket.gethostname(), "work": str(dirs.work.resolve())}
        write_bytes(staging_owner(dirs) / OWNER, orjson.dumps(doc, option=orjson.OPT_SORT_KEYS))


class StagedShards:
    """The accepted records of a one-pass build, written into staged shards as they come."""

    def __init__(self, cfg: PipelineConfig, dirs: PartitionDirs, background: bool = True) -> None:
        discard(dirs)
        _claim_staging(dirs)
        self.cfg = cfg
        self.dirs = dirs
        self.root = staged_root(dirs)
        self.families: list[str] = []  # per file index
        self._one_family = True
        # shard_by content_type: each record's family is its own content type (record_family)
        self._by_record = cfg.output.shard_by == "content_type"
        self.writers: dict[str, ShardWriter] = {}
        self.content: dict[str, FamilyContent] = {}
        # The report's statistics of the records staged (the merge measures them).
        self.statistics: dict[str, Any] = {}
        self.bytes_in = 0
        self.seconds = 0.0  # the helper thread's CPU time on the shards
        self.waited = 0.0  # the caller's time on them (waiting for the helper, or doing it)
        # With `background`, one helper thread compresses, hashes and writes a batch while the
        # caller makes the next one (zstd, zlib and sha256 release the GIL). One batch is in
        # flight at a time, so the shards get the batches in order: the bytes are the same
        # either way. Worth it only with a core to spare (on a busy machine the two threads
        # contend for it and the GIL).
        self._worker = ThreadPoolExecutor(1, "staged-shards") if background else None
        # And then the frames of a shard are compressed FRAME_THREADS at a time (same bytes).
        self._frame_threads = FRAME_THREADS if background else 1
        self._in_flight: Future[None] | None = None

    def add_file(self, entry: dict[str, Any]) -> None:
        """The next source file (an entry of the extracted stage's `files`)."""
        family = file_family(self.cfg, self.dirs, entry)
        if self.families and family != self.families[0]:
            self._one_family = False
        self.families.append(family)

    def add_batch(self, lines: LineBatch, fis: array, rejects: array, first: int) -> None:
        """A batch of transformed lines (newline-terminated; line k has index `first + k`),
        their file indices and the batch's rejects (ascending indices): the accepted lines go
        to their family's shards, whole runs between rejects at a time. The lists are handed
        over: the caller must not change them."""
        if self._worker is None:
            started = time.perf_counter()
            self._add_batch(lines, fis, rejects, first, self._one_family)
            self.waited += time.perf_counter() - started
            return
        self._wait()
        self._in_flight = self._worker.submit(
            self._add_batch, lines, fis, rejects, first, self._one_family
        )

    def _wait(self) -> None:
        """Wait for the batch in flight (raising what failed in it)."""
        if self._in_flight is not None:
            started = time.perf_counter()
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()
            self.waited += time.perf_counter() - started

    def _add_batch(
        self, lines: LineBatch, fis: array, rejects: array, first: int, one_family: bool
    ) -> None:
        started = time.thread_time()  # CPU time: a helper thread's waits for the GIL left out
        families = self.families
        start = 0
        for index in [*rejects, first + len(lines)]:  # runs between rejects
            k = index - first
            if k > start:
                if self._by_record:
                    prefix = self.dirs.family_prefix
                    for j in range(start, k):
                        self._add(record_family(prefix, lines[j]), lines[j], first + j, 1)
                elif one_family:
                    self._add(families[0], lines.run(start, k), first + start, k - start)
                else:
                    for j in range(start, k):
                        self._add(families[fis[j]], lines[j], first + j, 1)
            start = k + 1
        self.seconds += time.thread_time() - started

    def _add(self, family: str, block: bytes, first: int, count: int) -> None:
        writer = self.writers.get(family)
        if writer is None:
            writer = ShardWriter.for_output(
                self.cfg.output, self.root, family, None, compress_threads=self._frame_threads
            )
            self.writers[family] = writer
            self.content[family] = FamilyContent()
        self.content[family].update(block, count)
        self.bytes_in += len(block)
        writer.add_block(block, first)

    def commit(self, shard_fingerprint: str) -> None:
        """Close the last shards and write the marker, for the shards stage to adopt."""
        self._wait()
        if self._worker is not None:
            self._worker.shutdown()
        started = time.perf_counter()
        shards: list[ShardInfo] = []
        for family in sorted(self.writers):
            shards.extend(self.writers[family].close())
        shards.sort(key=lambda s: s.path)
        self.seconds += time.perf_counter() - started
        staged = {
            "shards": [asdict(s) for s in shards],
            "content": {f: c.as_json() for f, c in sorted(self.content.items())},
            "statistics": self.statistics,
            "bytes_in": self.bytes_in,
            "seconds": self.seconds,
        }
        write_marker(self.dirs.file(MARKER), shard_fingerprint, staged)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._wait()
        if self._worker is not None:
            self._worker.shutdown()
        for writer in self.writers.values():
            writer.abort()
        discard(self.dirs)


def read_staged(dirs: PartitionDirs, shard_fingerprint: str) -> dict[str, Any] | None:
    """What a one-pass build with these inputs staged, or None."""
    return read_marker(dirs.file(MARKER), shard_fingerprint)


def staged_present(dirs: PartitionDirs, staged: dict[str, Any]) -> bool:
    """Whether every staged shard is still there to adopt: in the staging folder, or already
    in the partition's snapshot folder in the package (a size check; adoption checks the
    sha256 where it matters)."""
    root = staged_root(dirs)
    folder = staged_folder(dirs, staged)
    for entry in staged["shards"]:
        path, size = entry["path"], entry["bytes"]
        final = dirs.package / folder / Path(path).name
        if not any(
            (st := store_for(p).stat(p)) is not None and not st.is_dir and st.size == size
            for p in (root / path, final)
        ):
            return False
    return True


def staged_folder(dirs: PartitionDirs, staged: dict[str, Any]) -> str:
    """The snapshot folder (`data/<objective>-<split>-<digest>`) the staged shards go to."""
    return snapshot_folder(
        dirs.family_prefix, ((s["path"], s["sha256"], s["bytes"]) for s in staged["shards"])
    )


def discard(dirs: PartitionDirs) -> None:
    """Remove the staged shards and their marker (the marker first: it vouches for them); on
    object storage, abort the multipart uploads a killed pass left under the staging prefix
    and remove the prefix (`owner.json` included)."""
    store = store_for(dirs.work)
    store.remove(dirs.file(MARKER))
    with contextlib.suppress(OSError):
        store.remove(dirs.work / STAGED_DIR, recursive=True)
    if is_url(dirs.package):
        owner = staging_owner(dirs)
        store_for(owner).remove_partials(owner)
        store_for(owner).remove(owner, recursive=True)


def withdraw(dirs: PartitionDirs) -> None:
    """After a refusal of the package dir (another dataset's package, files not ours:
    `package_files.check_ours`): on object storage, what this work dir staged under the
    package (`discard`: its uploads, `owner.json`, and the marker that vouched for them), so
    that the refused build leaves nothing there; a failure to remove them is not allowed to
    hide the refusal. A local package's staging is in the work dir: kept, for the build told
    to go on (`--replace-other-dataset`, files moved away) to adopt."""
    if is_url(dirs.package):
        with contextlib.suppress(OSError):
            discard(dirs)


def adopt(
    dirs: PartitionDirs, staged: dict[str, Any], journal: ShardJournal, committed: list[ShardInfo]
) -> list[ShardInfo] | None:
    """Move the staged shards into the partition's snapshot folder in the package, each
    journaled once there, skipping those `committed` holds. A shard whose name is already
    there (an unchanged partition: the folder is named after the content) is reused as it is,
    and its staged copy dropped, only if it holds exactly the staged bytes (its sha256, read
    again): a copy changed in place, even at the same size (bit rot, a hand edit), is
    replaced by the staged shard. None if a staged shard is gone and the package holds no
    exact copy of it (the record stages then run again)."""
    done = {s.path for s in committed}
    root = staged_root(dirs)
    folder = staged_folder(dirs, staged)
    shards = []
    for entry in staged["shards"]:
        name = Path(entry["path"]).name
        info = ShardInfo(**{**entry, "path": f"{folder}/{name}"})
        shards.append(info)
        if info.path in done:
            continue
        source, target = root / entry["path"], dirs.package / info.path
        journal.claim(info.path)
        if _is_shard(target, info):
            pass  # published by an earlier build with the same content (or moved by a run
            # killed before the journal): reused by reference
        elif (st := store_for(source).stat(source)) and not st.is_dir and st.size == info.bytes:
            _move(source, target)  # absent, or not these bytes: the staged copy replaces it
            reached("shard.renamed")
        else:
            return None
        journal.append(info)
        reached("shard.journaled")
    return shards


def _is_shard(path: Path, info: ShardInfo) -> bool:
    """Whether `path` holds the shard `info`: its size, then its sha256 (read only when the
    size matches)."""
    st = store_for(path).stat(path)
    return (
        st is not None
        and not st.is_dir
        and st.size == info.bytes
        and file_sha256(path) == info.sha256
    )


def _move(source: Path, target: Path) -> None:
    """Move a staged shard into the package (store.move_in: a rename, or a copy)."""
    try:
        store_for(target).move_in(source, target)
    except OSError as exc:
        reason = exc.strerror or str(exc)  # the paths are named once, here
        raise ShardWriteError(f"cannot move {source} to {target}: {reason}") from exc
