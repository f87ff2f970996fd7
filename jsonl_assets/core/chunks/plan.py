"""The chunk plan of a partition: its sources cut into pieces that are read independently.

Plain (uncompressed) JSONL larger than `output.chunk_bytes` is cut into newline-aligned byte
ranges; each range records the lines before it, so traces keep their file-wide line numbers,
and the file's sha256 (one pass over the file finds both). Everything else is read whole:
compressed files, JSON arrays, CSV/TSV (a quoted field may hold a newline), text and Parquet.
Consecutive whole files are packed into one chunk while they fit in `chunk_bytes` together,
so many small files cost a few chunks, not one each. The plan is a pure function of the
config and the source files (their identity and bytes), and is recorded in the work dir
(`chunks/plan.json`) under the partition's extract fingerprint, so a rebuild reuses it
without reading the files again.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

from jsonl_assets.core.config import PipelineConfig, SourceConfig, SourceInput
from jsonl_assets.core.readers import SourceFile
from jsonl_assets.core.stages.extract_stage import extract_fingerprint
from jsonl_assets.core.store.base import (
    FileStat,
    SourceChangedError,
    VersionChanged,
    ensure_still,
    store_for,
)
from jsonl_assets.core.store.url import location
from jsonl_assets.core.store.work_files import (
    PartitionDirs,
    fingerprint,
    read_marker,
    write_marker,
)

CHUNKS_DIR: Final = "chunks"
PLAN: Final = "plan.json"
PLAN_VERSION: Final = "4"  # 2: small whole files packed into one chunk; 3: a range's
# file identity; 4: the files it was made from
_READ: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a partition's input: the `files` whole files from `file_index` on (in the
    partition's file order), or bytes [start, end) of file `file_index` holding lines
    `first_line + 1`...; for a byte range, the `sha256` and `identity` (`FileStat.identity`)
    of the file it was cut from: the cuts hold for that version only."""

    index: int
    file_index: int
    size: int
    start: int | None = None
    end: int | None = None
    first_line: int = 0
    sha256: str | None = None
    files: int = 1
    identity: list[Any] | None = None


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """A partition's chunks, in global (file, position) order, the plan's fingerprint, and
    the files it was made from as (source name, file) - with an object's listed stat, so that
    a chunk worker reads exactly these, and needs no listing of its own."""

    fingerprint: str
    chunks: tuple[Chunk, ...]
    inputs: tuple[tuple[str, SourceInput], ...]

    @property
    def files(self) -> int:
        return len(self.inputs)

    def input(self, cfg: PipelineConfig, index: int) -> tuple[SourceConfig, SourceInput]:
        """The partition's file `index` and its source's config."""
        name, item = self.inputs[index]
        return cfg.source(name), item

    def as_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "chunks": [asdict(c) for c in self.chunks],
            "inputs": [_input_json(name, item) for name, item in self.inputs],
        }


def _input_json(name: str, item: SourceInput) -> list[Any]:
    st = item.listed
    listed = None if st is None else [st.size, st.mtime_ns, st.etag]
    path = os.fspath(item.path)
    try:
        path.encode()
    except UnicodeEncodeError:  # a name that is not UTF-8: its bytes, in base64
        path = {"b64": base64.b64encode(os.fsencode(path)).decode()}  # type: ignore[assignment]
    return [name, path, item.rel, item.format, item.rel_b64, listed]


def _input_from(row: list[Any]) -> tuple[str, SourceInput]:
    name, path, rel, fmt, rel_b64, listed = row
    if isinstance(path, dict):
        path = os.fsdecode(base64.b64decode(path["b64"]))
    st = None if listed is None else FileStat(listed[0], listed[1], etag=listed[2])
    return name, SourceInput(location(path), rel, fmt, rel_b64, st)


def recorded_chunk_plan(dirs: PartitionDirs, plan_fp: str) -> ChunkPlan | None:
    """The partition's recorded plan of fingerprint `plan_fp`, or None."""
    cached = read_marker(dirs.work / CHUNKS_DIR / PLAN, plan_fp)
    if cached is None:
        return None
    chunks = tuple(Chunk(**c) for c in cached["chunks"])
    return ChunkPlan(plan_fp, chunks, tuple(_input_from(row) for row in cached["inputs"]))


def recorded_plan(dirs: PartitionDirs) -> dict[str, Any] | None:
    """The partition's last recorded plan (`files`, `chunks`), whatever its inputs, or None."""
    import orjson

    try:
        return orjson.loads((dirs.work / CHUNKS_DIR / PLAN).read_bytes())["report"]
    except (FileNotFoundError, orjson.JSONDecodeError, KeyError):
        return None


def plan_chunks(cfg: PipelineConfig, dirs: PartitionDirs, extract_fp: str = "") -> ChunkPlan:
    """The partition's chunk plan: the recorded one when its inputs are unchanged.
    `extract_fp`: the partition's extract fingerprint, if the caller has it (computing it
    stats every source file, a request each on object storage)."""
    chunk_bytes = cfg.output.chunk_bytes
    extract_fp = extract_fp or extract_fingerprint(cfg, dirs)
    plan_fp = fingerprint("chunks", PLAN_VERSION, extract_fp, chunk_bytes)
    if (cached := recorded_chunk_plan(dirs, plan_fp)) is not None:
        return cached
    chunks: list[Chunk] = []
    # The partition's files in the build's order: source by source, file by file.
    inputs = [(s.name, i) for s in cfg.sources_for(dirs.objective, dirs.split) for i in s.inputs]
    for fi, (_, item) in enumerate(inputs):
        st = item.observed_stat()
        size = st.size
        plain = size > chunk_bytes and SourceFile(item.path, item.rel, st).compression == "none"
        if item.format == "jsonl" and plain:
            chunks.extend(_ranges(item, fi, st, chunk_bytes, len(chunks)))
            continue
        last = chunks[-1] if chunks else None
        if last is not None and last.start is None and last.size + size <= chunk_bytes:
            chunks[-1] = replace(last, size=last.size + size, files=last.files + 1)
            continue
        chunks.append(Chunk(len(chunks), fi, size))
    plan = ChunkPlan(plan_fp, tuple(chunks), tuple(inputs))
    write_marker(dirs.work / CHUNKS_DIR / PLAN, plan_fp, plan.as_json())
    return plan


def _ranges(item: SourceInput, fi: int, st: FileStat, chunk_bytes: int, first: int) -> list[Chunk]:
    """Newline-aligned ranges of at least `chunk_bytes` of a plain file (the last excepted),
    in one hashing pass: each cut is just after the first newline that makes it that long."""
    size = st.size
    hasher = hashlib.sha256()
    cuts: list[tuple[int, int]] = [(0, 0)]  # (offset, lines before it)
    lines = 0
    offset = 0
    target = chunk_bytes - 1  # a chunk holds at least chunk_bytes (the last one excepted)
    store = store_for(item.path)
    try:
        with store.open_read(item.path, version=st) as handle:
            while data := handle.read(_READ):
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
    sha = hasher.hexdigest()
    ends = [c[0] for c in cuts[1:]] + [size]
    identity = list(st.identity)
    return [
        Chunk(first + k, fi, end - start, start, end, before, sha, identity=identity)
        for k, ((start, before), end) in enumerate(zip(cuts, ends, strict=True))
    ]
