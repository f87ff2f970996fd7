"""Parquet values JSON cannot hold, converted by polars before a row becomes a dict.

At any depth (struct fields, list and array items): Binary becomes a base64 string, a
Duration its integer microseconds. Python's datetime and time hold microseconds, so a row
with a nanosecond Datetime, a Time or a nanosecond Duration whose value has digits below
the microsecond is flagged in the column `CUT` (computed from the values as stored), and
the reader quarantines it instead of writing it cut.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

CUT: Final = "\x00jsonl-assets:cut"  # no Parquet writer names a column like this


def with_json_values(frame: pl.LazyFrame) -> pl.LazyFrame:
    """`frame` with its columns converted, and the column `CUT` when a type can hold
    nanoseconds (one `with_columns`: every expression sees the values as stored)."""
    schema = frame.collect_schema()
    exprs = [
        conv.alias(name)
        for name, dtype in schema.items()
        if (conv := _converted(pl.col(name), dtype)) is not None
    ]
    found = [e for name, dtype in schema.items() if (e := _nanos(pl.col(name), dtype)) is not None]
    if found:
        exprs.append(pl.any_horizontal(found).fill_null(False).alias(CUT))
    return frame.with_columns(exprs) if exprs else frame


def _converted(expr: pl.Expr, dtype: Any) -> pl.Expr | None:
    """`expr` as values JSON holds, or None when it holds them already."""
    if dtype == pl.Binary:
        return expr.bin.encode("base64")
    if isinstance(dtype, pl.Duration):
        return expr.dt.total_microseconds()
    if isinstance(dtype, pl.Struct):
        fields = [
            conv.alias(f.name)
            for f in dtype.fields
            if (conv := _converted(pl.field(f.name), f.dtype)) is not None
        ]
        return expr.struct.with_fields(fields) if fields else None
    if isinstance(dtype, pl.List | pl.Array):
        inner = _converted(pl.element(), dtype.inner)
        if inner is None:
            return None
        listed = expr.arr.to_list() if isinstance(dtype, pl.Array) else expr
        return listed.list.eval(inner)
    return None


def _nanos(expr: pl.Expr, dtype: Any) -> pl.Expr | None:
    """Per row, whether `expr` holds a value with a part below the microsecond."""
    if isinstance(dtype, pl.Time) or (isinstance(dtype, pl.Datetime) and dtype.time_unit == "ns"):
        return (expr.dt.nanosecond() % 1000 != 0).fill_null(False)
    if isinstance(dtype, pl.Duration) and dtype.time_unit == "ns":
        return (expr.dt.total_nanoseconds() % 1000 != 0).fill_null(False)
    if isinstance(dtype, pl.Struct):
        fields = [
            e for f in dtype.fields if (e := _nanos(expr.struct.field(f.name), f.dtype)) is not None
        ]
        return pl.any_horizontal(fields).fill_null(False) if fields else None
    if isinstance(dtype, pl.List | pl.Array):
        inner = _nanos(pl.element(), dtype.inner)
        if inner is None:
            return None
        listed = expr.arr.to_list() if isinstance(dtype, pl.Array) else expr
        return listed.list.eval(inner).list.any().fill_null(False)
    return None
