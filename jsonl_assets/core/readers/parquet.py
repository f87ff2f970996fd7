"""Parquet: one record per row, decoded batch by batch (`batch_rows`) by pyarrow.

Position kind `row`: 1-based row number in file order. A file with a row group of more than
`batch_rows` rows is decoded by pyarrow's `ParquetFile.iter_batches`, `batch_rows` rows at a
time, so a huge row group costs about what a small one costs (a 200 MB row group: 190 MB
peak against 351 MB decoded whole); each batch is validated (a string that is not UTF-8
makes its row `invalid_utf8`), becomes a polars frame and gets the same conversions
(parquet_decode.py); a batch polars panics on converting is converted row by row, each row
it panics on `unsupported_value`. Other files, and files whose columns pyarrow would give
polars with another type than polars' own reader gives (or that pyarrow cannot open), are
read by polars' streaming engine (`pl.scan_parquet(...).collect_batches()`), which decodes a
whole row group at a time (peak memory then grows with the largest row group) about three
times as fast. What polars' reader fails on or leaves out (fewer rows than the footer holds:
the streaming engine ends quietly when a worker thread panics) is read again by pyarrow from
the first row not delivered, so `batch_rows` never changes the output; a shortfall left
after that is read again by slices (`_recover`): every row is written or quarantined.
Either way a single value is decoded whole: a cell larger than `max_record_bytes` is held in
memory (with its page) before its row is quarantined as `too_large`; the footer's sizes do not
tell a cell's size exactly, so it is not refused unread. A Parquet file stored
gzip/zstd-compressed (detected by magic bytes) is first decompressed into `scratch_dir`
(`SourceFile.local_path_for_random_access`) and the copy is removed afterwards.

Values: each row becomes a dict (nested structs/lists as dicts/lists, maps as dicts). Values
of types JSON cannot hold are converted at any depth, map keys and values included
(parquet_values.py): Binary -> base64 string, Duration -> integer microseconds, Datetime with
a time zone -> its RFC 3339 text, written by polars with its bundled time zone rules (never
the machine's tz database); Date, naive Datetime and Time stay Python objects (orjson writes
them as RFC 3339 strings); a date64 (a Parquet DATE polars reads as a Datetime) is cast to
the Date pyarrow reads (`Inspection.dates`). A row with a time that has nanoseconds, a duration whose
microseconds pass 64 bits, or a date Python cannot hold (years 1-9999) is `unsupported_value`,
and the rest of its batch is written. A Decimal (at any depth) is written as the float that
holds the same value; a row holding a Decimal a double cannot hold, or a NaN/infinite float
(JSON has none), is `unsupported_value` (exact_numbers.py). uint64 is written as it is. What
polars alters on read (a map's repeated key, a duration in seconds past 64 bits, a time
outside a day read as null) is found row by row with pyarrow (parquet_checks.py).

Reason codes: `corrupt_file` (the rows before the damage are kept: as the streaming engine
reads ahead, after an error the rows not yet delivered are re-read by slices, halved down to
one row near the damage; each row of the damaged range is quarantined and the rows after it
are read on, polars skipping the row groups before a slice; a footer that misplaces or
miscounts a row group is found first, its other row groups read by pyarrow, parquet_footer.py;
a file whose footer is unreadable or holds a negative value is one `corrupt_file`),
`too_large` (a row whose JSON serialisation exceeds `max_record_bytes`), `unsupported_value`
(a row orjson cannot serialise or write exactly, e.g. nesting past 254 levels, see above),
`duplicate_key` (a row whose map repeats a key, at any depth; or the whole file, position 0,
when its schema repeats a column name or a struct's field name, parquet_checks.py), `invalid_utf8` (a row with a
string that is not UTF-8, at any depth, naming the column path), `unsupported_type` (a valid
file with a column polars cannot read: the whole file, position 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson
import polars as pl
import polars.exceptions as plx
from pydantic import Field, field_validator

from jsonl_assets.core.options import Options
from jsonl_assets.core.polars_paths import polars_path
from jsonl_assets.core.readers.base import ReaderSpec, ReadItem
from jsonl_assets.core.readers.exact_numbers import (
    CountingDefault,
    decimals_as_floats,
    value_problem,
)
from jsonl_assets.core.readers.json_render import rendered_raw
from jsonl_assets.core.readers.jsonl import RAW_PREFIX
from jsonl_assets.core.readers.parquet_values import (
    has_float,
    unwritable_column,
    with_json_values,
)
from jsonl_assets.core.readers.source_file import SourceFile
from jsonl_assets.core.traces import Rejection

if TYPE_CHECKING:
    from jsonl_assets.core.readers import ReadLimits
    from jsonl_assets.core.readers.parquet_checks import Inspection

DEFAULT_BATCH_ROWS: Final = 8192
_POLARS_ERRORS: Final = (plx.PolarsError, plx.PanicException, OSError)
# The exceptions turning a value Python cannot hold into an object raises (a date before
# year 1 or after 9999; polars panics on one past what its own date type holds).
_ROW_ERRORS: Final = (ValueError, OverflowError, plx.PanicException)
_PANICS: Final = (plx.PanicException, plx.ComputeError, plx.InvalidOperationError)
_PANIC_ROWS: Final = 8  # rows probed one by one for a polars panic before probing by halves


def read_parquet(
    source: SourceFile, options: Mapping[str, Any], limits: ReadLimits, scratch_dir: Path
) -> Iterator[ReadItem]:
    """Records and rejections of one Parquet file, in row order."""
    batch_rows: int = options.get("batch_rows", DEFAULT_BATCH_ROWS)
    local = source.local_path_for_random_access(scratch_dir)
    try:
        yield from iter_parquet_rows(local, batch_rows, limits.max_record_bytes)
    finally:
        if source.is_scratch_copy(local):
            local.unlink(missing_ok=True)


def iter_parquet_rows(path: Path, batch_rows: int, limit: int) -> Iterator[ReadItem]:
    """Rows in file order; damage ends the file with `corrupt_file` after the rows before it."""
    # pyarrow (parquet_checks, parquet_decode) is imported here, when a Parquet file is read:
    # it takes about 0.25 s, which every command would pay at import.
    from jsonl_assets.core.readers.parquet_checks import Inspection, inspect
    from jsonl_assets.core.readers.parquet_decode import arrow_batches
    from jsonl_assets.core.readers.parquet_footer import check

    done = _Count()
    seen = Inspection()
    error: BaseException | None = None
    total: int | None = None  # the footer's row count, read once
    footer = check(path)
    if footer.fatal is not None:
        yield Rejection(
            position=0,
            reason="corrupt_file",
            detail=f"Parquet file not read: its footer is damaged ({footer.fatal}), so its "
            "rows cannot be located",
        )
        return
    try:
        groups = [(g.rows, not g.why) for g in footer.groups] if footer.damaged else None
        seen = inspect(path, lambda: _scan(path), groups)
        if seen.refused is not None:
            yield Rejection(
                position=0,
                reason=seen.refused_reason,
                detail=f"Parquet file not read: {seen.refused}; it is valid Parquet, but no "
                "row of it can be read exactly",
            )
            return
        frame, flag = _frame(path, seen.dates)
        floats = any(has_float(t) for t in frame.collect_schema().values())
        schema = _scan(path, seen.dates).collect_schema()
        if footer.damaged:  # polars never reads it: it would panic or invent rows
            from jsonl_assets.core.readers.parquet_damaged import read_intact

            yield from read_intact(path, footer, ((frame, flag), schema), batch_rows, limit, seen)
            return
        total = stop = _row_count(path)
        # pyarrow decodes batch by batch; polars (the fast path) a row group at a time.
        decoded = arrow_batches(path, batch_rows, schema, stop=stop)
        if decoded is None:
            fast = frame.collect_batches(chunk_size=batch_rows, maintain_order=True)
            try:
                yield from _emit(fast, done, limit, floats, flag, seen)
            except _POLARS_ERRORS as exc:
                error = exc
            if error is not None or (stop is not None and done.n < stop):
                # what polars' reader failed on or left out: pyarrow reads it again, checked
                decoded = arrow_batches(path, batch_rows, schema, start=done.n, stop=stop)
                error = error if decoded is None else None
        if decoded is not None:
            converted = (piece for raw in decoded for piece in _converted(raw))
            yield from _emit(converted, done, limit, floats, flag, seen)
    except _POLARS_ERRORS as exc:
        error = exc
    if error is not None:
        # The streaming engine reads ahead, so the error may come from a row group well after
        # the rows delivered so far: read on by slices, halving them near the damage.
        yield from _recover(path, done.n, batch_rows, limit, error, seen)
        return
    if total is not None and done.n < total:
        # Fewer rows than the footer holds, without an error: never silent, the rest is read
        # again by slices (each row that cannot be read is quarantined).
        why = f"the read ended after row {done.n} of the {total} the footer holds"
        yield from _recover(path, done.n, batch_rows, limit, ShortRead(why), seen)


class _Count:
    """Rows delivered so far (written or quarantined)."""

    n = 0


def _emit(
    pieces: Iterable[Any],
    done: _Count,
    limit: int,
    floats: bool,
    flag: str | None,
    seen: Inspection,
) -> Iterator[ReadItem]:
    """The items of decoded frames and `BadRow`s, counting them in `done`."""
    from jsonl_assets.core.readers.parquet_decode import BadRow

    for piece in pieces:
        if isinstance(piece, BadRow):
            done.n += 1
            yield _bad_row(done.n, piece.reason, piece.why)
            continue
        for item in _batch_items(piece, done.n, limit, floats, flag, seen):
            done.n += 1
            yield item


class ShortRead(Exception):
    """A read that gave fewer rows than the file's footer holds."""


