"""A compact set of record ids, for duplicate detection over streams of any length.

Ids are reduced to 128-bit digests (sha256 prefix; a false match is astronomically unlikely)
and kept in sorted polars runs of three UInt64 columns: the digest's high and low halves and
the position where the id was first seen. That is 24 bytes an id, against ~100 for a Python
set of strings. Runs are merged like an LSM tree (see `_compact`), so a lookup probes a handful of
runs, each by binary search on `hi`.
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
        if not digests:
            return []
        # Repeats inside the batch: a dict (polars calls cost ~0.4 ms each, whatever the size).
        first: dict[bytes, int] = {}
        repeats: list[tuple[int, int]] = []  # (index, index of the first occurrence)
        for i, digest in enumerate(digests):
            j = first.setdefault(digest, i)
            if j != i:
                repeats.append((i, j))
        order = list(first.values())  # the first occurrences, ascending
        if repeats:
            digests = [digests[j] for j in order]
            positions = [positions[j] for j in order]
        batch = pl.DataFrame(
            {
                "d": pl.Series(digests, dtype=pl.Binary),
                "pos": pl.Series(positions, dtype=pl.UInt64),
            }
        ).select(
            hi=pl.col("d").bin.head(8).bin.reinterpret(dtype=pl.UInt64, endianness="big"),
            lo=pl.col("d").bin.tail(8).bin.reinterpret(dtype=pl.UInt64, endianness="big"),
            pos="pos",
        )
        found = self._lookup(batch)  # position in the batch of distinct ids -> first position
        result = [(order[k], pos) for k, pos in found.items()]
        if repeats:
            at = {j: k for k, j in enumerate(order)}
            for i, j in repeats:
                result.append((i, found.get(at[j], positions[at[j]])))
            result.sort()
        if len(found) < batch.height:
            fresh = batch
            if found:
                keep = [True] * batch.height
                for k in found:
                    keep[k] = False
                fresh = batch.filter(pl.Series(keep))
            run = fresh.sort("hi")
            self._runs.append(run)
            self.count += run.height
            self._compact()
        return result

    def _lookup(self, batch: pl.DataFrame) -> dict[int, int]:
        """Rows of `batch` (distinct hi, lo) already in the runs: row -> first position."""
        found: dict[int, int] = {}
        if not self._runs:
            return found
        q_hi = batch.get_column("hi")
        hi: list[int] | None = None
        lo: list[int] | None = None
        for run in self._runs:
            run_hi = run.get_column("hi")
            idx = run_hi.search_sorted(q_hi, side="left").cast(pl.Int64).clip(0, run.height - 1)
            hits = ((run_hi.gather(idx) == q_hi).arg_true()).to_list()
            if not hits:
                continue
            if hi is None:
                hi, lo = q_hi.to_list(), batch.get_column("lo").to_list()
            assert lo is not None
            run_lo = run.get_column("lo")
            run_pos = run.get_column("pos")
            for k in hits:
                # Walk the (almost always single) entries sharing this high half.
                r = idx[k]
                while r < run.height and run_hi[r] == hi[k]:
                    if run_lo[r] == lo[k]:
                        found[k] = run_pos[r]
                        break
                    r += 1
        return found

    def _compact(self) -> None:
        # Merge the newest run into its predecessor while it is at least half that size, but
        # never build a run larger than an eighth of all ids (or 1M): a merge briefly holds
        # its inputs and its output, so capping merged runs caps that transient at ~6 bytes
        # an id, and the number of runs stays around ten.
        cap = max(1 << 20, self.count // 8)
        runs = self._runs
        while (
            len(runs) >= 2
            and runs[-1].height * 2 >= runs[-2].height
            and runs[-1].height + runs[-2].height <= cap
        ):
            last = runs.pop()
            prev = runs.pop()
            # Both runs are sorted by `hi`; lookups walk equal `hi` values, so order by `hi`
            # alone is enough, and merge_sorted is linear with no intermediate copy.
            runs.append(prev.merge_sorted(last, key="hi"))
            del prev, last

    def frame(self) -> pl.DataFrame:
        """Every id seen (hi, lo, pos), as the runs' chunks side by side: no copy, no order."""
        if not self._runs:
            return pl.DataFrame(schema=_SCHEMA)
        return pl.concat(self._runs, rechunk=False)
