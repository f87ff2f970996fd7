"""Valid Parquet files with a type polars cannot read: `unsupported_type`, never damage (nor
a schema that repeats a name: `duplicate_key`); and
timestamps with a time zone, written the same on every machine.

Files polars cannot write are written here with pyarrow (`arrow_parquet`).
"""

from __future__ import annotations

import decimal
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jsonl_assets.core.readers.parquet_types import unsupported_column
from jsonl_assets.core.traces import Rejection
from jsonl_assets_tests.readers.test_parquet_values import arrow_parquet, read_file

ROOT = Path(__file__).resolve().parents[2]


def two_rows(tmp_path: Path, values: pa.Array) -> Path:
    return arrow_parquet(tmp_path, {"i": [1, 2], "v": values})


def test_a_fixed_offset_time_zone_is_read_as_that_offset(tmp_path: Path) -> None:
    """polars panicked on "+05:30" (not a name of its zone database): corrupt_file."""
    stamps = pa.array([0, 1], type=pa.int64()).cast(pa.timestamp("us", tz="+05:30"))
    items = read_file(tmp_path, two_rows(tmp_path, stamps))
    assert [i[2] for i in items] == [
        orjson.dumps({"i": 1, "v": "1970-01-01T05:30:00+05:30"}),
        orjson.dumps({"i": 2, "v": "1970-01-01T05:30:00.000001+05:30"}),
    ]


def test_a_type_polars_cannot_read_is_unsupported_type_naming_the_column(tmp_path: Path) -> None:
    """Each was corrupt_file ("damaged rows" / "unreadable") with a Rust panic's backtrace."""
    wide = pa.array([decimal.Decimal(5), decimal.Decimal(7)], type=pa.decimal256(40, 0))
    views = pa.array([[1], [2]], type=pa.list_view(pa.int64()))
    for values, says in (
        (wide, "column 'v' has type Decimal(precision=40, scale=0)"),
        (views, "column 'v' holds the Arrow type list_view"),
    ):
        items = read_file(tmp_path, two_rows(tmp_path, values))
        assert len(items) == 1 and isinstance(items[0], Rejection)
        assert (items[0].reason, items[0].position) == ("unsupported_type", 0)
        assert items[0].leaves_unread and says in items[0].detail


def test_a_schema_repeating_a_name_is_duplicate_key_for_the_file_never_damage(
    tmp_path: Path,
) -> None:
    """Columns named alike were one `corrupt_file` at row 1 ("unreadable after row 0:
    DuplicateError"), a struct repeating a field name `corrupt_file` for every row, and a
    list of such structs was written keeping one of the values: each is a valid file whose
    rows would be JSON objects repeating a key, refused whole at position 0 as the CSV
    reader refuses duplicate column names."""
    strings = pa.array(["p1", "p2"])
    pair = pa.StructArray.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["a", "a"])
    listed = pa.ListArray.from_arrays(pa.array([0, 1, 2], pa.int32()), pair)
    tables = {
        "duplicate column names ['prompt']": pa.Table.from_arrays(
            [strings, pa.array(["r1", "r2"]), strings], names=["prompt", "response", "prompt"]
        ),
        "column 's' holds a struct with duplicate field names ['a']": pa.Table.from_arrays(
            [strings, pa.StructArray.from_arrays([pair], names=["inner"])], names=["p", "s"]
        ),
        "column 'l' holds a struct with duplicate field names ['a']": pa.Table.from_arrays(
            [strings, listed], names=["p", "l"]
        ),
    }
    for says, table in tables.items():
        path = tmp_path / "dup.parquet"
        pq.write_table(table, path)
        assert pq.ParquetFile(path).read().num_rows == 2  # valid Parquet
        items = read_file(tmp_path, path)
        assert len(items) == 1 and isinstance(items[0], Rejection), says
        assert (items[0].reason, items[0].position) == ("duplicate_key", 0)
        assert items[0].leaves_unread and says in items[0].detail
        assert "repeat a key" in items[0].detail