def _converted(raw: Any) -> Iterator[Any]:
    """A batch pyarrow decoded with values JSON holds (a `BadRow` as it is). Should polars
    panic converting it (a datetime past what its calendar holds), its rows are converted
    one by one and each row it panics on is `unsupported_value`, the others kept."""
    if not isinstance(raw, pl.DataFrame):
        yield raw
        return
    try:
        yield with_json_values(raw.lazy())[0].collect()
        return
    except _PANICS:
        pass
    from jsonl_assets.core.readers.parquet_decode import BadRow

    for i in range(raw.height):
        try:
            yield with_json_values(raw.slice(i, 1).lazy())[0].collect()
        except _PANICS as exc:
            why = f"a value polars cannot convert ({type(exc).__name__}: {_first_line(exc)})"
            yield BadRow("unsupported_value", why)


def _recover(
    path: Path,
    row_no: int,
    step: int,
    limit: int,
    first_error: BaseException,
    seen: Inspection,
) -> Iterator[ReadItem]:
    """Rows from `row_no` on by slices, halved down to one row near the damage. An unreadable
    row starts a damaged range, found by probing rows after it (`_readable_from`): each of
    its rows is `corrupt_file`, and the rows after it are read on. Without a readable footer
    (no row count) the file ends at the damage with one `corrupt_file`."""
    total = _row_count(path)
    size = step
    panics = 0
    error: BaseException = first_error
    while total is None or row_no < total:
        try:
            frame, flag = _frame(path, seen.dates)
            batch = frame.slice(row_no, size).collect()
        except _POLARS_ERRORS as exc:
            error = exc
            if size > 1:
                size //= 2
                continue
            if isinstance(exc, plx.PanicException) and total is not None:
                # a value polars panics on (not damage: that is an error): this row only; past
                # a few, the panicking stretch is found by probes (each panic is a Rust block
                # on stderr, so never one per row of a long stretch)
                why = f"a value polars cannot read ({type(exc).__name__}: {_first_line(exc)})"
                panics += 1
                end = row_no + 1 if panics <= _PANIC_ROWS else _readable_from(path, row_no, total)
                for bad in range(row_no + 1, end + 1):
                    yield _unsupported(bad, why)
                row_no, size = end, step
                continue
            if total is None:
                break
            end = _readable_from(path, row_no, total)
            for bad in range(row_no + 1, end + 1):
                yield _corrupt_row(bad, row_no + 1, end, error)
            row_no = end
            continue
        if batch.height == 0:
            # no row where the footer says there are more: never silent
            for bad in range(row_no + 1, (total or row_no) + 1):
                yield _corrupt_row(bad, row_no + 1, total or row_no, error)
            return
        floats = any(has_float(t) for t in batch.schema.values())
        for item in _batch_items(batch, row_no, limit, floats, flag, seen):
            row_no += 1
            yield item
        size = min(size * 2, step)
    if total is None:
        yield _corrupt(row_no, error)


