"""Parquet values the reader must write as they are or quarantine: maps, durations, dates
Python cannot hold, and a column named like the reader's own flag column.

Files polars cannot write (maps that repeat a key, durations in seconds) are written here
with pyarrow (`arrow_parquet`).
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
from jsonl_assets.core.readers.parquet_values import FLAG
from jsonl_assets.core.traces import Rejection
from jsonl_assets_tests.readers.test_parquet import parquet_bytes, read


def arrow_parquet(tmp_path: Path, columns: dict[str, Any], row_group_size: int = 1000) -> Path:
    """A Parquet file of `columns` written by pyarrow (it writes what polars cannot)."""
    path = tmp_path / "arrow.parquet"
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def read_file(tmp_path: Path, path: Path) -> list[Any]:
    source = SourceFile(path, path.name)
    return list(read_source(source, "parquet", {}, ReadLimits(1 << 20), tmp_path / "scratch"))


def outcome(items: list[Any]) -> dict[int, Any]:
    """Row number -> the row as read, or the reason it was quarantined."""
    return {
        (i.position if isinstance(i, Rejection) else i[0]): (
            i.reason if isinstance(i, Rejection) else i[1]
        )
        for i in items
    }


def test_map_values_get_the_checks_and_conversions_of_every_other_value(tmp_path: Path) -> None:
    """polars reads a map as a dict: its NaN/inf were written as null, its nanoseconds cut,
    its binary made orjson fail; now they are checked like a struct's fields."""

    def column(values: list[Any], value: Any, stored: Any = None) -> pl.Series:
        built = pl.Series(values, dtype=pl.Map(pl.String, stored or value))
        return built.cast(pl.Map(pl.String, value))

    df = pl.DataFrame(
        {
            "i": list(range(1, 7)),
            "f": column([{"x": 1.5}, {"x": float("nan")}, {"x": float("inf")}] + [None] * 3,
                        pl.Float64),
            "ns": column([None] * 3 + [{"t": 1_700_000_000_123_456_789}, None, None],
                         pl.Datetime("ns"), pl.Int64),
            "b": column([{"k": b"\x00\x01"}] + [None] * 4 + [{"z": b"\xff"}], pl.Binary),
            "ms": column([{"d": 1}] + [None] * 3 + [{"d": 2**61}, None], pl.Duration("ms"),
                         pl.Int64),
        }
    )  # fmt: skip
    got = outcome(read(tmp_path, parquet_bytes(tmp_path, df)))
    assert got[1] == {"i": 1, "f": {"x": 1.5}, "ns": None, "b": {"k": "AAE="}, "ms": {"d": 1000}}
    assert got[2] == got[3] == got[4] == got[5] == "unsupported_value"
    assert got[6]["b"] == {"z": base64.b64encode(b"\xff").decode()}


def test_a_map_that_repeats_a_key_is_duplicate_key_never_collapsed(tmp_path: Path) -> None:
    """`m` repeats "k" in row 1, `nested` (a list of maps) repeats "x" in row 5 (row groups
    of 3). polars keeps the last value and says nothing; pyarrow reads the repeats, so
    exactly those rows are duplicate_key, naming the column and the key, and every other
    row is written, those with maps in the same row groups included."""
    maps = pa.map_(pa.string(), pa.int64())
    path = arrow_parquet(
        tmp_path,
        {
            "i": list(range(1, 7)),
            "m": pa.array(
                [[("k", 1), ("k", 2)], [("a", 3)], None, [("b", 4)], None, [("c", 5)]],
                type=maps,
            ),
            "nested": pa.array(
                [None, [[("y", 0)]], None, None, [[("x", 1), ("x", 2)], [("y", 3)]], None],
                type=pa.list_(maps),
            ),
        },
        row_group_size=3,
    )
    items = read_file(tmp_path, path)
    got = outcome(items)
    assert [got[n] for n in (1, 5)] == ["duplicate_key"] * 2
    assert got[2] == {"i": 2, "m": {"a": 3}, "nested": [{"y": 0}]}
    assert got[3] == {"i": 3, "m": None, "nested": None}
    assert got[4] == {"i": 4, "m": {"b": 4}, "nested": None}
    assert got[6] == {"i": 6, "m": {"c": 5}, "nested": None}
    details = {i.position: i.detail for i in items if isinstance(i, Rejection)}
    assert "column 'm' holds a map that repeats the key 'k'" in details[1]
    assert "column 'nested' holds a map that repeats the key 'x'" in details[5]


