"""Parquet `unsupported_value` details name the column holding the refused value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
from jsonl_assets.core.traces import Rejection


def _rejections(tmp_path: Path, table: pa.Table, **options: Any) -> list[Rejection]:
    path = tmp_path / "wide.parquet"
    pq.write_table(table, path)
    items = read_source(
        SourceFile(path, path.name), "parquet", options, ReadLimits(16 << 20), tmp_path / "s"
    )
    return [i for i in items if isinstance(i, Rejection)]


@pytest.mark.parametrize(
    ("column", "values", "shown"),
    [
        (
            "m_int_key",
            pa.array([[(1, "x")], [(2, "y")]], pa.map_(pa.int64(), pa.string())),
            "the map key 1 at m_int_key is not a string",
        ),
        ("ts_ns", pa.array([1, 2], pa.timestamp("ns")), "1970-01-01 00:00:00.000000001"),
        ("t_ns", pa.array([1, 2], pa.time64("ns")), "holds nanoseconds"),
        ("dur_ns", pa.array([1, 2], pa.duration("ns")), "holds 1 ns"),
        ("dur_ms", pa.array([2**62, 2**62 + 1], pa.duration("ms")), f"holds {2**62} ms"),
        (
            "nested",
            pa.array([{"d": 1}, {"d": 2}], pa.struct([("d", pa.timestamp("ns"))])),
            "column 'nested' (at some depth)",
        ),
    ],
)
@pytest.mark.parametrize("batch_rows", [8192, 1])
def test_an_unsupported_value_detail_names_its_column(
    tmp_path: Path, column: str, values: pa.Array, shown: str, batch_rows: int
) -> None:
    """Before: "row 1 cannot be written as JSON: Dict key must be str" and "row 1: a
    datetime, time or duration holds nanoseconds ..." named no column: in a file of 50
    columns nobody could tell which value was refused."""
    others = {f"c{i}": pa.array([i, i], pa.int64()) for i in range(50)}
    table = pa.table({**others, column: values})
    rejected = _rejections(tmp_path, table, batch_rows=batch_rows)
    assert [r.position for r in rejected] == [1, 2]
    for r in rejected:
        assert r.reason == "unsupported_value"
        assert f"column {column!r}" in r.detail, r.detail
    assert shown in rejected[0].detail, rejected[0].detail