def _row_count(path: Path) -> int | None:
    """The file's row count from its footer; None when the footer cannot be read."""
    try:
        return int(_scan(path).select(pl.len()).collect().item())
    except _POLARS_ERRORS:
        return None


def _readable(path: Path, index: int) -> bool:
    try:
        _frame(path)[0].slice(index, 1).collect()
    except _POLARS_ERRORS:
        return False
    return True


def _readable_from(path: Path, bad: int, total: int) -> int:
    """The first readable row (0-based) after the unreadable row `bad`, or `total`: rows
    `bad + 1`, `+ 2`, `+ 4`, ... are probed until one reads, then the edge between the last
    unreadable probe and it is found by bisection. Parquet damage spans whole pages or row
    groups, so the rows in between are taken as unreadable too (they are quarantined, not
    lost, should one of them have been readable)."""
    last_bad, gap = bad, 1
    while bad + gap < total and not _readable(path, bad + gap):
        last_bad, gap = bad + gap, gap * 2
    first_good = min(bad + gap, total)
    while first_good - last_bad > 1:
        middle = (last_bad + first_good) // 2
        if _readable(path, middle):
            first_good = middle
        else:
            last_bad = middle
    return first_good


def _frame(path: Path, dates: Mapping[str, Any] | None = None) -> tuple[pl.LazyFrame, str | None]:
    """The file's rows with values JSON holds, and the name of their flag column."""
    return with_json_values(_scan(path, dates))


