"""Valid Parquet files with a type polars cannot read: `unsupported_type`, never damage.

Fixtures (data/, written by data/make_parquet_fixtures.py with pyarrow): tz_offset.parquet
(timestamp with time zone "+05:30"), decimal256.parquet (decimal256(40, 0)),
list_view.parquet (list_view<int64>).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import orjson
import polars as pl

from jsonl_assets.core.readers.parquet_types import unsupported_column
from jsonl_assets.core.traces import Rejection
from jsonl_assets_tests.readers.test_parquet_values import DATA, read_fixture


def test_a_fixed_offset_time_zone_is_read_as_that_offset(tmp_path: Path) -> None:
    """polars panicked on "+05:30" (not a name of its zone database): corrupt_file."""
    items = read_fixture(tmp_path, "tz_offset.parquet")
    offset = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert [i[1]["v"] for i in items] == [
        dt.datetime(1970, 1, 1, 5, 30, tzinfo=offset),
        dt.datetime(1970, 1, 1, 5, 30, 0, 1, tzinfo=offset),
    ]
    assert items[0][2] == orjson.dumps({"i": 1, "v": "1970-01-01T05:30:00+05:30"})


def test_a_type_polars_cannot_read_is_unsupported_type_naming_the_column(tmp_path: Path) -> None:
    """Each was corrupt_file ("damaged rows" / "unreadable") with a Rust panic's backtrace."""
    for name, says in (
        ("decimal256.parquet", "column 'v' has type Decimal(precision=40, scale=0)"),
        ("list_view.parquet", "column 'v' holds the Arrow type list_view"),
    ):
        items = read_fixture(tmp_path, name)
        assert len(items) == 1 and isinstance(items[0], Rejection)
        assert (items[0].reason, items[0].position) == ("unsupported_type", 0)
        assert items[0].leaves_unread and says in items[0].detail


def test_no_panic_backtrace_reaches_stderr() -> None:
    """With RUST_BACKTRACE=1 a list_view file printed a panic and its backtrace (thousands
    of lines in a build); the Arrow schema in the footer is checked before polars sees it."""
    code = (
        "from pathlib import Path; import tempfile\n"
        "from jsonl_assets.core.readers.parquet import iter_parquet_rows\n"
        f"print(list(iter_parquet_rows(Path({os.fspath(DATA / 'list_view.parquet')!r}), 8, 1 << 20)))"
    )
    env = {**os.environ, "RUST_BACKTRACE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert "unsupported_type" in done.stdout and done.stderr == ""


def test_unsupported_column_names_nested_types() -> None:
    schema = {
        "ok": pl.Datetime("us", "Europe/Paris"),
        "s": pl.Struct({"a": pl.List(pl.Decimal(39, 2))}),
    }
    why = unsupported_column(schema)
    assert why is not None and why.startswith("column 's' has type") and "field 'a', item" in why
    assert unsupported_column({"z": pl.Datetime("us", "Mars/Olympus")}) is not None
    assert unsupported_column({"z": pl.Datetime("us", "-03:00"), "d": pl.Decimal(38, 0)}) is None
