"""A Parquet file looked at before its rows are read: refused whole, or rows to distrust.

`inspect` refuses a file with a column of a type polars cannot read (`unsupported_type`:
list_view, found in the footer's Arrow schema before polars panics on it; decimal256, time
zones, see parquet_types.py), and finds the row groups where polars' values are not the
file's (see parquet_footer.py):
- a map column whose leaves hold more values in the footer than polars' maps give: some
  map of that row group repeats a key, and polars kept only its last value. polars does not
  say which row's, so each row of the row group with a value in that column is
  `duplicate_key`;
- a duration column in seconds whose min/max statistics in that row group (or their lack)
  allow a value polars' conversion to milliseconds wraps around: each row of the row group
  with a value in that column is `unsupported_value`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import polars as pl

from jsonl_assets.core.readers.parquet_footer import (
    ARROW_LIST_VIEWS,
    ArrowLeaf,
    RowGroup,
    arrow_leaves,
    footer,
    row_groups,
    seconds,
)
from jsonl_assets.core.readers.parquet_types import unsupported_column
from jsonl_assets.core.readers.parquet_values import flag_name

_MAX_SECONDS: Final = (2**63 - 1) // 10**6  # the most seconds integer microseconds hold
_ALL_ROWS: Final = 2**63


@dataclass(frozen=True, slots=True)
class Suspect:
    """Rows `first` to `end` (0-based, end excluded) with a value in `column` are `reason`."""

    first: int
    end: int
    column: str
    reason: str
    why: str

    def rows(self) -> str:
        return f"rows {self.first + 1}-{self.end}" if self.end < _ALL_ROWS else "every row"


@dataclass(slots=True)
class Inspection:
    refused: str | None = None  # why the whole file is `unsupported_type`
    suspects: list[Suspect] = field(default_factory=list)


def inspect(path: Any, scan: Callable[[], pl.LazyFrame]) -> Inspection:
    """What must be known about the file at `path` before its rows are read (`scan`: its
    lazy frame). Errors reading the file are left to the read, which reports them."""
    try:
        meta = pl.read_parquet_metadata(os.fspath(path))
    except (pl.exceptions.PolarsError, OSError):
        return Inspection()
    leaves = arrow_leaves(meta["ARROW:schema"]) if "ARROW:schema" in meta else None
    for leaf in leaves or ():
        if leaf.type_id in ARROW_LIST_VIEWS:
            return Inspection(
                f"column {leaf.column!r} holds the Arrow type {ARROW_LIST_VIEWS[leaf.type_id]}, "
                "which polars cannot read"
            )
    try:
        schema = scan().collect_schema()
    except pl.exceptions.PanicException as exc:
        text = str(exc).strip().splitlines()
        return Inspection(f"polars cannot read the file's schema ({text[0] if text else exc})")
    except (pl.exceptions.PolarsError, OSError):
        return Inspection()
    if (why := unsupported_column(schema)) is not None:
        return Inspection(why)
    in_seconds = [leaf for leaf in leaves or () if seconds(leaf.unit)]
    maps = {name: dtype for name, dtype in schema.items() if _has_map(dtype)}
    if not in_seconds and not maps:
        return Inspection()
    data = footer(path)
    groups = row_groups(data) if data is not None else None
    return Inspection(suspects=_seconds(groups, in_seconds) + _maps(groups, maps, scan))


def _seconds(groups: list[RowGroup] | None, leaves: list[ArrowLeaf]) -> list[Suspect]:
    """Row groups where a duration in seconds may not fit (statistics past the range, or none)."""
    found = []
    for leaf in leaves:
        for first, end, group in _spans(groups):
            chunks = [c for c in group.chunks if c.path[0] == leaf.column] if group else []
            stats = chunks[leaf.index] if leaf.index < len(chunks) else None
            low, high = (_int(stats.min), _int(stats.max)) if stats else (None, None)
            if low is None or high is None:
                seen = "are missing, so none of its values can be trusted"
            elif max(-low, high) > _MAX_SECONDS:
                seen = (
                    f"go from {low} to {high} s, past what integer microseconds hold; polars "
                    "does not tell which row's value wrapped"
                )
            else:
                continue
            why = (
                f"column {leaf.column!r} holds durations in seconds, which polars multiplies "
                f"into milliseconds wrapping around past 64 bits, and its statistics here {seen}"
            )
            found.append(Suspect(first, end, leaf.column, "unsupported_value", why))
    return found


def _maps(
    groups: list[RowGroup] | None, maps: Mapping[str, Any], scan: Callable[[], pl.LazyFrame]
) -> list[Suspect]:
    """Row groups where a map column's leaves hold more values than polars' maps give."""
    if not maps:
        return []
    names = list(maps)
    counts = _polars_counts(groups, maps, scan) if groups is not None else {}
    found = []
    for g, (first, end, group) in enumerate(_spans(groups)):
        for i, name in enumerate(names):
            if group is None:
                why = (
                    f"the file's footer, needed to check the maps of column {name!r} for a "
                    "repeated key, cannot be read"
                )
                found.append(Suspect(first, end, name, "duplicate_key", why))
                continue
            polars_has = counts.get(g, [0] * len(names))[i]
            stored = sum(c.num_values for c in group.chunks if c.path[0] == name)
            if stored != polars_has:
                why = (
                    f"column {name!r} holds a map that repeats a key in this row group: its "
                    f"leaves hold {stored} values in the file, polars' maps {polars_has}; "
                    "polars keeps only the last value of a repeated key and does not tell "
                    "which row's map it was"
                )
                found.append(Suspect(first, end, name, "duplicate_key", why))
    return found


def _polars_counts(
    groups: list[RowGroup], maps: Mapping[str, Any], scan: Callable[[], pl.LazyFrame]
) -> dict[int, list[int]]:
    """Per row group (by index), how many values polars' columns `maps` put in their leaves."""
    starts = pl.Series(_starts(groups), dtype=pl.UInt64)
    row = flag_name(scan().collect_schema().names())  # a name no column has
    group = pl.lit(starts).search_sorted(pl.col(row).cast(pl.UInt64), side="right") - 1
    slots = (
        _slots(pl.col(name), dtype).alias(f"c{i}") for i, (name, dtype) in enumerate(maps.items())
    )
    frame = scan().with_row_index(row).select(group.alias("g"), *slots)
    totals = frame.group_by("g").agg(pl.all().sum()).collect(engine="streaming")
    return {g: rest for g, *rest in totals.iter_rows()}