def _scan(path: Path, dates: Mapping[str, Any] | None = None) -> pl.LazyFrame:
    """The one file at `path` (a URL: polars reads it by ranged requests): its name is never a
    pattern (`data[1].parquet`, `q?.parquet`), nor its folders hive partitions. `dates`: the
    columns holding a date64, cast to the types that hold them as dates (as pyarrow reads
    them, parquet_checks.py)."""
    frame = pl.scan_parquet(polars_path(path), glob=False, hive_partitioning=False)
    return frame.with_columns(pl.col(n).cast(t) for n, t in dates.items()) if dates else frame


def _batch_items(
    batch: pl.DataFrame,
    row_no: int,
    limit: int,
    floats: bool,
    flag: str | None,
    seen: Inspection,
) -> Iterator[ReadItem]:
    """The rows of `batch` (row `row_no + 1` first), each checked; a row flagged in the column
    `flag` (a value the conversion would alter or Python cannot hold, see parquet_values.py)
    is `unsupported_value` and never turned into Python objects (polars panics on a date past
    its calendar); a row `seen` found polars reads altered is quarantined with that finding's
    reason (parquet_checks.py)."""
    flagged: list[tuple[int, str]] = []
    if flag is not None:
        whys = batch.get_column(flag)
        batch = batch.drop(flag)
        if whys.null_count() < len(whys):
            flagged = [(i, why) for i, why in enumerate(whys.to_list()) if why is not None]
    near = replace(
        seen,
        suspects=[s for s in seen.suspects if s.first < row_no + batch.height and s.end > row_no],
    )
    start = 0
    for end, why in [*flagged, (batch.height, None)]:
        if end > start:
            yield from _rows(batch.slice(start, end - start), row_no + start, limit, floats, near)
        if why is not None:
            yield _unsupported(row_no + end + 1, why)
        start = end + 1


