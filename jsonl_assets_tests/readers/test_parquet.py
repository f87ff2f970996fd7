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


def test_corrupt_page_keeps_rows_before_it(tmp_path: Path) -> None:
    data = parquet_bytes(tmp_path, frame(), row_group_size=2000)
    middle = len(data) // 2
    damaged = data[:middle] + bytes(300) + data[middle + 300 :]
    items = read(tmp_path, damaged)
    good = [i for i in items if type(i) is tuple]
    # Every row of the row groups before the damaged one (2000 rows each) is kept, although
    # polars' streaming engine raised while only its first batch had been delivered.
    damaged_group = next(g for g in range(N // 2000) if not _group_readable(tmp_path, damaged, g))
    assert len(good) == damaged_group * 2000 > 0
    assert [g[1]["id"] for g in good] == list(range(len(good)))
    last = items[-1]
    assert isinstance(last, Rejection) and last.reason == "corrupt_file"
    assert last.position == len(good) + 1


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


def test_decimals_are_exact_floats_or_unsupported_value(tmp_path: Path) -> None:
    df = pl.DataFrame(
        {"s": [{"d": Decimal("1.5")}, {"d": Decimal("12345678901234567890.1")}]},
        schema={"s": pl.Struct({"d": pl.Decimal(38, 1)})},
    )
    items = read(tmp_path, parquet_bytes(tmp_path, df))
    assert items[0] == (1, {"s": {"d": 1.5}}, b'{"s":{"d":1.5}}')
    assert (items[1].position, items[1].reason) == (2, "unsupported_value")
    assert "s.d: the number 12345678901234567890.1 has more precision" in items[1].detail


def test_nan_and_infinity_are_unsupported_value(tmp_path: Path) -> None:
    df = pl.DataFrame({"f": [1.5, float("nan"), float("inf"), None]})
    items = read(tmp_path, parquet_bytes(tmp_path, df))
    assert items[0] == (1, {"f": 1.5}, b'{"f":1.5}') and items[3] == (4, {"f": None}, b'{"f":null}')
    assert [(i.position, i.reason) for i in items[1:3]] == [(2, "unsupported_value")] * 1 + [
        (3, "unsupported_value")
    ]


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
