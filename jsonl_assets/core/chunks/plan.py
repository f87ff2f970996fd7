"""The chunk plan of a partition: its sources cut into pieces that are read independently.

Plain (uncompressed) JSONL larger than `output.chunk_bytes` is cut into newline-aligned byte
ranges; each range records the lines before it, so traces keep their file-wide line numbers,
and the file's sha256 (the fingerprint's; an object's is found by the cutting pass).
Everything else is read whole:
compressed files, JSON arrays, CSV/TSV (a quoted field may hold a newline), text and Parquet.
Consecutive whole files are packed into one chunk while they fit in `chunk_bytes` together,
so many small files cost a few chunks, not one each. The plan is a pure function of the
config and the source files' names and bytes, and is recorded in the work dir
(`chunks/plan.json`) under the partition's extract fingerprint, so a rebuild reuses it
without reading the files again. It names each file as the config does (never by a path):
a chunk opens the file where the current config finds that name (a moved project, a volume
mounted elsewhere), and only if it is the version planned (`ChunkPlan.opened`).
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from jsonl_assets.core.config import PipelineConfig, SourceConfig, SourceInput
from jsonl_assets.core.config.path_names import kept_normpath
from jsonl_assets.core.config.source_globs import not_a_file
from jsonl_assets.core.file_names import shown
from jsonl_assets.core.readers import SourceFile
from jsonl_assets.core.source_fingerprints import (
    NOT_A_FILE,
    fingerprint_file,
    not_a_file_fingerprint,
    partition_snapshot,
)
from jsonl_assets.core.stages.extract_stage import extract_fingerprint
from jsonl_assets.core.store import file_hashes
from jsonl_assets.core.store.base import (
    FileStat,
    SourceChangedError,
    VersionChanged,
    ensure_still,
    read_bytes,
    store_for,
)
from jsonl_assets.core.store.url import is_url, location
from jsonl_assets.core.store.work_files import (
    PartitionDirs,
    fingerprint,
    read_marker,
    write_marker,
)

CHUNKS_DIR: Final = "chunks"
PLAN: Final = "plan.json"
PLAN_VERSION: Final = "5"  # 2: small whole files packed into one chunk; 3: a range's
# file identity; 4: the files it was made from; 5: named as the config names them (no
# path), with the identity and content they were planned for
_READ: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a partition's input: the `files` whole files from `file_index` on (in the
    partition's file order), or bytes [start, end) of file `file_index` holding lines
    `first_line + 1`...; for a byte range, the `sha256` of the file it was cut from (its
    content's, an object's too): the cuts hold for that version only."""

    index: int
    file_index: int
    size: int
    start: int | None = None
    end: int | None = None
    first_line: int = 0
    sha256: str | None = None
    files: int = 1


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """A file of the plan, named as the config names it - never by where it was found: its
    source, its config-relative name (`rel`, with `rel_b64`; an object's URL), its format,
    an object's listed stat, and the version the plan was made for: its `identity`
    (`FileStat.identity`) and content (`sha256`; an object's "etag:<ETag>")."""

    source: str
    rel: str
    format: str
    rel_b64: str | None
    listed: FileStat | None
    identity: tuple[int | str, ...]
    sha256: str


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """A partition's chunks, in global (file, position) order, the plan's fingerprint, and
    the files it was made from. A file is opened where the *current* config finds its name
    (`opened`): a project moved, or a shared volume mounted elsewhere, reads its own files."""

    fingerprint: str
    chunks: tuple[Chunk, ...]
    inputs: tuple[PlannedFile, ...]
    # Each source's inputs by name, for the source object last asked about (`input` finds a
    # file in O(1), not by a walk over its source's files: quadratic for 10^5 files).
    _named: dict[str, tuple[SourceConfig, dict[tuple[str, str | None], SourceInput]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def files(self) -> int:
        return len(self.inputs)

    def input(self, cfg: PipelineConfig, index: int) -> tuple[SourceConfig, SourceInput]:
        """The partition's file `index`, where the current config finds it, and its source's
        config. A config loaded without listing its files (a chunk step: the plan names
        them) locates it from its name; an object keeps its planned listing."""
        planned = self.inputs[index]
        source = cfg.source(planned.source)
        if not source.inputs:
            path = _located(cfg, planned.rel, planned.rel_b64)
            # A path the plan found not to be a file is judged again (as a listing would):
            # never stat'ed nor opened as one (a dangling symlink, a FIFO).
            why = _not_a_file_now(path) if planned.sha256.startswith(NOT_A_FILE) else None
            return source, SourceInput(
                path, planned.rel, planned.format, planned.rel_b64, planned.listed, why
            )
        cached = self._named.get(source.name)
        if cached is None or cached[0] is not source:  # first use, or another config's
            cached = self._named[source.name] = (source, _by_name(source))
        item = cached[1].get((planned.rel, planned.rel_b64))
        if item is not None:
            return source, item
        raise SourceChangedError(f"{planned.rel} is no longer a file of source {source.name}")

    def opened(self, cfg: PipelineConfig, index: int) -> tuple[SourceConfig, SourceInput, FileStat]:
        """`input(cfg, index)` and the file's stat now, if it is the version the plan was
        made for: the same identity, or the same bytes (a file touched or copied since: hashed
        again, once); else `SourceChangedError`. Every chunk read starts here. The planned
        sha256 is remembered for the stat (file_hashes.py): reading the file hashes nothing."""
        source, item = self.input(cfg, index)
        planned = self.inputs[index]
        st = item.observed_stat()
        if item.not_a_file is not None or planned.sha256.startswith(NOT_A_FILE):
            if planned.sha256 != not_a_file_fingerprint(item.not_a_file or "").sha256:
                raise SourceChangedError(f"{item.rel} changed since the partition was planned")
            return source, item, st  # never opened: quarantined whole (read_input)
        if st.identity != planned.identity:
            fp, _ = fingerprint_file(item.path, None, item.listed)
            if fp.sha256 != planned.sha256:
                raise SourceChangedError(f"{item.rel} changed since the partition was planned")
            st = FileStat(fp.size, fp.mtime_ns, fp.inode, fp.ctime_ns)
        elif not st.etag:
            file_hashes.remember(Path(item.path).resolve(), st, planned.sha256)
        return source, item, st

    def as_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "chunks": [asdict(c) for c in self.chunks],
            "inputs": [_input_json(f) for f in self.inputs],
        }


def _by_name(source: SourceConfig) -> dict[tuple[str, str | None], SourceInput]:
    """A source's inputs by name. Config loading gives two files one name never
    (`path_names.FileNames`); were it to, no chunk may open one of them for the other."""
    by_name: dict[tuple[str, str | None], SourceInput] = {}
    for item in source.inputs:
        other = by_name.setdefault((item.rel, item.rel_b64), item)
        if other is not item and other.path != item.path:
            raise SourceChangedError(
                f"{item.rel} names two files of source {source.name} "
                f"({shown(os.fspath(other.path))} and {shown(os.fspath(item.path))})"
            )
    return by_name


def _not_a_file_now(path: Path) -> str | None:
    """Why `path` is not a regular file now (`source_globs.not_a_file`; an object: None)."""
    return None if is_url(path) else not_a_file(os.fspath(path))


def _located(cfg: PipelineConfig, rel: str, rel_b64: str | None) -> Path:
    """Where the config at hand finds the file of config-relative name `rel` (an object:
    its URL), as config/loading.py named it (a `..` after a symlink is kept: `path_names`)."""
    if is_url(rel):
        return location(rel)
    name = os.fsdecode(base64.b64decode(rel_b64)) if rel_b64 is not None else rel
    return Path(kept_normpath(os.fspath(cfg.root / name)))


def _input_json(f: PlannedFile) -> list[Any]:
    st = f.listed
    listed = None if st is None else [st.size, st.mtime_ns, st.etag]
    return [f.source, f.rel, f.format, f.rel_b64, listed, list(f.identity), f.sha256]


def _input_from(row: list[Any]) -> PlannedFile:
    source, rel, fmt, rel_b64, listed, identity, sha = row
    st = None if listed is None else FileStat(listed[0], listed[1], etag=listed[2])
    return PlannedFile(source, rel, fmt, rel_b64, st, tuple(identity), sha)


def recorded_chunk_plan(dirs: PartitionDirs, plan_fp: str) -> ChunkPlan | None:
    """The partition's recorded plan of fingerprint `plan_fp`, or None."""
    cached = read_marker(dirs.work / CHUNKS_DIR / PLAN, plan_fp)
    if cached is None:
        return None
    chunks = tuple(Chunk(**c) for c in cached["chunks"])
    return ChunkPlan(plan_fp, chunks, tuple(_input_from(row) for row in cached["inputs"]))


def recorded_plan(dirs: PartitionDirs) -> dict[str, Any] | None:
    """The partition's last recorded plan (`files`, `chunks`), whatever its inputs, or None
    (also when it cannot be read: a FIFO, a device or a folder in its place, never opened
    blocking; the plan is shown in metadata only)."""
    import orjson

    try:
        return orjson.loads(read_bytes(dirs.work / CHUNKS_DIR / PLAN))["report"]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return None


def plan_chunks(cfg: PipelineConfig, dirs: PartitionDirs, extract_fp: str = "") -> ChunkPlan:
    """The partition's chunk plan: the recorded one when its inputs are unchanged.
    `extract_fp`: the partition's extract fingerprint, if the caller has it; the files must
    still be those it was computed from."""
    chunk_bytes = cfg.output.chunk_bytes
    snapshot = partition_snapshot(cfg, dirs)  # their stats and sha256s (the fingerprint's)
    now = extract_fingerprint(cfg, dirs, snapshot)
    if extract_fp and extract_fp != now:
        raise SourceChangedError("a source file changed as the build started")
    plan_fp = fingerprint("chunks", PLAN_VERSION, now, chunk_bytes)
    if (cached := recorded_chunk_plan(dirs, plan_fp)) is not None:
        return cached
    chunks: list[Chunk] = []
    inputs: list[PlannedFile] = []
    # The partition's files in the build's order: source by source, file by file.
    items = [(s.name, i) for s in cfg.sources_for(dirs.objective, dirs.split) for i in s.inputs]
    for fi, (name, item) in enumerate(items):
        st = item.observed_stat()
        seen = snapshot.files[str(item.path)]
        if not st.etag and not seen.same_stat(st):
            raise SourceChangedError(f"{item.rel} changed while it was planned")
        inputs.append(
            PlannedFile(
                name, item.rel, item.format, item.rel_b64, item.listed, st.identity, seen.sha256
            )
        )
        size = st.size
        plain = size > chunk_bytes and SourceFile(item.path, item.rel, st).compression == "none"
        if item.format == "jsonl" and plain:
            known = None if st.etag else seen.sha256  # an object's content is hashed here
            chunks.extend(_ranges(item, fi, st, chunk_bytes, len(chunks), known))
            continue
        last = chunks[-1] if chunks else None
        if last is not None and last.start is None and last.size + size <= chunk_bytes:
            chunks[-1] = replace(last, size=last.size + size, files=last.files + 1)
            continue
        chunks.append(Chunk(len(chunks), fi, size))
    plan = ChunkPlan(plan_fp, tuple(chunks), tuple(inputs))
    write_marker(dirs.work / CHUNKS_DIR / PLAN, plan_fp, plan.as_json())
    return plan


def _ranges(
    item: SourceInput, fi: int, st: FileStat, chunk_bytes: int, first: int, sha: str | None
) -> list[Chunk]:
    """Newline-aligned ranges of at least `chunk_bytes` of a plain file (the last excepted),
    in one pass, which hashes the file unless its `sha` is known: each cut is just after the
    first newline that makes it that long."""
    size = st.size
    hasher = hashlib.sha256() if sha is None else None
    cuts: list[tuple[int, int]] = [(0, 0)]  # (offset, lines before it)
    lines = 0
    offset = 0
    target = chunk_bytes - 1  # a chunk holds at least chunk_bytes (the last one excepted)
    store = store_for(item.path)
    try:
        with store.open_read(item.path, version=st) as handle:
            while data := handle.read(_READ):
                if hasher is not None:
                    hasher.update(data)
                at = 0
                while target < offset + len(data):
                    nl = data.find(b"\n", max(at, target - offset))
                    if nl < 0:
                        break
                    lines += data.count(b"\n", at, nl + 1)
                    at = nl + 1
                    if offset + at < size:
                        cuts.append((offset + at, lines))
                    target = offset + at + chunk_bytes - 1
                lines += data.count(b"\n", at)
                offset += len(data)
        if offset != size:
            raise VersionChanged(f"{offset} bytes were read of {size}")
        ensure_still(item.path, st)
    except VersionChanged as exc:
        raise SourceChangedError(f"{item.rel} changed while it was planned ({exc})") from None
    if hasher is not None:
        sha = hasher.hexdigest()
    ends = [c[0] for c in cuts[1:]] + [size]
    return [
        Chunk(first + k, fi, end - start, start, end, before, sha)
        for k, ((start, before), end) in enumerate(zip(cuts, ends, strict=True))
    ]