def _rows(
    batch: pl.DataFrame, row_no: int, limit: int, floats: bool, seen: Inspection
) -> Iterator[ReadItem]:
    """The rows of `batch`, none flagged. Should turning them into dicts fail, the rows from
    the failing one on are turned one at a time, so only the rows that fail are quarantined
    and the batch's other rows are written."""
    done = 0
    try:
        for row in batch.iter_rows(named=True):
            yield _row_item(row_no + done + 1, row, limit, floats, seen)
            done += 1
    except _ROW_ERRORS:
        for i in range(done, batch.height):
            try:
                row = batch.row(i, named=True)
            except _ROW_ERRORS as exc:
                why = f"a value Python cannot hold ({type(exc).__name__}: {_first_line(exc)})"
                yield _unsupported(row_no + i + 1, why)
                continue
            yield _row_item(row_no + i + 1, row, limit, floats, seen)


def _row_item(
    row_no: int, row: dict[str, Any], limit: int, floats: bool, seen: Inspection
) -> ReadItem:
    """Row `row_no` (1-based) checked: found by `seen`, or as read."""
    if (found := seen.rows.get(row_no - 1)) is not None:
        return Rejection(
            position=row_no,
            reason=found.reason,
            detail=f"row {row_no}: {found.why}; the record is not written rather than altered",
        )
    for s in seen.suspects:
        if s.first < row_no <= s.end and (s.nulls or row.get(s.column) is not None):
            return Rejection(
                position=row_no,
                reason=s.reason,
                detail=f"row {row_no}: {s.why} ({s.rows()}); the record is not written "
                "rather than altered",
            )
    return _checked(row_no, row, limit, floats)


def _checked(row_no: int, row: dict[str, Any], limit: int, floats: bool = False) -> ReadItem:
    converted = CountingDefault()
    try:
        data = orjson.dumps(row, default=converted)
    except orjson.JSONEncodeError as exc:
        # The row's values are as stored (ones polars would alter never get here): rendered.
        why = value_problem(row) or unwritable_column(row, exc)
        return _unsupported(row_no, why, rendered_raw(row, limit))
    # orjson writes NaN and infinities as null: only a row with a null can hold one.
    if floats and b"null" in data and (why := value_problem(row)) is not None:
        return _unsupported(row_no, why, rendered_raw(row, limit))
    if len(data) > limit:
        return Rejection(
            position=row_no,
            reason="too_large",
            detail=f"row {row_no} is {len(data)} bytes as JSON, over the limit of "
            f"{limit} bytes (max_record_bytes)",
            raw=data[:RAW_PREFIX],
            raw_truncated=True,
            raw_size=len(data),
        )
    if converted.count:
        row = decimals_as_floats(row)  # as written
    return (row_no, row, data)  # the extract stage writes these bytes as they are


def _bad_row(row_no: int, reason: str, why: str) -> Rejection:
    return Rejection(
        position=row_no,
        reason=reason,
        detail=f"row {row_no}: {why}; the record is not written rather than altered",
    )


def _unsupported(row_no: int, why: str, raw: dict[str, Any] | None = None) -> Rejection:
    return Rejection(
        position=row_no,
        reason="unsupported_value",
        detail=f"row {row_no}: {why}; the record is not written rather than altered",
        **(raw or {}),
    )


def _corrupt_row(row: int, first: int, last: int, exc: BaseException) -> Rejection:
    return Rejection(
        position=row,
        reason="corrupt_file",
        detail=f"Parquet row {row} is in the damaged rows {first}-{last}, which cannot be "
        f"read (the rows after them are): {type(exc).__name__}: {_first_line(exc)}",
    )


def _corrupt(row_no: int, exc: BaseException) -> Rejection:
    return Rejection(
        position=row_no + 1,
        reason="corrupt_file",
        detail=f"Parquet file unreadable after row {row_no}: {type(exc).__name__}: "
        f"{_first_line(exc)}",
        unread_rest=True,  # without its footer, the rows after row_no cannot be found
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


class ParquetOptions(Options):
    batch_rows: int = Field(
        DEFAULT_BATCH_ROWS,
        description="rows per streamed batch (memory/speed trade-off; does not change output)",
    )

    @field_validator("batch_rows")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("parquet option batch_rows must be at least 1")
        return value


SPEC: Final = ReaderSpec(
    name="parquet",
    extensions=(".parquet", ".pq"),
    position_kind="row",
    read=read_parquet,
    options=ParquetOptions,
    doc="Apache Parquet, streamed in batches; compressed copies are decompressed to scratch.",
)
