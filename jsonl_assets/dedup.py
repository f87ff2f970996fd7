"""A compact set of record ids, for duplicate detection over streams of any length.

Ids are reduced to 128-bit digests (sha256 prefix; a false match is astronomically unlikely)
and kept in sorted polars runs of three UInt64 columns: the digest's high and low halves and
the position where the id was first seen. That is 24 bytes an id, against ~100 for a Python
set of strings. Runs are merged like an LSM tree (a run is merged into its predecessor once it
is at least half that size), so a lookup probes O(log n) runs, each by binary search.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import polars as pl

_SCHEMA = {"hi": pl.UInt64, "lo": pl.UInt64, "pos": pl.UInt64}


def id_digest(record_id: str) -> bytes:
    """The 16-byte key an id is tracked by."""
    return hashlib.sha256(record_id.encode("utf-8")).digest()[:16]


class SeenIds:
    """Ids seen so far, each with the position of its first occurrence."""

    def __init__(self) -> None:
        self._runs: list[pl.DataFrame] = []
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def nbytes(self) -> int:
        """Bytes held by the runs."""
        return sum(run.estimated_size() for run in self._runs)

    def add_batch(
        self, digests: Sequence[bytes], positions: Sequence[int]
    ) -> list[tuple[int, int]]:
        """Add a batch in order; return ``(index_in_batch, first_position)`` for every digest
        already seen, earlier in the stream or earlier in this batch. New digests are added."""
        first_in_batch: dict[bytes, int] = {}
        duplicates: dict[int, int] = {}
        new_index: list[int] = []
        for i, digest in enumerate(digests):
            j = first_in_batch.setdefault(digest, i)
            if j != i:
                duplicates[i] = j  # resolved to a position below
            else:
                new_index.append(i)
        if not new_index and not duplicates:
            return []
        hi = [int.from_bytes(digests[i][:8], "big") for i in new_index]
        lo = [int.from_bytes(digests[i][8:16], "big") for i in new_index]
        found = self._lookup(hi, lo)
        earlier: dict[int, int] = {}
        fresh: list[int] = []
        for k, i in enumerate(new_index):
            pos = found[k]
            if pos is None:
                fresh.append(k)
            else:
                earlier[i] = pos
        result: list[tuple[int, int]] = []
        for i in sorted(earlier.keys() | duplicates.keys()):
            if i in earlier:
                result.append((i, earlier[i]))
            else:
                j = duplicates[i]
                result.append((i, earlier.get(j, positions[j])))
        if fresh:
            run = pl.DataFrame(
                {
                    "hi": [hi[k] for k in fresh],
                    "lo": [lo[k] for k in fresh],
                    "pos": [positions[new_index[k]] for k in fresh],
                },
                schema=_SCHEMA,
            ).sort("hi", "lo")
            self._runs.append(run)
            self.count += run.height
            self._compact()
        return result

    def _lookup(self, hi: list[int], lo: list[int]) -> list[int | None]:
        found: list[int | None] = [None] * len(hi)
        if not self._runs or not hi:
            return found
        q_hi = pl.Series("hi", hi, dtype=pl.UInt64)
        for run in self._runs:
            run_hi = run.get_column("hi")
            idx = run_hi.search_sorted(q_hi, side="left").cast(pl.Int64).clip(0, run.height - 1)
            hit = run_hi.gather(idx) == q_hi
            if not hit.any():
                continue
            run_lo = run.get_column("lo")
            run_pos = run.get_column("pos")
            for k in hit.arg_true().to_list():
                # Walk the (almost always single) entries sharing this high half.
                r = idx[k]
                while r < run.height and run_hi[r] == hi[k]:
                    if run_lo[r] == lo[k]:
                        found[k] = run_pos[r]
                        break
                    r += 1
        return found

    def _compact(self) -> None:
        runs = self._runs
        while len(runs) >= 2 and runs[-1].height * 2 >= runs[-2].height:
            last = runs.pop()
            prev = runs.pop()
            runs.append(pl.concat([prev, last]).sort("hi", "lo"))

    def frame(self) -> pl.DataFrame:
        """Every id seen, as one sorted frame (hi, lo, pos)."""
        if not self._runs:
            return pl.DataFrame(schema=_SCHEMA)
        return pl.concat(self._runs).sort("hi", "lo")
