"""The package's statistics per objective x split: as the build measured them (its chunks
measure each record they accept, the merge adds them without the duplicates), or measured
from the shards in one streaming pass (shards found through metadata.json, read batch by
batch). Lengths go into fixed log-spaced bins, so every figure is an exact count that a
reader can recompute.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np
import orjson

from jsonl_assets.core.blank_text import JSON_WHITESPACE_BYTES
from jsonl_assets.core.build_workers import release_pool, result, submit, worker_pool
from jsonl_assets.core.compression import READ_CHUNK, TruncatedInput, iter_decompressed
from jsonl_assets.core.file_names import shown
from jsonl_assets.core.gc_pause import gc_paused
from jsonl_assets.core.report.bounded_counts import BoundedCounts, is_key
from jsonl_assets.core.report.licences import NOT_TEXT, LicenceCounts
from jsonl_assets.core.report.measure_columns import COLUMNS, NONE, Columns, MeasureColumns
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.stage_report import StageError
from jsonl_assets.core.store.base import read_bytes, store_for

MANIFEST: Final = "metadata.json"
TEXT_KINDS: Final = ("prompt", "response", "document")
UNITS: Final = ("chars", "words")
# Bin i holds values v with LENGTH_EDGES[i] <= v < LENGTH_EDGES[i + 1]; the last bin has no
# upper edge. Ten log-spaced edges a decade (rounded to integers), 0 to 1,000,000.
MANTISSAS: Final = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8)
LENGTH_EDGES: Final = (
    0,
    *sorted({round(m * 10**k) for k in range(6) for m in MANTISSAS}),
    1_000_000,
)
_EDGES: Final = np.array(LENGTH_EDGES, dtype=np.int64)
_BLOCK_RECORDS: Final = 16_384  # records measured before their columns are added


@dataclass(slots=True)
class Histogram:
    """Count, sum, min, max and per-bin counts of non-negative integers."""

    count: int = 0
    total: int = 0
    low: int | None = None
    high: int | None = None
    bins: list[int] = field(default_factory=lambda: [0] * len(LENGTH_EDGES))

    def add_many(self, values: np.ndarray) -> None:
        """Count each of `values` (non-negative integers) into the histogram."""
        if not len(values):
            return
        low, high = int(values.min()), int(values.max())
        self.count += len(values)
        self.total += int(values.sum())
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)
        index = np.searchsorted(_EDGES, values, side="right") - 1
        counts = np.bincount(index, minlength=len(LENGTH_EDGES))
        self.bins = [a + int(b) for a, b in zip(self.bins, counts, strict=True)]

    def merge(self, other: Histogram) -> None:
        """Add the values `other` counted."""
        self.count += other.count
        self.total += other.total
        for value in (other.low, other.high):
            if value is not None:
                self.low = value if self.low is None else min(self.low, value)
                self.high = value if self.high is None else max(self.high, value)
        self.bins = [a + b for a, b in zip(self.bins, other.bins, strict=True)]

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Histogram:
        return cls(doc["count"], doc["sum"], doc["min"], doc["max"], list(doc["bins"]))

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "sum": self.total,
            "min": self.low,
            "max": self.high,
            "bins": self.bins,
        }


def _counts(values: np.ndarray) -> list[tuple[int, int]]:
    found, counts = np.unique(values, return_counts=True)
    return [(int(v), int(n)) for v, n in zip(found, counts, strict=True)]


def _count(counter: Counter[int], values: np.ndarray) -> None:
    for value, n in _counts(values):
        counter[value] += n


def _sorted(counter: Counter[Any]) -> dict[str, int]:
    return {str(k): counter[k] for k in sorted(counter)}


@dataclass(slots=True)
class CellStats:
    """Everything measured for one objective x split."""

    objective: str
    split: str
    records: int = 0
    shards: int = 0
    lengths: dict[str, dict[str, Histogram]] = field(
        default_factory=lambda: {k: {u: Histogram() for u in UNITS} for k in TEXT_KINDS}
    )
    turns: Counter[int] = field(default_factory=Counter)
    tool_call_records: int = 0
    candidates: Counter[int] = field(default_factory=Counter)
    grading_types: BoundedCounts = field(default_factory=BoundedCounts)  # as the licences
    source_records: Counter[str] = field(default_factory=Counter)
    source_chars: Counter[str] = field(default_factory=Counter)
    licences: dict[str, LicenceCounts] = field(default_factory=dict)  # per source

    def add_columns(self, cols: Columns, keep: np.ndarray | None = None) -> None:
        """Add the measured records of `cols` (those where `keep` is True, if given)."""
        rows = cols.rows if keep is None else cols.rows[keep]
        col = {name: rows[:, i] for i, name in enumerate(COLUMNS)}
        self.records += len(rows)
        for kind in ("prompt", "document"):
            chars, words = col[f"{kind}_chars"], col[f"{kind}_words"]
            has = chars != NONE
            self.lengths[kind]["chars"].add_many(chars[has])
            self.lengths[kind]["words"].add_many(words[has])
        responses = cols.responses
        if keep is not None:
            responses = responses[np.repeat(keep, cols.column("responses"))]
        self.lengths["response"]["chars"].add_many(responses[:, 0])
        self.lengths["response"]["words"].add_many(responses[:, 1])
        _count(self.turns, col["turns"][col["turns"] > 0])
        self.tool_call_records += int(col["tool_call"].sum())
        _count(self.candidates, col["candidates"][col["candidates"] != NONE])
        for index, n in _counts(col["grading"][col["grading"] != NONE]):
            self.grading_types.add(cols.gradings[index], n)  # keys (bounded_key) already
        sources, chars = col["source"], col["chars"]
        for index, n in _counts(sources):
            self.source_records[cols.sources[index]] += n
            self.source_chars[cols.sources[index]] += int(chars[sources == index].sum())
        # (source, licence) pairs as one integer: licence indices start at NOT_TEXT (-2).
        width = len(cols.licences) - NOT_TEXT
        for pair, n in _counts(sources * width + (col["licence"] - NOT_TEXT)):
            source, licence = divmod(pair, width)
            licence += NOT_TEXT
            counts = self.licences.setdefault(cols.sources[source], LicenceCounts())
            counts.add(licence if licence < 0 else cols.licences[licence], n)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> CellStats:
        """The inverse of `to_json`."""
        cell = cls(doc["objective"], doc["split"], doc["records"], doc["shards"])
        cell.lengths = {
            k: {u: Histogram.from_json(h) for u, h in units.items()}
            for k, units in doc["lengths"].items()
        }
        cell.turns = Counter({int(k): v for k, v in doc["turns"].items()})
        cell.tool_call_records = doc["tool_call_records"]
        cell.candidates = Counter({int(k): v for k, v in doc["candidates"].items()})
        cell.grading_types = BoundedCounts.of_keys(
            doc["grading_types"], doc.get("grading_types_other", 0)
        )
        for source, figures in doc["sources"].items():
            cell.source_records[source] = figures["records"]
            cell.source_chars[source] = figures["chars"]
        cell.licences = {s: LicenceCounts.from_json(c) for s, c in doc["licences"].items()}
        return cell

    def merge(self, other: CellStats) -> None:
        """Add what `other` (of the same objective and split) measured."""
        self.records += other.records
        self.shards += other.shards
        for kind, units in other.lengths.items():
            for unit, histogram in units.items():
                self.lengths[kind][unit].merge(histogram)
        self.turns.update(other.turns)
        self.tool_call_records += other.tool_call_records
        self.candidates.update(other.candidates)
        self.grading_types.merge(other.grading_types)
        self.source_records.update(other.source_records)
        self.source_chars.update(other.source_chars)
        for source, counts in other.licences.items():
            self.licences.setdefault(source, LicenceCounts()).merge(counts)

    def to_json(self) -> dict[str, Any]:
        sources = sorted(self.source_records)
        return {
            "objective": self.objective,
            "split": self.split,
            "records": self.records,
            "shards": self.shards,
            "lengths": {
                k: {u: h.to_json() for u, h in units.items()} for k, units in self.lengths.items()
            },
            "turns": _sorted(self.turns),
            "tool_call_records": self.tool_call_records,
            "candidates": _sorted(self.candidates),
            "grading_types": self.grading_types.sorted_values(),
            "grading_types_other": self.grading_types.other,  # past the smallest MAX_VALUES
            "sources": {
                s: {"records": self.source_records[s], "chars": self.source_chars[s]}
                for s in sources
            },
            "licences": {s: self.licences[s].to_json() for s in sorted(self.licences)},
        }


def iter_lines(path: Path, compression: str) -> Iterator[bytes]:
    """The lines of a shard, streamed (a line is never longer than the verifier allowed)."""
    with store_for(path).open_read(path) as raw:
        yield from _lines(raw, compression)


def _lines(raw: BinaryIO, compression: str) -> Iterator[bytes]:
    rest = b""
    for chunk in iter_decompressed(raw, compression):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


class _Hashed:
    """A binary stream whose bytes are hashed (sha256) as they are read: the shard's digest
    comes from the one pass that measures it."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._sha.update(data)
        return data

    def readable(self) -> bool:
        return True

    def sha256(self) -> str:
        """The digest of every byte of the stream (what the decompressor left unread too)."""
        while self.read(READ_CHUNK):
            pass
        return self._sha.hexdigest()


