"""The package's statistics, computed in one streaming pass over its shards.

Shards are found through metadata.json (never by name) and read batch by batch: memory holds
one decompressed chunk and fixed-size counters, whatever the package's size. Lengths go into
fixed log-spaced bins, so every figure is an exact count that a reader can recompute.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.build_workers import release_pool, result, worker_pool
from jsonl_assets.core.compression import iter_decompressed
from jsonl_assets.core.gc_pause import gc_paused
from jsonl_assets.core.report.record_measures import Size, measure
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
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


@dataclass(slots=True)
class Histogram:
    """Count, sum, min, max and per-bin counts of non-negative integers."""

    count: int = 0
    total: int = 0
    low: int | None = None
    high: int | None = None
    bins: list[int] = field(default_factory=lambda: [0] * len(LENGTH_EDGES))

    def add(self, value: int) -> None:
        self.count += 1
        self.total += value
        if self.low is None or value < self.low:
            self.low = value
        if self.high is None or value > self.high:
            self.high = value
        self.bins[bisect_right(LENGTH_EDGES, value) - 1] += 1

    def merge(self, other: Histogram) -> None:
        """Add the values `other` counted."""
        self.count += other.count
        self.total += other.total
        for value in (other.low, other.high):
            if value is not None:
                self.low = value if self.low is None else min(self.low, value)
                self.high = value if self.high is None else max(self.high, value)
        self.bins = [a + b for a, b in zip(self.bins, other.bins, strict=True)]

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "sum": self.total,
            "min": self.low,
            "max": self.high,
            "bins": self.bins,
        }


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
    grading_types: Counter[str] = field(default_factory=Counter)
    source_records: Counter[str] = field(default_factory=Counter)
    source_chars: Counter[str] = field(default_factory=Counter)

    def _length(self, kind: str, size: Size) -> None:
        self.lengths[kind]["chars"].add(size[0])
        self.lengths[kind]["words"].add(size[1])

    def add(self, record: dict[str, Any]) -> None:
        m = measure(record, self.objective)
        self.records += 1
        if m.prompt is not None:
            self._length("prompt", m.prompt)
        for response in m.responses:
            self._length("response", response)
        if m.document is not None:
            self._length("document", m.document)
        if m.turns is not None:
            self.turns[m.turns] += 1
        self.tool_call_records += m.tool_call
        if m.candidates is not None:
            self.candidates[m.candidates] += 1
        if m.grading is not None:
            self.grading_types[m.grading] += 1
        self.source_records[m.source] += 1
        self.source_chars[m.source] += m.chars

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
        self.grading_types.update(other.grading_types)
        self.source_records.update(other.source_records)
        self.source_chars.update(other.source_chars)

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
            "grading_types": _sorted(self.grading_types),
            "sources": {
                s: {"records": self.source_records[s], "chars": self.source_chars[s]}
                for s in sources
            },
        }


def iter_lines(path: Path, compression: str) -> Iterator[bytes]:
    """The lines of a shard, streamed (a line is never longer than the verifier allowed)."""
    with store_for(path).open_read(path) as raw:
        rest = b""
        for chunk in iter_decompressed(raw, compression):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            yield from lines
        if rest:
            yield rest


def load_manifest(package: Path) -> dict[str, Any]:
    document = orjson.loads(read_bytes(package / MANIFEST))
    if not isinstance(document, dict):
        raise ValueError(f"{package / MANIFEST}: not a JSON object")
    return document


def cell_order(cell: CellStats) -> tuple[int, int]:
    return OBJECTIVES.index(cell.objective), SPLITS.index(cell.split)


def package_cells(package: Path, manifest: dict[str, Any], workers: int = 1) -> list[CellStats]:
    """Per objective x split statistics of every record the manifest lists, measured in parts
    (a shard, or a range of a large shard's lines) on up to `workers` forked processes and
    added (every figure is a count, sum, minimum or maximum: the result does not depend on
    who measured what)."""
    shards = [
        (entry["objective"], entry["split"], shard)
        for entry in manifest.get("files", [])
        for shard in entry.get("shards", [])
    ]
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
    cells: dict[tuple[str, str], CellStats] = {}
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
    starts at line 0 counts the shard."""
    cell = CellStats(objective, split, shards=int(first == 0))
    loads, add = orjson.loads, cell.add
    lines = iter_lines(package / shard["path"], shard.get("compression", "none"))
    for index, line in enumerate(lines):
        if index < first:
            continue
        if stop is not None and index >= stop:
            break
        if line.strip():
            add(loads(line))
    return cell


def _map(
    fn: Callable[..., CellStats], tasks: list[tuple[Any, ...]], workers: int
) -> Iterator[CellStats]:
    """`fn(*task)` for each task, in order; on a pool of forked processes when it helps."""
    if workers <= 1 or len(tasks) <= 1:
        yield from (fn(*t) for t in tasks)
        return
    pool = worker_pool(min(workers, len(tasks)))
    try:
        futures = [pool.submit(fn, *t) for t in tasks]
        yield from (result(f) for f in futures)
    finally:
        release_pool(pool)