def test_no_panic_backtrace_reaches_stderr(tmp_path: Path) -> None:
    """With RUST_BACKTRACE=1 a list_view file printed a panic and its backtrace (thousands
    of lines in a build); pyarrow's schema is checked before polars sees the file."""
    views = pa.array([[1], [2]], type=pa.list_view(pa.int64()))
    path = two_rows(tmp_path, views)
    code = (
        "from pathlib import Path\n"
        "from jsonl_assets.core.readers.parquet import iter_parquet_rows\n"
        f"print(list(iter_parquet_rows(Path({os.fspath(path)!r}), 8, 1 << 20)))"
    )
    env = {**os.environ, "RUST_BACKTRACE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert "unsupported_type" in done.stdout and done.stderr == ""


def read_in_subprocess(path: Path, zones: Path | None = None) -> list[Any]:
    """The written bytes (or reasons) of the rows of `path`, read by another Python; with
    `zones`, Python's tz database is only that folder (PYTHONTZPATH, and no tzdata package)."""
    env = {} if zones is None else {"PYTHONTZPATH": os.fspath(zones)}
    code = (
        "import sys\n"
        + ("sys.modules['tzdata'] = None\n" if zones is not None else "")
        + "from pathlib import Path\n"
        "from jsonl_assets.core.readers.parquet import iter_parquet_rows\n"
        "for item in iter_parquet_rows(Path(sys.argv[1]), 8, 1 << 20):\n"
        "    print(item[2].decode() if isinstance(item, tuple) else item.reason)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, os.fspath(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.fspath(ROOT), **env},
        check=True,
    )
    return done.stdout.splitlines()


def test_a_time_zone_is_written_the_same_whatever_the_machine_tz_database(
    tmp_path: Path,
) -> None:
    """Asia/Almaty is +05 since tzdata 2024a, +06 before. The reader wrote polars' wall time
    with the offset of Python's zoneinfo (the machine's database): 05:00+06:00 (another
    instant) on a machine with an older database, and a zone missing from it failed the
    partition (ZoneInfoNotFoundError). Now polars writes the text with its bundled rules."""
    zic = shutil.which("zic")
    if zic is None:
        pytest.skip("zic (to compile an older time zone) is not installed")
    source = tmp_path / "almaty.zi"
    source.write_text("Zone Asia/Almaty 6:00 - +06\n")
    old = tmp_path / "zoneinfo"
    subprocess.run([zic, "-d", os.fspath(old), os.fspath(source)], check=True)
    utc = pa.array([1_717_200_000_000_000, 1_719_835_200_000_000], type=pa.int64())
    stamps = utc.cast(pa.timestamp("us", tz="UTC"))
    path = arrow_parquet(
        tmp_path,
        {
            "almaty": stamps.cast(pa.timestamp("us", tz="Asia/Almaty")),
            "paris": stamps.cast(pa.timestamp("us", tz="Europe/Paris")),
        },
    )
    here = read_in_subprocess(path)
    older = read_in_subprocess(path, old)  # an older Asia/Almaty, and no Europe/Paris
    assert (
        here
        == older
        == [
            '{"almaty":"2024-06-01T05:00:00+05:00","paris":"2024-06-01T02:00:00+02:00"}',
            '{"almaty":"2024-07-01T17:00:00+05:00","paris":"2024-07-01T14:00:00+02:00"}',
        ]
    )


@pytest.mark.parametrize("unit", ["ms", "us", "ns"])
def test_zoned_timestamps_are_written_as_before_and_out_of_range_years_refused(
    tmp_path: Path, unit: str
) -> None:
    """The text polars writes is the text orjson wrote from Python's datetime: microseconds
    only when there are some, the offset in minutes; a year past 9999 in the zone is
    unsupported_value (polars would write `+10000`, Python could not hold it)."""
    per_second = {"ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    tiny = {"ms": 1, "us": 1000, "ns": 1000}[unit]  # a millisecond; for ns a microsecond
    last = 253_402_300_799 * per_second if unit != "ns" else None  # 9999-12-31T23:59:59Z
    values = [s * per_second for s in (0, 1_700_000_000, -2_208_988_800)] + [tiny, last, None]
    stamps = pa.array(values, type=pa.int64()).cast(pa.timestamp(unit, tz="UTC"))
    path = arrow_parquet(
        tmp_path,
        {
            "tokyo": stamps.cast(pa.timestamp(unit, tz="Asia/Tokyo")),
            "fixed": stamps.cast(pa.timestamp(unit, tz="-03:30")),
        },
    )
    items = read_file(tmp_path, path)
    written = [i[2].decode() if isinstance(i, tuple) else i.reason for i in items]
    fraction = ".001000" if unit != "ns" else ".000001"
    row = '{{"tokyo":"{}+09:00","fixed":"{}-03:30"}}'
    assert written == [
        row.format("1970-01-01T09:00:00", "1969-12-31T20:30:00"),
        row.format("2023-11-15T07:13:20", "2023-11-14T18:43:20"),
        row.format("1900-01-01T09:00:00", "1899-12-31T20:30:00"),
        row.format(f"1970-01-01T09:00:00{fraction}", f"1969-12-31T20:30:00{fraction}"),
        "unsupported_value" if unit != "ns" else '{"tokyo":null,"fixed":null}',
        '{"tokyo":null,"fixed":null}',
    ]


def test_unsupported_column_names_nested_types() -> None:
    schema = {
        "ok": pl.Datetime("us", "Europe/Paris"),
        "s": pl.Struct({"a": pl.List(pl.Decimal(39, 2))}),
    }
    why = unsupported_column(schema)
    assert why is not None and why.startswith("column 's' has type") and "field 'a', item" in why
    unknown = unsupported_column({"z": pl.Datetime("us", "Mars/Olympus")})
    assert unknown is not None and "nor a zone polars knows" in unknown
    assert unsupported_column({"z": pl.Datetime("us", "-03:00"), "d": pl.Decimal(38, 0)}) is None


def test_a_zone_offset_with_seconds_is_unsupported_value_never_rounded(tmp_path: Path) -> None:
    """Tokyo was +09:18:59 in 1880 (local mean time): `%:z` wrote +09:19, an instant one
    second off. That row is quarantined; the rows beside it are written."""
    per_second = 10**6
    values = [-2_840_140_800 * per_second, 1_700_000_000 * per_second]  # 1880, 2023
    stamps = pa.array(values, type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    path = arrow_parquet(tmp_path, {"t": stamps.cast(pa.timestamp("us", tz="Asia/Tokyo"))})
    items = read_file(tmp_path, path)
    assert isinstance(items[0], Rejection) and items[0].reason == "unsupported_value"
    assert "offset then had seconds" in items[0].detail
    assert items[1][2] == b'{"t":"2023-11-15T07:13:20+09:00"}'