def load_manifest(package: Path) -> dict[str, Any]:
    document = orjson.loads(read_bytes(package / MANIFEST))
    if not isinstance(document, dict):
        raise ValueError(f"{package / MANIFEST}: not a JSON object")
    return document


def cell_order(cell: CellStats) -> tuple[int, int]:
    return OBJECTIVES.index(cell.objective), SPLITS.index(cell.split)


# Per (objective, split): the sha256s of its shards, sorted, and the statistics of their
# records as the build measured them (CellStats.to_json).
MeasuredCells = Mapping[tuple[str, str], tuple[list[str], dict[str, Any]]]


def measured_cells(
    partitions: Iterable[Any],
) -> dict[tuple[str, str], tuple[list[str], dict[str, Any]]]:
    """The statistics the build measured, of the partitions (manifest_builder.PartitionShards)
    that have them."""
    return {
        (p.objective, p.split): (sorted(s["sha256"] for s in p.shards), p.statistics)
        for p in partitions
        if p.statistics and p.shards
    }


def current_keys(doc: dict[str, Any]) -> bool:
    """Whether the values counted in `doc` (CellStats.to_json) are keys of this version."""
    licences = (v for counts in doc["licences"].values() for v in counts["values"])
    return all(map(is_key, (*doc.get("grading_types", ()), *licences)))


