from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
import zstandard

from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
from jsonl_assets.core.traces import Rejection

LYING_NAME = {"none": "data.parquet.gz", "gzip": "data.parquet.zst", "zstd": "data.parquet"}
N = 25_000


def compress(data: bytes, codec: str) -> bytes:
    if codec == "gzip":
        return gzip.compress(data, mtime=0, compresslevel=1)
    if codec == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def frame(n: int = N) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": list(range(n)),
            "text": [f"row {i} é" for i in range(n)],
            "tags": [[i, i + 1] for i in range(n)],
            "meta": [{"k": f"v{i}", "n": i % 7} for i in range(n)],
        }
    )


def parquet_bytes(tmp_path: Path, df: pl.DataFrame, row_group_size: int = 1000) -> bytes:
    path = tmp_path / "src.parquet"
    df.write_parquet(path, row_group_size=row_group_size)
    data = path.read_bytes()
    path.unlink()
    return data


def read(
    tmp_path: Path, data: bytes, codec: str = "none", limit: int = 16 << 20, **options: Any
) -> list[Any]:
    path = tmp_path / LYING_NAME[codec]
    path.write_bytes(compress(data, codec))
    source = SourceFile(path, path.name)
    items = list(read_source(source, "parquet", options, ReadLimits(limit), tmp_path / "scratch"))
    assert source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    return items


@pytest.mark.parametrize("codec", ["none", "gzip", "zstd"])
def test_multi_row_group_file_read_in_order(tmp_path: Path, codec: str) -> None:
    items = read(tmp_path, parquet_bytes(tmp_path, frame()), codec, batch_rows=777)
    assert len(items) == N
    assert [i[0] for i in items] == list(range(1, N + 1))
    assert [i[1]["id"] for i in items] == list(range(N))
    row = {"id": 1234, "text": "row 1234 é", "tags": [1234, 1235], "meta": {"k": "v1234", "n": 2}}
    assert items[1234] == (1235, row, orjson.dumps(row))
    # a decompressed scratch copy, if one was made, is removed
    assert list((tmp_path / "scratch").glob("*")) == []


