"""Parquet values JSON cannot hold, converted by polars before a row becomes a dict.

At any depth (struct fields, list and array items, map keys and values): Binary becomes a
base64 string, a Duration its integer microseconds, and a Datetime with a time zone its RFC
3339 text, written by polars with its bundled time zone rules (never the machine's tz
database, which Python's zoneinfo reads: the same file gives the same text everywhere), as
orjson writes a Python datetime: `2024-06-01T05:00:00+05:00`, `.ffffff` only when there are
microseconds, the offset in minutes; a fixed-offset zone (`+05:30`) with that offset. A row
that holds a value this would alter is flagged instead, in a flag column (`flag_name`: a name
the file's schema does not hold, so it never hides or stands for a column of the file) whose
value is why, computed from the values as stored; the reader quarantines the row instead of
writing it altered: Python's datetime and time hold microseconds, so a nanosecond Datetime,
a Time or a nanosecond Duration with digits below the microsecond; a millisecond Duration
whose value in microseconds does not fit in 64 bits (polars' conversion would wrap around);
a Datetime with a time zone outside years 1-9999 in that zone, or whose zone's offset then
had seconds; a Date or naive Datetime outside years 1-9999, which Python cannot hold (found
from the stored numbers: polars panics turning one past its own calendar, chrono's, into a
Python object, a Rust panic on stderr). The reader never turns a flagged row into Python
objects (parquet.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

import orjson
import polars as pl

from jsonl_assets.core.readers.exact_numbers import CountingDefault
from jsonl_assets.core.readers.parquet_types import fixed_offset

FLAG: Final = "\x00jsonl-assets:flag"
CUT_WHY: Final = (
    "a datetime, time or duration holds nanoseconds, which Python's datetime and time (and "
    "a duration's integer microseconds) would cut"
)
WIDE_WHY: Final = "a duration does not fit in 64-bit integer microseconds"
YEAR_WHY: Final = "a value Python cannot hold (a date outside years 1-9999 in its time zone)"
OFFSET_WHY: Final = (
    "a timestamp whose time zone's offset then had seconds (local mean time, before about "
    "1900), which an RFC 3339 offset cannot hold"
)
_MAX_MS: Final = (2**63 - 1) // 1000  # the largest millisecond count that fits in microseconds
_I64: Final = (-(2**63), 2**63 - 1)
_PER_MINUTE: Final = {"ms": 60_000, "us": 60_000_000}
_DAYS: Final = (-719_162, 2_932_896)  # 0001-01-01 and 9999-12-31, in days since 1970-01-01
_PER_DAY: Final = {"ms": 86_400_000, "us": 86_400_000_000}  # ns holds years 1677-2262 only
_WHOLE: Final = "%Y-%m-%dT%H:%M:%S"
_FRACTION: Final = "%Y-%m-%dT%H:%M:%S%.6f"

Check = Callable[[pl.Expr, Any], "pl.Expr | None"]


def flag_name(names: Iterable[str]) -> str:
    """`FLAG`, or `FLAG` with a number after it: the first that is not one of `names`."""
    taken = set(names)
    name, n = FLAG, 0
    while name in taken:
        n += 1
        name = f"{FLAG}#{n}"
    return name


def with_json_values(frame: pl.LazyFrame) -> tuple[pl.LazyFrame, str | None]:
    """`frame` with its columns converted, and the name of its flag column (a String, null
    for a row holding no value the conversion would alter), or None when no column can hold
    such a value (one `with_columns`: every expression sees the values as stored)."""
    schema = frame.collect_schema()
    exprs = [
        conv.alias(name)
        for name, dtype in schema.items()
        if (conv := _converted(pl.col(name), dtype)) is not None
    ]
    whys = []
    checks = ((_nanos, CUT_WHY), (_wide, WIDE_WHY), (_years, YEAR_WHY), (_seconds, OFFSET_WHY))
    for check, why in checks:
        for name, dtype in schema.items():
            if (found := _any(pl.col(name), dtype, check)) is not None:
                whys.append(pl.when(found).then(_why(name, dtype, check, why)))
    flag = None
    if whys:
        flag = flag_name(schema.names())
        exprs.append(pl.coalesce(whys).alias(flag))
    return (frame.with_columns(exprs) if exprs else frame), flag


def _why(name: str, dtype: Any, check: Check, why: str) -> pl.Expr:
    """Why a row is flagged, naming the column `name` (and, when the column itself holds the
    value, not a field or item of it, the value as stored)."""
    column = pl.col(name)
    if check in (_nanos, _wide) and check(column, dtype) is not None:
        if isinstance(dtype, pl.Duration):
            shown = pl.format("{} {}", column.to_physical(), pl.lit(dtype.time_unit))
        else:
            shown = column.cast(pl.String)
        return pl.format("column {} holds {}: {}", pl.lit(repr(name)), shown, pl.lit(why))
    return pl.lit(
        f"column {name!r} (at some depth): {why}" if _nested(dtype) else f"column {name!r}: {why}"
    )


def _nested(dtype: Any) -> bool:
    return isinstance(dtype, pl.Struct | pl.Map | pl.List | pl.Array)


def _converted(expr: pl.Expr, dtype: Any) -> pl.Expr | None:
    """`expr` as values JSON holds, or None when it holds them already."""
    if dtype == pl.Binary:
        return expr.bin.encode("base64")
    if isinstance(dtype, pl.Duration):
        return expr.dt.total_microseconds()
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return _zoned_text(expr, dtype)
    if isinstance(dtype, pl.Struct):
        fields = [
            conv.alias(f.name)
            for f in dtype.fields
            if (conv := _converted(pl.field(f.name), f.dtype)) is not None
        ]
        return expr.struct.with_fields(fields) if fields else None
    if isinstance(dtype, pl.Map):
        entry = pl.Struct({"key": dtype.key, "value": dtype.value})
        inner = _converted(pl.element(), entry)
        return None if inner is None else expr.map.entries().list.eval(inner).list.to_map()
    if isinstance(dtype, pl.List | pl.Array):
        inner = _converted(pl.element(), dtype.inner)
        if inner is None:
            return None
        listed = expr.arr.to_list() if isinstance(dtype, pl.Array) else expr
        return listed.list.eval(inner)
    return None


def _zoned(expr: pl.Expr, dtype: pl.Datetime) -> tuple[pl.Expr, pl.Expr, str | None]:
    """A timestamp with a time zone: its wall time to format (a naive one for a fixed
    offset), whether it is within years 1-9999 there, and the offset text to append (None
    for a named zone: polars' `%:z` writes it)."""
    zone = dtype.time_zone or "UTC"
    minutes = fixed_offset(zone)
    if minutes is None:
        year = expr.dt.year()
        return expr, year.is_between(1, 9999), None
    stored, unit = expr.to_physical(), dtype.time_unit
    if unit == "ns":  # digits below the microsecond are flagged (_nanos)
        stored, unit = stored // 1000, "us"
    shift = minutes * _PER_MINUTE[unit]
    fits = stored.is_between(_I64[0] - min(shift, 0), _I64[1] - max(shift, 0))
    wall = pl.when(fits).then(stored + shift).cast(pl.Datetime(unit))
    sign = "-" if minutes < 0 else "+"
    text = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return wall, fits & wall.dt.year().is_between(1, 9999), text


def _zoned_text(expr: pl.Expr, dtype: pl.Datetime) -> pl.Expr:
    """A timestamp with a time zone as orjson writes a Python datetime (null where it is
    outside years 1-9999: the row is flagged, _years)."""
    wall, within, offset = _zoned(expr, dtype)
    safe = _in_range(wall, within, dtype, offset)
    zone = "%:z" if offset is None else ""
    text = (
        pl.when(safe.dt.microsecond() != 0)
        .then(safe.dt.to_string(_FRACTION + zone))
        .otherwise(safe.dt.to_string(_WHOLE + zone))
    )
    text = text if offset is None else pl.concat_str([text, pl.lit(offset)])
    return pl.when(within).then(text)


def _in_range(wall: pl.Expr, within: pl.Expr, dtype: pl.Datetime, offset: str | None) -> pl.Expr:
    """`wall` where it is `within` years 1-9999, 1970-01-01 elsewhere: the values stored
    behind a null are computed on too, and polars panics on one past its calendar ("invalid
    or out-of-range datetime", in a worker thread: its streaming engine then ends the file
    quietly), so no value out of range is left behind a null."""
    unit = "us" if dtype.time_unit == "ns" and offset is not None else dtype.time_unit
    kind = pl.Datetime(unit, None if offset is not None else dtype.time_zone)
    return pl.when(within).then(wall.to_physical()).otherwise(0).cast(kind)


def _years(expr: pl.Expr, dtype: Any) -> pl.Expr | None:
    """Per value, whether it is a date or timestamp outside years 1-9999 (a timestamp with a
    time zone: there), which Python cannot hold."""
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return expr.is_not_null() & ~_zoned(expr, dtype)[1].fill_null(False)
    if dtype == pl.Date:
        return ~expr.to_physical().is_between(*_DAYS)
    if isinstance(dtype, pl.Datetime) and dtype.time_unit in _PER_DAY:
        per_day = _PER_DAY[dtype.time_unit]
        return ~expr.to_physical().is_between(_DAYS[0] * per_day, (_DAYS[1] + 1) * per_day - 1)
    return None


def _seconds(expr: pl.Expr, dtype: Any) -> pl.Expr | None:
    """Per value, whether it is a timestamp whose named zone's offset has seconds there
    (Tokyo's +09:18:59 in 1880): `%:z` would write +09:19, another instant."""
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        if fixed_offset(dtype.time_zone) is not None:
            return None
        wall, within, _ = _zoned(expr, dtype)
        safe = _in_range(wall, within, dtype, None)
        offset = (safe.dt.base_utc_offset() + safe.dt.dst_offset()).dt.total_seconds()
        return within & (offset % 60 != 0)
    return None


def _nanos(expr: pl.Expr, dtype: Any) -> pl.Expr | None:
    """Per value, whether it has a part below the microsecond."""
    if isinstance(dtype, pl.Datetime) and dtype.time_unit == "ns":
        return expr.to_physical() % 1000 != 0
    if isinstance(dtype, pl.Time):
        return expr.dt.nanosecond() % 1000 != 0
    if isinstance(dtype, pl.Duration) and dtype.time_unit == "ns":
        return expr.dt.total_nanoseconds() % 1000 != 0
    return None


def _wide(expr: pl.Expr, dtype: Any) -> pl.Expr | None:
    """Per value, whether it is a duration too long for integer microseconds."""
    if isinstance(dtype, pl.Duration) and dtype.time_unit == "ms":
        return expr.dt.total_milliseconds().abs() > _MAX_MS
    return None


def _any(expr: pl.Expr, dtype: Any, check: Check) -> pl.Expr | None:
    """Per row, whether `check` holds for a value of `expr` at any depth (None: it cannot)."""
    if (found := check(expr, dtype)) is not None:
        return found.fill_null(False)
    if isinstance(dtype, pl.Struct):
        fields = [
            e
            for f in dtype.fields
            if (e := _any(expr.struct.field(f.name), f.dtype, check)) is not None
        ]
        return pl.any_horizontal(fields).fill_null(False) if fields else None
    if isinstance(dtype, pl.Map):
        entry = pl.Struct({"key": dtype.key, "value": dtype.value})
        inner = _any(pl.element(), entry, check)
        return (
            None
            if inner is None
            else expr.map.entries().list.eval(inner).list.any().fill_null(False)
        )
    if isinstance(dtype, pl.List | pl.Array):
        inner = _any(pl.element(), dtype.inner, check)
        if inner is None:
            return None
        listed = expr.arr.to_list() if isinstance(dtype, pl.Array) else expr
        return listed.list.eval(inner).list.any().fill_null(False)
    return None


def unwritable_column(row: dict[str, Any], error: Exception) -> str:
    """`column 'x': why` for the first column of `row` orjson cannot write (`error`: what it
    said of the whole row), naming a map key that is not a string with its path."""
    for name, value in row.items():
        try:
            orjson.dumps(value, default=CountingDefault())
        except orjson.JSONEncodeError as exc:
            return _key_problem(name, value) or f"column {name!r}: {exc}"
    return str(error)


def _key_problem(name: str, value: Any) -> str | None:
    """`<path>: why` for the first map key in `value` (column `name`) that is not a string."""
    stack: list[tuple[str, Any]] = [(name, value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key in node:
                if not isinstance(key, str):
                    return (
                        f"column {name!r}: the map key {key!r} at {path} is not a string, "
                        "which a JSON object key must be"
                    )
            stack.extend((f"{path}.{k}", v) for k, v in reversed(node.items()))
        elif isinstance(node, list | tuple):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(node))))
    return None


def has_float(dtype: Any) -> bool:
    """Whether values of `dtype` may hold a float (so a NaN or an infinity)."""
    if dtype.is_float():
        return True
    if isinstance(dtype, pl.Struct):
        return any(has_float(f.dtype) for f in dtype.fields)
    if isinstance(dtype, pl.Map):
        return has_float(dtype.key) or has_float(dtype.value)
    inner = getattr(dtype, "inner", None)
    return inner is not None and has_float(inner)