def package_cells(
    package: Path, manifest: dict[str, Any], workers: int = 1, measured: MeasuredCells | None = None
) -> list[CellStats]:
    """Per objective x split statistics of every record the manifest lists. A cell the build
    measured (`measured`, for exactly the shards listed) is taken as it is; the shards of the
    others are measured in parts (a shard, or a range of a large shard's lines) on up to
    `workers` forked processes and added (every figure is a count, sum, minimum or maximum:
    the result does not depend on who measured what)."""
    cells: dict[tuple[str, str], CellStats] = {}
    shards = []
    for entry in manifest.get("files", []):
        key = (entry["objective"], entry["split"])
        listed = entry.get("shards", [])
        known = (measured or {}).get(key)
        # (statistics without licence counts, or with a value an older version kept or
        # shortened otherwise than `bounded_key`, are an older version's: measured again)
        if (
            known is not None
            and known[0] == sorted(s.get("sha256") for s in listed)
            and "licences" in known[1]
            and current_keys(known[1])
        ):
            cells[key] = CellStats.from_json(known[1])
            cells[key].shards = len(listed)
            continue
        shards.extend((*key, shard) for shard in listed)
    counts = [s.get("record_count") for _, _, s in shards]
    known = [c for c in counts if isinstance(c, int) and c > 0]
    # Parts of about an equal number of records, `workers` of them for the whole package.
    size = -(-sum(known) // workers) if known and workers > 1 else None
    tasks = []
    for (objective, split, shard), count in zip(shards, counts, strict=True):
        if size is None or not isinstance(count, int) or count <= size:
            tasks.append((package, objective, split, shard, 0, None))
            continue
        step = -(-count // -(-count // size))
        for first in range(0, count, step):
            last = first + step if first + step < count else None  # the last part: to the end
            tasks.append((package, objective, split, shard, first, last))
    for objective, split, _ in shards:
        cells.setdefault((objective, split), CellStats(objective, split))
    for part in _map(shard_cell, tasks, workers):
        cells[(part.objective, part.split)].merge(part)
    return sorted(cells.values(), key=cell_order)


@gc_paused()
def shard_cell(
    package: Path,
    objective: str,
    split: str,
    shard: dict[str, Any],
    first: int = 0,
    stop: int | None = None,
) -> CellStats:
    """The statistics of a shard's lines `first` to `stop` (None: its end); the part that
    starts at line 0 counts the shard. A shard that is cut or damaged, or a line that is not
    a record of the spec, is a `ShardUnreadable` naming the shard (and line); so is one whose
    bytes are not those metadata.json lists (its sha256, hashed as they are read, or its
    record_count), checked by the part that reads to its end (every part reads from the
    shard's first byte)."""
    cell = CellStats(objective, split, shards=int(first == 0))
    columns = MeasureColumns(objective)
    loads, add = orjson.loads, columns.add
    path = package / shard["path"]
    records = 0  # non-blank lines, as verify counts them (C16)
    with store_for(path).open_read(path) as handle:
        raw = _Hashed(handle)
        try:
            for index, line in enumerate(_lines(raw, shard.get("compression", "none"))):
                if stop is not None and index >= stop:
                    break
                if not line.strip(JSON_WHITESPACE_BYTES):
                    continue
                records += 1
                if index < first:
                    continue
                try:
                    add(loads(line), index)
                except (ValueError, TypeError, KeyError, AttributeError) as exc:
                    raise ShardUnreadable(
                        _unreadable(package, path, f"line {index + 1}: ", exc)
                    ) from exc
                if columns.count == _BLOCK_RECORDS:
                    cell.add_columns(columns.columns())
        except TruncatedInput as exc:
            raise ShardUnreadable(_unreadable(package, path, "", exc)) from exc
        if stop is None:  # read to its end (from its first byte): is it metadata.json's?
            _check_listed(package, path, shard, raw.sha256(), records)
    cell.add_columns(columns.columns())
    return cell


def _check_listed(
    package: Path, path: Path, shard: dict[str, Any], sha256: str, records: int
) -> None:
    """`ShardUnreadable` unless the shard's bytes are the ones metadata.json lists (its
    `sha256`) and hold its `record_count`: other bytes are not the package's figures."""
    listed, count = shard.get("sha256"), shard.get("record_count")
    if isinstance(listed, str) and listed.lower() != sha256:
        why = f"its sha256 is {sha256}, metadata.json lists {listed}"
    elif isinstance(count, int) and count != records:
        why = f"it holds {records} records, metadata.json lists {count}"
    else:
        return
    raise ShardUnreadable(_damaged(package, path, why))


class ShardUnreadable(StageError):
    """A published shard the report cannot measure: cut, damaged, or holding a line that is
    not a record (the message names the shard, the line where known, and why)."""


def _unreadable(package: Path, path: Path, where: str, exc: Exception) -> str:
    why = str(exc) if isinstance(exc, TruncatedInput) else f"{type(exc).__name__}: {exc}"
    return _damaged(package, path, f"{where}{why}")


def _damaged(package: Path, path: Path, why: str) -> str:
    return (
        f"shard {shown(str(path))}: {why} (the package is damaged: "
        f"`jsonl-assets verify {shown(str(package))}` lists what is wrong)"
    )


def _map(
    fn: Callable[..., CellStats], tasks: list[tuple[Any, ...]], workers: int
) -> Iterator[CellStats]:
    """`fn(*task)` for each task, in order; on a pool of forked processes when it helps."""
    if workers <= 1 or len(tasks) <= 1:
        yield from (fn(*t) for t in tasks)
        return
    pool = worker_pool(min(workers, len(tasks)), polars=False)
    try:
        futures = [submit(pool, fn, *t) for t in tasks]
        yield from (result(f) for f in futures)
    finally:
        release_pool(pool)
