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
        d = pl.Series("d", digests, dtype=pl.Binary)
        batch = pl.DataFrame(
            {
                "hi": d.bin.head(8).bin.reinterpret(dtype=pl.UInt64, endianness="big"),
                "lo": d.bin.tail(8).bin.reinterpret(dtype=pl.UInt64, endianness="big"),
                "pos": pl.Series("pos", positions, dtype=pl.UInt64),
            }
        ).with_row_index("i")
        batch = batch.with_columns(
            first=pl.struct("hi", "lo").is_first_distinct(),
            first_pos=pl.col("pos").first().over("hi", "lo"),
        )
        distinct = batch.filter(pl.col("first"))
        found = self._lookup(
            distinct.get_column("hi").to_list(), distinct.get_column("lo").to_list()
        )
        # First position of every digest of the batch: from the runs if seen before, else its
        # first occurrence in this batch.
        earlier = {
            key: pos
            for key, pos in zip(
                zip(
                    distinct.get_column("hi").to_list(),
                    distinct.get_column("lo").to_list(),
                    strict=True,
                ),
                found,
                strict=True,
            )
            if pos is not None
        }
        result: list[tuple[int, int]] = []
        if earlier:
            for i, hi, lo in (
                batch.filter(
                    pl.struct("hi", "lo").is_in(
                        pl.DataFrame(
                            {"hi": [k[0] for k in earlier], "lo": [k[1] for k in earlier]},
                            schema={"hi": pl.UInt64, "lo": pl.UInt64},
                        )
                        .select(pl.struct("hi", "lo"))
                        .to_series()
                        .implode()
                    )
                )
                .select("i", "hi", "lo")
                .iter_rows()
            ):
                result.append((i, earlier[(hi, lo)]))
        for i, first_pos, hi, lo in (
            batch.filter(~pl.col("first")).select("i", "first_pos", "hi", "lo").iter_rows()
        ):
            if (hi, lo) not in earlier:
                result.append((i, first_pos))
        result.sort()
        fresh_mask = [pos is None for pos in found]
        if any(fresh_mask):
            run = distinct.filter(pl.Series(fresh_mask)).select("hi", "lo", "pos").sort("hi")
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