def test_repeated_keys_are_found_in_maps_of_structs_and_of_map_values(tmp_path: Path) -> None:
    """A map inside a struct, a map as another map's value, binary keys."""
    inner = pa.map_(pa.binary(), pa.string())
    path = arrow_parquet(
        tmp_path,
        {
            "s": pa.array(
                [{"m": [(b"p", "a"), (b"p", "b")]}, {"m": [(b"p", "a"), (b"q", "b")]}, None],
                type=pa.struct([("m", inner)]),
            ),
            "mm": pa.array(
                [None, [("o", [(b"r", "c")])], [("o", [(b"t", "d"), (b"t", "e")])]],
                type=pa.map_(pa.string(), inner),
            ),
        },
    )
    items = read_file(tmp_path, path)
    got = outcome(items)
    assert got[1] == got[3] == "duplicate_key"
    assert got[2] == {"s": {"m": {"cA==": "a", "cQ==": "b"}}, "mm": {"o": {"cg==": "c"}}}
    details = {i.position: i.detail for i in items if isinstance(i, Rejection)}
    assert "column 's' holds a map that repeats the key b'p'" in details[1]
    assert "column 'mm' holds a map that repeats the key b't'" in details[3]


def test_durations_that_do_not_fit_in_microseconds_are_unsupported_value(tmp_path: Path) -> None:
    """A millisecond duration past 2**63 µs was written wrapped (2**63 - 1 ms as -1000)."""
    big = 2**63 - 1
    df = pl.DataFrame(
        {"d": pl.Series([1, big // 1000, big // 1000 + 1, big, -big]).cast(pl.Duration("ms"))}
    )
    got = outcome(read(tmp_path, parquet_bytes(tmp_path, df)))
    assert got[1] == {"d": 1000} and got[2] == {"d": big // 1000 * 1000}
    assert [got[n] for n in (3, 4, 5)] == ["unsupported_value"] * 3


def test_durations_in_seconds_polars_would_wrap_are_unsupported_value_row_by_row(
    tmp_path: Path,
) -> None:
    """Row groups of 2: [1, 2], [2**62, 5], [2**63 - 1, null], [limit, -limit - 1]. polars
    turns seconds into milliseconds without an overflow check (2**62 s read as 0); where a row
    group's statistics pass what microseconds hold, its values are read with pyarrow and only
    the rows that do not fit are quarantined: 5 s beside 2**62 s is written."""
    limit = (2**63 - 1) // 10**6
    seconds = pa.array([1, 2, 2**62, 5, 2**63 - 1, None, limit, -limit - 1], type=pa.int64())
    path = arrow_parquet(
        tmp_path,
        {"i": list(range(1, 9)), "d": seconds.cast(pa.duration("s"))},
        row_group_size=2,
    )
    items = read_file(tmp_path, path)
    got = outcome(items)
    assert got[1] == {"i": 1, "d": 1_000_000} and got[2] == {"i": 2, "d": 2_000_000}
    assert got[4] == {"i": 4, "d": 5_000_000} and got[6] == {"i": 6, "d": None}
    assert got[7] == {"i": 7, "d": limit * 10**6}
    assert [got[n] for n in (3, 5, 8)] == ["unsupported_value"] * 3
    detail = next(i.detail for i in items if isinstance(i, Rejection) and i.position == 3)
    assert f"column 'd' holds the duration {2**62} s" in detail


def test_durations_in_seconds_without_statistics_are_checked_row_by_row(tmp_path: Path) -> None:
    """No statistics: every row group is read with pyarrow, nested durations included."""
    path = tmp_path / "nostats.parquet"
    values = pa.array([[1], [2**62, 3], None], type=pa.list_(pa.duration("s")))
    pq.write_table(pa.table({"d": values}), path, write_statistics=False)
    got = outcome(read_file(tmp_path, path))
    assert got == {1: {"d": [1_000_000]}, 2: "unsupported_value", 3: {"d": None}}


@pytest.mark.parametrize(
    ("column", "bad"),
    [
        (pl.Series([0, 1, 2932897 * 2, 3]).cast(pl.Date), dt.date(1970, 1, 1)),
        (pl.Series([0, 1, 253402300800000, 3]).cast(pl.Datetime("ms")), None),
        (pl.Series([0, 1, -62135596800001, 3]).cast(pl.Datetime("ms")), None),
        (pl.Series([0, 1, 253402300799000000, 3]).cast(pl.Datetime("us", "Asia/Tokyo")), None),
        (
            pl.Series([0, 1, -62135596800000000, 3]).cast(pl.Datetime("us", "America/New_York")),
            None,
        ),
        (pl.Series([0, 1, 2**63 - 1, 3]).cast(pl.Datetime("us")), None),  # polars panicked
    ],
    ids=[
        "date_year_18029",
        "year_10000",
        "year_0",
        "tokyo_9999_12_31",
        "new_york_0001_01_01",
        "past_polars_own_range",
    ],
)
def test_a_date_python_cannot_hold_is_unsupported_value_and_the_rest_is_written(
    tmp_path: Path, column: pl.Series, bad: Any
) -> None:
    """iter_rows raised ValueError/OverflowError for the whole batch, failing the partition;
    now the batch is redone row by row from the failing row, so only that row is quarantined."""
    df = pl.DataFrame({"i": [1, 2, 3, 4], "v": column})
    items = read(tmp_path, parquet_bytes(tmp_path, df), batch_rows=3)
    got = outcome(items)
    assert got[3] == "unsupported_value" and sorted(got) == [1, 2, 3, 4]
    assert [got[n]["i"] for n in (1, 2, 4)] == [1, 2, 4]
    detail = next(i.detail for i in items if isinstance(i, Rejection))
    assert detail.startswith("row 3: column 'v': a value Python cannot hold")


@pytest.mark.parametrize("name", [FLAG, FLAG + "#1", "\x00jsonl-assets:cut"])
def test_a_column_named_like_the_flag_column_is_an_ordinary_column(
    tmp_path: Path, name: str
) -> None:
    """The reader's flag column took a column of that name for its own: dropped from every
    row, and a truthy value quarantined the row as 'holds nanoseconds'."""
    df = pl.DataFrame(
        {
            name: ["", "note", "x"],
            FLAG + "#2": [None, "y", None],
            "t": pl.Series([0, 0, 1]).cast(pl.Datetime("ns")),
        }
    )
    got = outcome(read(tmp_path, parquet_bytes(tmp_path, df)))
    epoch = dt.datetime(1970, 1, 1)
    assert got[1] == {name: "", FLAG + "#2": None, "t": epoch}
    assert got[2] == {name: "note", FLAG + "#2": "y", "t": epoch}
    assert got[3] == "unsupported_value"


_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_times_outside_a_day_are_unsupported_value_row_by_row_at_any_depth(
    tmp_path: Path, unit: str
) -> None:
    """Arrow's time32/time64 hold any integer; polars read a time outside [00:00, 24:00) as
    null, so it was written null. Row groups of 2: [00:00, 23:59:59], [24:00, 00:00:01],
    [-1, 25:00], [null, 00:00:05 with 25:00 in a list, a struct and a map value]: only the rows holding such a time are
    quarantined, their neighbours in the same row group written."""
    day = _DAY[unit]
    typ = pa.time32(unit) if unit in ("s", "ms") else pa.time64(unit)
    ints = pa.int32() if unit in ("s", "ms") else pa.int64()
    second = day // 86_400
    late = 90_000 * second
    raw = [0, day - second, day, second, -1, late, None, 5 * second]
    nested = [None] * 7 + [late]
    table = pa.table(
        {
            "i": list(range(1, 9)),
            "t": pa.array(raw, ints).cast(typ),
            "l": pa.array(
                [None if v is None else [second, v] for v in nested], pa.list_(ints)
            ).cast(pa.list_(typ)),
            "s": pa.array([{"x": v} for v in nested], pa.struct([("x", ints)])).cast(
                pa.struct([("x", typ)])
            ),
            "m": pa.array(
                [None if v is None else [("k", v)] for v in nested], pa.map_(pa.string(), ints)
            ).cast(pa.map_(pa.string(), typ)),
        }
    )
    path = tmp_path / "times.parquet"
    pq.write_table(table, path, row_group_size=2)
    items = read_file(tmp_path, path)
    got = outcome(items)
    assert sorted(got) == list(range(1, 9))
    assert [n for n, v in got.items() if v == "unsupported_value"] == [3, 5, 6, 8]
    assert got[1]["t"] == dt.time(0, 0) and got[4]["t"] == dt.time(0, 0, 1) and got[7]["t"] is None
    assert got[2]["t"] == dt.time(23, 59, 59) and got[7]["l"] is None
    details = {i.position: i.detail for i in items if isinstance(i, Rejection)}
    scale, stored = (1000, "ms") if unit == "s" else (1, unit)  # Parquet has no TIME(SECONDS)
    assert f"column 't' holds the time {day * scale} {stored} after midnight" in details[3]
    assert f"column 'l' holds the time {late * scale} {stored}" in details[8]


def test_times_without_statistics_are_checked_row_by_row(tmp_path: Path) -> None:
    """No statistics: every row group is read with pyarrow, nested times included."""
    path = tmp_path / "nostats.parquet"
    values = pa.array([[1], [90_000, 3], None], pa.list_(pa.int32())).cast(pa.list_(pa.time32("s")))
    pq.write_table(pa.table({"t": values}), path, write_statistics=False)
    got = outcome(read_file(tmp_path, path))
    assert got == {1: {"t": [dt.time(0, 0, 1)]}, 2: "unsupported_value", 3: {"t": None}}