def _spans(groups: list[RowGroup] | None) -> list[tuple[int, int, RowGroup | None]]:
    if groups is None:
        return [(0, _ALL_ROWS, None)]
    starts = _starts(groups)
    return [(s, s + g.num_rows, g) for s, g in zip(starts, groups, strict=True)]


def _starts(groups: list[RowGroup]) -> list[int]:
    starts, at = [], 0
    for group in groups:
        starts.append(at)
        at += group.num_rows
    return starts


def _int(stat: bytes | None) -> int | None:
    return int.from_bytes(stat, "little", signed=True) if stat and len(stat) == 8 else None


def _has_map(dtype: Any) -> bool:
    if isinstance(dtype, pl.Map):
        return True
    if isinstance(dtype, pl.Struct):
        return any(_has_map(f.dtype) for f in dtype.fields)
    inner = getattr(dtype, "inner", None)
    return inner is not None and _has_map(inner)


def _leaves(dtype: Any) -> int:
    """How many Parquet leaf columns a value of `dtype` is stored in."""
    if isinstance(dtype, pl.Struct):
        return sum(_leaves(f.dtype) for f in dtype.fields)
    if isinstance(dtype, pl.Map):
        return _leaves(dtype.key) + _leaves(dtype.value)
    if isinstance(dtype, pl.List | pl.Array):
        return _leaves(dtype.inner)
    return 1


def _slots(expr: pl.Expr, dtype: Any) -> pl.Expr:
    """Per value, how many values the Parquet leaves under it hold: one per leaf for a null
    or an empty list or map, else the sum over its fields or items."""
    empty = pl.lit(_leaves(dtype), dtype=pl.Int64)
    if isinstance(dtype, pl.Struct):
        parts = [_slots(expr.struct.field(f.name), f.dtype) for f in dtype.fields]
        return pl.when(expr.is_null()).then(empty).otherwise(pl.sum_horizontal(parts))
    if isinstance(dtype, pl.Map):
        entry = pl.Struct({"key": dtype.key, "value": dtype.value})
        return _listed(expr.map.entries(), entry, empty)
    if isinstance(dtype, pl.List | pl.Array):
        listed = expr.arr.to_list() if isinstance(dtype, pl.Array) else expr
        return _listed(listed, dtype.inner, empty)
    return pl.lit(1, dtype=pl.Int64)


def _listed(listed: pl.Expr, inner: Any, empty: pl.Expr) -> pl.Expr:
    size = listed.list.len().cast(pl.Int64)
    if _leaves(inner) == 1 and not isinstance(inner, pl.Struct | pl.Map | pl.List | pl.Array):
        items = size
    else:
        items = listed.list.eval(_slots(pl.element(), inner)).list.sum().cast(pl.Int64)
    return pl.when(listed.is_null() | (size == 0)).then(empty).otherwise(items)
