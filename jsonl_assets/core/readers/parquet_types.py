"""Parquet column types polars cannot read, found from the schema before any row is read.

A valid Parquet file can hold types polars 2.1 does not read: a Decimal with more than 38
digits (decimal256), a list_view, or a timestamp whose time zone is a fixed offset
(`+05:30`). polars panics on some of these (and prints a Rust backtrace to stderr when
`RUST_BACKTRACE` is set) and fails others at the first row, both of which would look like a
damaged file. Fixed offsets are read: polars would refuse them only because they are not
names of its time zone database, and with `POLARS_IGNORE_TIMEZONE_PARSE_ERROR` it reads them
(the reader writes them with that offset, parquet_values.py). A time zone that is neither a
fixed offset nor a name in polars' own time zone database (the one it formats timestamps
with, bundled with it: never the machine's) is refused with its column.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any, Final

import polars as pl

# Read where polars reads it, at each schema it resolves (not once at import).
os.environ.setdefault("POLARS_IGNORE_TIMEZONE_PARSE_ERROR", "1")

MAX_DECIMAL_DIGITS: Final = 38  # polars' Decimal is 128 bits
_OFFSET: Final = re.compile(r"[+-](?:[01]\d|2[0-3]):[0-5]\d")


def unsupported_column(schema: Mapping[str, Any]) -> str | None:
    """Why the first column of `schema` whose type polars cannot read is not read (naming the
    column and its type), or None when polars reads them all."""
    for name, dtype in schema.items():
        for where, part in _parts(name, dtype):
            why = _unsupported(part)
            if why is not None:
                return f"column {name!r} has type {dtype}{where}: {why}"
    return None


def _parts(name: str, dtype: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """`dtype` and the types inside it, each with where it is (`` for `dtype` itself)."""
    yield where, dtype
    if isinstance(dtype, pl.Struct):
        for f in dtype.fields:
            yield from _parts(name, f.dtype, f"{where}, field {f.name!r}")
    elif isinstance(dtype, pl.Map):
        yield from _parts(name, dtype.key, f"{where}, map key")
        yield from _parts(name, dtype.value, f"{where}, map value")
    elif isinstance(dtype, pl.List | pl.Array):
        yield from _parts(name, dtype.inner, f"{where}, item")


def _unsupported(dtype: Any) -> str | None:
    if isinstance(dtype, pl.Decimal) and (dtype.precision or 0) > MAX_DECIMAL_DIGITS:
        return (
            f"a decimal of {dtype.precision} digits, which polars cannot read (it holds "
            f"{MAX_DECIMAL_DIGITS})"
        )
    zone = getattr(dtype, "time_zone", None)
    if isinstance(dtype, pl.Datetime) and zone is not None and not _known_zone(zone):
        return f"the time zone {zone!r} is neither a fixed offset nor a zone polars knows"
    return None


def fixed_offset(zone: str) -> int | None:
    """The minutes east of UTC of a fixed-offset zone (`+05:30`, `-03:00`), else None."""
    if not _OFFSET.fullmatch(zone):
        return None
    minutes = int(zone[1:3]) * 60 + int(zone[4:6])
    return -minutes if zone[0] == "-" else minutes


@lru_cache(maxsize=256)
def _known_zone(zone: str) -> bool:
    """Whether timestamps in `zone` can be written: a fixed offset, or a zone of polars' own
    database (replace_time_zone refuses other names, even with
    POLARS_IGNORE_TIMEZONE_PARSE_ERROR, without a panic)."""
    if fixed_offset(zone) is not None:
        return True
    try:
        pl.Series([0], dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone(zone)
    except pl.exceptions.PolarsError:
        return False
    return True


def date_casts(read: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """The columns polars reads (`read`) with a millisecond Datetime, at any depth, where the
    file stores a Parquet DATE (`stored`: the types pyarrow reads, which say Date), each with
    the type that holds them as dates. An Arrow date64 is stored as a DATE, in whole days;
    polars restores the date64 from the file's Arrow schema as a Datetime("ms"), which would be
    written as a date-time. The others are absent."""
    return {
        name: stored[name]
        for name, dtype in read.items()
        if name in stored and dtype != stored[name] and _dates_apart(dtype, stored[name])
    }


def _dates_apart(read: Any, stored: Any) -> bool:
    """Whether `read` is `stored` but for millisecond Datetimes where `stored` has Dates."""
    if read == stored:
        return True
    if isinstance(read, pl.Datetime) and stored == pl.Date:
        return read.time_unit == "ms" and read.time_zone is None
    if isinstance(read, pl.Struct) and isinstance(stored, pl.Struct):
        pairs = list(zip(read.fields, stored.fields, strict=False))
        return len(read.fields) == len(stored.fields) and all(
            a.name == b.name and _dates_apart(a.dtype, b.dtype) for a, b in pairs
        )
    if isinstance(read, pl.Map) and isinstance(stored, pl.Map):
        return _dates_apart(read.key, stored.key) and _dates_apart(read.value, stored.value)
    if isinstance(read, pl.Array) and isinstance(stored, pl.Array):
        return read.size == stored.size and _dates_apart(read.inner, stored.inner)
    if isinstance(read, pl.List) and isinstance(stored, pl.List):
        return _dates_apart(read.inner, stored.inner)
    return False