@pytest.mark.parametrize("damages", [1, 2])
def test_a_damaged_row_group_is_quarantined_row_by_row_and_the_rows_after_it_are_kept(
    tmp_path: Path, damages: int
) -> None:
    data = parquet_bytes(tmp_path, frame(), row_group_size=2000)
    bad_groups: list[int] = []
    for k in range(3, 20):  # zeroed bytes fail a read only where they hit a header or codec
        at = len(data) * k // 20
        damaged = data[:at] + bytes(300) + data[at + 300 :]
        failing = [g for g in range(N // 2000 + 1) if not _group_readable(tmp_path, damaged, g)]
        new = [g for g in failing if g not in bad_groups]
        if len(new) == 1 and not {new[0] - 1, new[0] + 1} & {*bad_groups}:
            data, bad_groups = damaged, sorted([*bad_groups, new[0]])
        if len(bad_groups) == damages:
            break
    assert len(bad_groups) == damages and bad_groups[-1] < N // 2000
    items = read(tmp_path, data)
    # Every row is there once, in order: written, or quarantined as corrupt_file.
    assert [i[0] if type(i) is tuple else i.position for i in items] == list(range(1, N + 1))
    bad = [i.position - 1 for i in items if isinstance(i, Rejection)]
    assert {i.reason for i in items if isinstance(i, Rejection)} == {"corrupt_file"}
    assert bad == [r for g in bad_groups for r in range(g * 2000, min(N, g * 2000 + 2000))]
    good = [i for i in items if type(i) is tuple]
    assert [g[1]["id"] for g in good] == [r for r in range(N) if r not in set(bad)]
    first = next(i for i in items if isinstance(i, Rejection))
    start = bad_groups[0] * 2000 + 1
    assert first.detail.startswith(f"Parquet row {start} is in the damaged rows {start}-")


@pytest.mark.parametrize("data", [b"PAR1 not really parquet", b"hello world, definitely not"])
def test_unreadable_file_is_corrupt(tmp_path: Path, data: bytes) -> None:
    items = read(tmp_path, data)
    assert [(i.position, i.reason) for i in items] == [(1, "corrupt_file")]
    assert "Parquet file unreadable" in items[0].detail


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_truncated_compressed_parquet_is_corrupt(tmp_path: Path, codec: str) -> None:
    stored = compress(parquet_bytes(tmp_path, frame()), codec)
    path = tmp_path / "cut.parquet"
    path.write_bytes(stored[: len(stored) // 2])
    source = SourceFile(path, path.name)
    items = list(read_source(source, "parquet", {}, ReadLimits(), tmp_path / "scratch"))
    assert [(i.position, i.reason) for i in items] == [(1, "corrupt_file")]
    assert items[0].detail.startswith(f"{codec} stream damaged at compressed offset")
    assert list((tmp_path / "scratch").iterdir()) == []


def test_values_are_json_ready(tmp_path: Path) -> None:
    df = pl.DataFrame(
        {
            "price": pl.Series([Decimal("1.25")], dtype=pl.Decimal(10, 2)),
            "blob": pl.Series([b"\x00\xffab"], dtype=pl.Binary),
            "wait": pl.Series([dt.timedelta(seconds=2)], dtype=pl.Duration("us")),
            "when": [dt.datetime(2024, 5, 1, 12, 30)],
            "none": [None],
        }
    )
    items = read(tmp_path, parquet_bytes(tmp_path, df))
    row = {
        "price": 1.25,
        "blob": "AP9hYg==",
        "wait": 2_000_000,
        "when": dt.datetime(2024, 5, 1, 12, 30),
        "none": None,
    }
    assert items == [(1, row, orjson.dumps(row))]
    assert orjson.loads(items[0][2])["when"] == "2024-05-01T12:30:00"


def test_binary_and_durations_inside_structs_lists_and_arrays_are_json_ready(
    tmp_path: Path,
) -> None:
    df = pl.DataFrame(
        {
            "s": [{"blob": b"\x00\xff", "wait": dt.timedelta(milliseconds=3), "n": 1}],
            "l": [[b"ab", None]],
            "a": [[dt.timedelta(seconds=1), dt.timedelta(microseconds=7)]],
            "ls": [[{"w": dt.timedelta(seconds=2)}]],
        },
        schema={
            "s": pl.Struct({"blob": pl.Binary, "wait": pl.Duration("ms"), "n": pl.Int64}),
            "l": pl.List(pl.Binary),
            "a": pl.Array(pl.Duration("us"), 2),
            "ls": pl.List(pl.Struct({"w": pl.Duration("ns")})),
        },
    )
    items = read(tmp_path, parquet_bytes(tmp_path, df))
    row = {
        "s": {"blob": "AP8=", "wait": 3000, "n": 1},
        "l": ["YWI=", None],
        "a": [1_000_000, 7],
        "ls": [{"w": 2_000_000}],
    }
    assert items == [(1, row, orjson.dumps(row))]


def test_decimals_are_exact_floats_or_unsupported_value(tmp_path: Path) -> None:
    df = pl.DataFrame(
        {"s": [{"d": Decimal("1.5")}, {"d": Decimal("12345678901234567890.1")}]},
        schema={"s": pl.Struct({"d": pl.Decimal(38, 1)})},
    )
    items = read(tmp_path, parquet_bytes(tmp_path, df))
    assert items[0] == (1, {"s": {"d": 1.5}}, b'{"s":{"d":1.5}}')
    assert (items[1].position, items[1].reason) == (2, "unsupported_value")
    assert (
        "s.d: the number 12345678901234567890.1 would be written as 1.2345678901234567e+19 "
        in items[1].detail
    )


def test_nan_and_infinity_are_unsupported_value(tmp_path: Path) -> None:
    df = pl.DataFrame({"f": [1.5, float("nan"), float("inf"), None]})
    items = read(tmp_path, parquet_bytes(tmp_path, df))
    assert items[0] == (1, {"f": 1.5}, b'{"f":1.5}') and items[3] == (4, {"f": None}, b'{"f":null}')
    assert [(i.position, i.reason) for i in items[1:3]] == [(2, "unsupported_value")] * 1 + [
        (3, "unsupported_value")
    ]
    # quarantined with a rendering of the row as read (it has no bytes of its own)
    assert [i.raw for i in items[1:3]] == [b'{"f":NaN}', b'{"f":Infinity}']


def test_row_over_the_limit_is_too_large(tmp_path: Path) -> None:
    df = pl.DataFrame({"t": ["a", "b" * 5000, "c"]})
    items = read(tmp_path, parquet_bytes(tmp_path, df), limit=1000)
    assert items[0] == (1, {"t": "a"}, orjson.dumps({"t": "a"})) and items[2] == (
        3,
        {"t": "c"},
        orjson.dumps({"t": "c"}),
    )
    assert items[1].reason == "too_large" and items[1].raw_size == 5000 + len('{"t":""}')


def _group_readable(tmp_path: Path, data: bytes, group: int) -> bool:
    path = tmp_path / "probe.parquet"
    path.write_bytes(data)
    try:
        pl.scan_parquet(path).slice(group * 2000, 2000).collect()
    except pl.exceptions.PolarsError:
        return False
    return True


def test_a_time_with_nanoseconds_is_unsupported_value_never_cut_to_microseconds(
    tmp_path: Path,
) -> None:
    """Python's datetime and time hold microseconds, and a Duration is written in integer
    microseconds: a row whose ns value has digits below that is not written, at any depth."""
    ns = [0, 1_700_000_000_123_456_000, 1_700_000_000_123_456_789, 1, 5, 7, 9, -1]
    df = pl.DataFrame(
        {
            "i": list(range(len(ns))),
            "ts": pl.Series([ns[0], ns[1], ns[2], 0, 0, 0, 0, 0]).cast(pl.Datetime("ns")),
            "tm": pl.Series([0, 1000, 0, 999, 0, 0, 0, 0]).cast(pl.Time),
            "dur": pl.Series([0, 1000, 0, 0, 5, 0, 0, ns[7]]).cast(pl.Duration("ns")),
            "nested": [
                {"at": 0},
                {"at": 2000},
                {"at": 0},
                {"at": 0},
                {"at": 0},
                {"at": 7},
                {"at": 0},
                {"at": 0},
            ],
            "many": [[0], [0, 3000], [], [], [], [], [0, 9], None],
        }
    ).with_columns(
        pl.col("nested").struct.with_fields(pl.field("at").cast(pl.Datetime("ns"))),
        pl.col("many").cast(pl.List(pl.Duration("ns"))),
    )
    items = read(tmp_path, parquet_bytes(tmp_path, df))
    cut = [(i.position, i.reason) for i in items if isinstance(i, Rejection)]
    assert cut == [(3, "unsupported_value"), (4, "unsupported_value"), (5, "unsupported_value"),
                   (6, "unsupported_value"), (7, "unsupported_value"), (8, "unsupported_value")]  # fmt: skip
    assert "nanoseconds" in items[2].detail
    kept = {i[0]: i[1] for i in items if not isinstance(i, Rejection)}
    assert kept[2]["ts"] == dt.datetime(2023, 11, 14, 22, 13, 20, 123456)
    assert kept[2]["tm"] == dt.time(0, 0, 0, 1) and kept[2]["dur"] == 1
    assert kept[2]["many"] == [0, 3] and kept[2]["nested"] == {
        "at": dt.datetime(1970, 1, 1, 0, 0, 0, 2)
    }
    assert sorted(kept) == [1, 2]


@pytest.mark.parametrize("name", ["data[1].parquet", "q?x.parquet", "a*b.parquet", "k=v.parquet"])
def test_a_file_name_with_glob_characters_is_read_as_that_one_file(
    tmp_path: Path, name: str
) -> None:
    """polars would expand the name as a pattern: `data[1].parquet` read `data1.parquet`'s rows,
    `q?x.parquet` matched nothing (one corrupt_file, every row lost)."""
    mine = tmp_path / "src" / name
    mine.parent.mkdir()
    pl.DataFrame({"i": [1, 2, 3]}).write_parquet(mine)
    for decoy in ("data1.parquet", "qzx.parquet", "aXb.parquet"):
        pl.DataFrame({"i": [9]}).write_parquet(mine.parent / decoy)
    source = SourceFile(mine, name)
    items = list(read_source(source, "parquet", {}, ReadLimits(16 << 20), tmp_path / "scratch"))
    assert [(i[0], i[1]) for i in items] == [(1, {"i": 1}), (2, {"i": 2}), (3, {"i": 3})]


# VmHWM, not ru_maxrss: the latter keeps the forking test process's peak across exec.
_PEAK_SCRIPT = """
import sys
from pathlib import Path
from jsonl_assets.core.readers.parquet import iter_parquet_rows
rows = sum(1 for _ in iter_parquet_rows(Path(sys.argv[1]), 8192, 16 << 20))
print(rows, open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
"""


def _peak_kib(path: Path) -> tuple[int, int]:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(path)],
        capture_output=True,
        check=True,
        env=env,
        text=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


def test_one_huge_row_group_is_read_in_bounded_batches(tmp_path: Path) -> None:
    # 200,000 rows of 1 KB: one 200 MB row group, and the same rows in row groups of 1,000.
    # Decoded batch by batch, the one group costs what the small ones cost, not its size.
    import pyarrow as pa
    import pyarrow.parquet as pq

    pad = "lorem ipsum " * 85
    table = pa.table({"text": [f"{i} {pad}" for i in range(200_000)]})
    one, many = tmp_path / "one.parquet", tmp_path / "many.parquet"
    pq.write_table(table, one, row_group_size=len(table))
    pq.write_table(table, many, row_group_size=1_000)
    del table
    (rows_one, peak_one), (rows_many, peak_many) = _peak_kib(one), _peak_kib(many)
    assert rows_one == rows_many == 200_000
    # KiB. Measured here: about 190 and 185 MB; before, 351 MB against 200 MB.
    assert peak_one < peak_many + (40 << 10), (peak_one, peak_many)


def test_rows_decoded_by_batches_are_the_rows_polars_reads(tmp_path: Path) -> None:
    # Row groups of 7 rows read 3 at a time (pyarrow, batch by batch) against row groups of
    # 3 (polars, a row group at a time): the same items, values, rejections and positions.
    import pyarrow as pa
    import pyarrow.parquet as pq

    from jsonl_assets.core.readers.parquet import iter_parquet_rows
    from jsonl_assets.core.readers.parquet_decode import arrow_batches

    n = 20
    table = pa.table(
        {
            "i": pa.array([i if i % 5 else None for i in range(n)], pa.int64()),
            "u": pa.array([2**64 - 1 - i for i in range(n)], pa.uint64()),
            "f": [i / 3 for i in range(n)],
            "s": [f"é{i}" * (i % 4) for i in range(n)],
            "b": [bytes([i, 255]) for i in range(n)],
            "t": pa.array(
                [dt.datetime(2024, 1, 1, i) for i in range(n)], pa.timestamp("us", "Asia/Tokyo")
            ),
            "d": pa.array([dt.timedelta(seconds=i) for i in range(n)], pa.duration("us")),
            "dec": pa.array([Decimal(f"{i}.25") for i in range(n)], pa.decimal128(10, 2)),
            "st": [{"a": i, "l": [i, i + 1]} for i in range(n)],
            "m": pa.array(
                [[("k", i), ("k", 0)] if i == 9 else [("k", i)] for i in range(n)],
                pa.map_(pa.string(), pa.int64()),
            ),
            "big": ["x" * (3000 if i == 12 else 1) for i in range(n)],
        }
    )
    batched, whole = tmp_path / "batched.parquet", tmp_path / "whole.parquet"
    pq.write_table(table, batched, row_group_size=7)
    pq.write_table(table, whole, row_group_size=3)
    schema = pl.scan_parquet(batched).collect_schema()
    assert arrow_batches(whole, 3, schema) is None  # no row group over 3 rows: polars
    for path in (batched, whole):  # pyarrow's values are those polars' reader gives
        decoded = arrow_batches(path, 3, schema, start=0)
        assert decoded is not None
        frames = [piece for piece in decoded if isinstance(piece, pl.DataFrame)]
        assert all(f.height <= 3 for f in frames)
        assert pl.concat(frames).to_dicts() == pl.read_parquet(path).to_dicts()
    got = list(iter_parquet_rows(batched, 3, 1000))
    assert got == list(iter_parquet_rows(whole, 3, 1000))
    assert [(r.position, r.reason) for r in got if isinstance(r, Rejection)] == [
        (10, "duplicate_key"),
        (13, "too_large"),
    ]
