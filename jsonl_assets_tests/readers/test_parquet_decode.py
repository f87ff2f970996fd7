"""Parquet rows decoded batch by batch: the same items whatever `batch_rows` (smaller or
larger than the row group), a row polars panicked on or holding invalid UTF-8 rejected
alone, and no Rust panic on stderr. Files are written with pyarrow in tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
from jsonl_assets.core.readers.parquet_values import with_json_values
from jsonl_assets.core.traces import Rejection

INT64_MAX = 2**63 - 1


def items(path: Path, batch_rows: int, scratch: Path) -> list[Any]:
    source = SourceFile(path, path.name)
    got = read_source(source, "parquet", {"batch_rows": batch_rows}, ReadLimits(1 << 20), scratch)
    return [
        (i.position, i.reason, i.detail) if isinstance(i, Rejection) else (i[0], i[2]) for i in got
    ]


@pytest.mark.parametrize("unit", ["us", "ms"])
@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_int64_max_timestamps_with_a_zone_reject_their_rows_alone_whatever_batch_rows(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], unit: str, zone: str
) -> None:
    # INT64_MAX (an "end of time" sentinel) in a timestamp with a time zone made polars panic
    # in a worker thread; its streaming engine ended the file quietly: 0 rows read, 0
    # quarantined, the whole file gone (pyarrow's batches, used for larger row groups, kept
    # it). Now each such row is unsupported_value, the others are written, for any batch_rows.
    values = [INT64_MAX if i in (3, 17) else i * 1000 for i in range(30)]
    path = tmp_path / "tz.parquet"
    pq.write_table(
        pa.table({"i": list(range(30)), "t": pa.array(values, pa.timestamp(unit, tz=zone))}),
        path,
        row_group_size=10,
    )
    runs = [items(path, batch_rows, tmp_path) for batch_rows in (4, 10, 100_000)]
    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0]) == 30
    assert [(r[0], r[1]) for r in runs[0] if len(r) == 3] == [
        (4, "unsupported_value"),
        (18, "unsupported_value"),
    ]
    assert "panicked" not in capfd.readouterr().err


def test_the_conversions_of_out_of_range_timestamps_give_every_row_to_the_streaming_engine(
    tmp_path: Path,
) -> None:
    # The root of the vanishing file: the conversion computed on the values stored behind a
    # null (out of range); polars' streaming engine swallowed the panic and gave no batch.
    path = tmp_path / "tz.parquet"
    values = [INT64_MAX if i % 3 == 0 else i for i in range(12)]
    pq.write_table(
        pa.table({"t": pa.array(values, pa.timestamp("us", tz="America/New_York"))}), path
    )
    frame, flag = with_json_values(pl.scan_parquet(path))
    batches = list(frame.collect_batches(chunk_size=100_000, maintain_order=True))
    got = pl.concat(batches)
    assert got.height == 12
    assert flag is not None
    assert got.get_column(flag).is_not_null().to_list() == [i % 3 == 0 for i in range(12)]


def _bad_utf8_file(tmp_path: Path, kind: str) -> Path:
    """400 rows in row groups of 100; row 151's string (at the depth `kind` says) is not
    UTF-8, as non-validating writers produce."""
    marked = "row-12X"
    if kind == "top":
        col = pa.array([marked if i == 150 else f"row-{i}" for i in range(400)])
    elif kind == "list":
        col = pa.array(
            [[f"r{i}", marked if i == 150 else "ok"] for i in range(400)], pa.list_(pa.string())
        )
    elif kind == "struct":
        col = pa.array([{"t": marked if i == 150 else f"r{i}"} for i in range(400)])
    else:
        col = pa.array(
            [[(marked if i == 150 else f"k{i}", i)] for i in range(400)],
            pa.map_(pa.string(), pa.int64()),
        )
    path = tmp_path / f"{kind}.parquet"
    pq.write_table(
        pa.table({"id": list(range(400)), "v": col}),
        path,
        row_group_size=100,
        compression="none",
        use_dictionary=False,
        write_statistics=False,
    )
    data = path.read_bytes()
    assert data.count(marked.encode()) == 1
    path.write_bytes(data.replace(marked.encode(), b"row-12\xff"))
    return path


@pytest.mark.parametrize(
    ("kind", "column"),
    [("top", "v"), ("list", "v[]"), ("struct", "v.t"), ("map_key", "v{key}")],
)
def test_invalid_utf8_in_a_string_rejects_its_row_alone_naming_the_column_whatever_batch_rows(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], kind: str, column: str
) -> None:
    # Before: batch_rows under the row group gave unsupported_value "PyObject pointer is
    # null" with a Rust panic on stderr; over it, corrupt_file for the row.
    path = _bad_utf8_file(tmp_path, kind)
    runs = [items(path, batch_rows, tmp_path) for batch_rows in (16, 100, 100_000)]
    assert runs[0] == runs[1] == runs[2]
    rejected = [r for r in runs[0] if len(r) == 3]
    assert [(r[0], r[1]) for r in rejected] == [(151, "invalid_utf8")]
    assert repr(column) in rejected[0][2]
    assert [r[0] for r in runs[0]] == list(range(1, 401))
    assert "panicked" not in capfd.readouterr().err


def test_pyarrow_reads_again_from_any_row_what_polars_reader_left(tmp_path: Path) -> None:
    # What polars' reader fails on or leaves out is read again by pyarrow from the first row
    # it did not deliver: any row, inside a row group or at its edge, with the same values.
    from jsonl_assets.core.readers.parquet_decode import arrow_batches

    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"i": list(range(25)), "s": [f"é{i}" for i in range(25)]}), path,
                   row_group_size=10)  # fmt: skip
    schema = pl.scan_parquet(path).collect_schema()
    whole = pl.read_parquet(path)
    assert arrow_batches(path, 10, schema) is None  # no row group over 10 rows: polars reads
    for start in (0, 3, 10, 17, 24, 25):
        decoded = arrow_batches(path, 4, schema, start=start)
        assert decoded is not None
        frames = list(decoded)
        assert all(isinstance(f, pl.DataFrame) and f.height <= 4 for f in frames)
        got = pl.concat(frames) if frames else whole.clear()
        assert got.equals(whole.slice(start)), start


_PAST_CHRONO = {  # values polars panicked on turning into Python objects
    "date": (pa.date32(), [2**31 - 1, -(2**31)]),
    "ms": (pa.timestamp("ms"), [INT64_MAX, -(2**63)]),
    "us": (pa.timestamp("us"), [INT64_MAX, -(2**63)]),
}


@pytest.mark.parametrize("kind", sorted(_PAST_CHRONO))
@pytest.mark.parametrize("depth", ["top", "list", "struct"])
def test_dates_past_polars_calendar_reject_their_rows_without_a_panic_at_any_depth(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], kind: str, depth: str
) -> None:
    # A date32 of INT32_MAX/INT32_MIN days or a naive timestamp of INT64_MAX/INT64_MIN (the
    # "end/start of time" sentinels) was quarantined only by letting polars panic turning it
    # into a Python object: Rust "panicked at ... out-of-range date" blocks on stderr (whole
    # backtraces with RUST_BACKTRACE=1), detail "PanicException: out-of-range date". Now it
    # is found from the stored numbers, with the reader's own reason, like a year past 9999.
    arrow_type, sentinels = _PAST_CHRONO[kind]
    past_9999 = {"date": 2_932_897, "ms": 253_402_300_800_000, "us": 253_402_300_800_000_000}
    stored = [0] * 30
    stored[3], stored[17], stored[25] = *sentinels, past_9999[kind]
    column = pa.array(stored, pa.int32() if kind == "date" else pa.int64()).cast(arrow_type)
    if depth == "list":
        offsets = pa.array(list(range(0, 61, 2)), pa.int32())
        column = pa.ListArray.from_arrays(offsets, column.take([i // 2 for i in range(60)]))
    elif depth == "struct":
        column = pa.StructArray.from_arrays([column], ["d"])
    path = tmp_path / "dates.parquet"
    pq.write_table(pa.table({"i": list(range(30)), "d": column}), path, row_group_size=10)
    runs = [items(path, batch_rows, tmp_path) for batch_rows in (4, 10, 100_000)]
    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0]) == 30
    rejected = [r for r in runs[0] if len(r) == 3]
    assert [(r[0], r[1]) for r in rejected] == [(n, "unsupported_value") for n in (4, 18, 26)]
    assert all("a date outside years 1-9999" in r[2] for r in rejected)
    assert "anic" not in "".join(r[2] for r in rejected)
    assert "panicked" not in capfd.readouterr().err


@pytest.mark.parametrize("depth", ["top", "list", "struct", "map"])
def test_date64_values_are_written_as_the_dates_date32_gives_whatever_batch_rows(
    tmp_path: Path, depth: str
) -> None:
    # An Arrow date64 is stored in Parquet as a DATE (whole days; pyarrow reads it as
    # date32), but polars restores the date64 from the file's Arrow schema as a
    # Datetime("ms"): written "2020-01-01T00:00:00" where the same date in a date32 was
    # "2020-01-01". A millisecond timestamp stays a date-time.
    days = [(i * 7919) % 3_600_000 - 719_162 for i in range(29)] + [1]
    ms = [d * 86_400_000 for d in days[:-1]] + [86_400_000 + 5]  # not a whole day: cut by pyarrow

    def column(values: list[int], kind: pa.DataType) -> pa.Array:
        array = pa.array(values, pa.int64() if kind == pa.date64() else pa.int32()).cast(kind)
        if depth == "list":
            return pa.ListArray.from_arrays(pa.array(range(31), pa.int32()), array)
        if depth == "struct":
            return pa.StructArray.from_arrays([array], ["d"])
        if depth == "map":
            keys = pa.array(["k"] * 30)
            return pa.MapArray.from_arrays(pa.array(range(31), pa.int32()), keys, array)
        return array

    d32 = column(days, pa.date32())
    d64 = column(ms, pa.date64())
    stamps = pa.array([0] * 30, pa.timestamp("ms"))
    path = tmp_path / "d64.parquet"
    pq.write_table(pa.table({"d32": d32, "d64": d64, "ts": stamps}), path, row_group_size=10)
    runs = [items(path, batch_rows, tmp_path) for batch_rows in (4, 10, 100_000)]
    assert runs[0] == runs[1] == runs[2]
    assert [row[0] for row in runs[0]] == list(range(1, 31))
    for _, data in runs[0]:
        row = orjson.loads(data)
        assert row["d64"] == row["d32"]
        assert row["ts"] == "1970-01-01T00:00:00"
    if depth != "map":  # pyarrow's dates, as JSON
        as_read = orjson.loads(orjson.dumps(pq.read_table(path)["d64"].to_pylist()))
        assert [orjson.loads(data)["d64"] for _, data in runs[0]] == as_read
