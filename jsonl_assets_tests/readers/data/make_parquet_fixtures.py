"""Writes the Parquet fixtures of readers/test_parquet_values.py and test_parquet_types.py.

Each holds what polars cannot write (it is the reader under test): run once, with a Python
that has pyarrow (not the project's venv, which must not get it), from this folder:

    /tmp/audit3/values/pav/bin/python make_parquet_fixtures.py

- map_repeated_key.parquet: rows i=1..6 in row groups of 3; `m` map<string, int64> repeats
  the key "k" in row 1; `nested` list<map<string, int64>> repeats "x" in row 5.
- durations_in_seconds.parquet: `d` duration[s] in row groups of 2: [1, 2] (fit in
  microseconds), [2**62, 5] (2**62 s wraps in polars to 0 ms), [2**63 - 1, null] (to -1 s).
- tz_offset.parquet: `v` timestamp[us, tz="+05:30"], 0 and 1 µs after the epoch.
- decimal256.parquet: `v` decimal256(40, 0), 5 and 7.
- list_view.parquet: `v` list_view<int64>, [1] and [2].
"""

from __future__ import annotations

import decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent


def main() -> None:
    maps = pa.map_(pa.string(), pa.int64())
    pq.write_table(
        pa.table(
            {
                "i": list(range(1, 7)),
                "m": pa.array(
                    [[("k", 1), ("k", 2)], [("a", 3)], None, [("b", 4)], None, [("c", 5)]],
                    type=maps,
                ),
                "nested": pa.array(
                    [None, None, None, None, [[("x", 1), ("x", 2)], [("y", 3)]], None],
                    type=pa.list_(maps),
                ),
            }
        ),
        HERE / "map_repeated_key.parquet",
        row_group_size=3,
    )
    seconds = pa.array([1, 2, 2**62, 5, 2**63 - 1, None], type=pa.int64())
    pq.write_table(
        pa.table({"i": list(range(1, 7)), "d": seconds.cast(pa.duration("s"))}),
        HERE / "durations_in_seconds.parquet",
        row_group_size=2,
    )
    two = {"i": [1, 2]}
    offsets = pa.array([0, 1], type=pa.int64()).cast(pa.timestamp("us", tz="+05:30"))
    pq.write_table(pa.table({**two, "v": offsets}), HERE / "tz_offset.parquet")
    wide = pa.array([decimal.Decimal(5), decimal.Decimal(7)], type=pa.decimal256(40, 0))
    pq.write_table(pa.table({**two, "v": wide}), HERE / "decimal256.parquet")
    views = pa.array([[1], [2]], type=pa.list_view(pa.int64()))
    pq.write_table(pa.table({**two, "v": views}), HERE / "list_view.parquet")


if __name__ == "__main__":
    main()
