"""CSV and TSV: a header row, then one record per data row.

Position kind `row`: 1-based data row number (the header is row 0; blank lines are neither
counted nor yielded). Error details also name the physical line where the row starts.

The text is decoded incrementally (TextIOWrapper over the decompressed chunks, `newline=""`),
so quoted fields may span lines. Values stay strings (`empty_as_null` turns "" into null).
Options: `delimiter` (default: detected with csv.Sniffer on the first 64 KiB among
`, \\t ; |`, falling back to `,`; TSV defaults to tab), `quotechar` (`"`), `encoding`
(`utf-8`; a UTF-8 BOM is dropped), `empty_as_null` (false).

Reason codes:
* `invalid_utf8` (`invalid_encoding` for other encodings): undecodable bytes are decoded
  with `surrogateescape`, so they are localised to the row holding them; that row is rejected
  with its exact field bytes and reading goes on. Bytes an encoding cannot even escape end the
  file with `invalid_encoding`.
* `csv_field_count`: a row whose number of fields differs from the header's.
* `csv_unclosed_quote`: a quoted field still open at the end of the file (a stray quote
  would otherwise swallow every later line into one field, silently when the field count
  happens to match). The physical line where that row starts is rejected, and the lines after
  it are read again as rows.
* `csv_bad_quote`: a quoted field's closing quote followed by anything other than the
  delimiter, a second quote or the line end (`"a"x`, `"open, "b"`). The csv module's
  default dialect would keep the text after the quote and change the value (`"a"x` -> `ax`);
  the rows are read with `strict=True`, and such a row is rejected from its first physical
  line to the end of the line holding the stray text; reading goes on at the next line.
* `csv_bad_header`: duplicate column names or a header that is not valid text (position 0;
  the file is not read, as no row can be named).
* `too_large`: a field past `max_record_bytes` (csv.field_size_limit) or a physical line longer
  than `max_record_bytes` characters. The row is read to its end, following its quoting as
  the csv module does, without being held (csv_skip.py), and reading goes on at the next
  row; its first 1 KiB is the `raw`.
* `parse_error`: any other csv module error; ends the file.

The `raw` of a rejected row is the text of its physical lines as read (its final line end
dropped), encoded back with `surrogateescape`: the row's bytes in the file, undecodable ones
included (a UTF-8 BOM before the header is not part of it).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import Field, model_validator

from jsonl_assets.core.options import Options
from jsonl_assets.core.readers.base import ReaderSpec, ReadItem
from jsonl_assets.core.readers.csv_skip import skip_row
from jsonl_assets.core.readers.jsonl import RAW_PREFIX
from jsonl_assets.core.readers.source_file import ChunkReader, SourceFile
from jsonl_assets.core.traces import Rejection

if TYPE_CHECKING:
    from jsonl_assets.core.readers import ReadLimits

SNIFF_BYTES: Final = 64 * 1024
SNIFF_DELIMITERS: Final = ",\t;|"
_ERRORS: Final = "jsonl_assets.core.readers.csv_rows.escape"
_SURROGATE: Final = re.compile("[\udc80-\udcff]")
# The last line csv.reader is given: a lone high surrogate, which no decoding makes (the
# error handler makes \udc80-\udcff). A quoted field still open at the end takes it in.
_END: Final = "\ud800"


class _EscapeCounter:
    """Counts bytes escaped by the decoder error handler (process-wide, monotonic)."""

    count = 0


_surrogateescape = codecs.lookup_error("surrogateescape")


def _count_and_escape(exc: UnicodeError) -> tuple[str | bytes, int]:
    _EscapeCounter.count += 1
    return _surrogateescape(exc)


codecs.register_error(_ERRORS, _count_and_escape)


class _Overlong(Exception):
    def __init__(self, line: str) -> None:
        super().__init__("overlong physical line")
        self.line = line


def read_csv(
    source: SourceFile, options: Mapping[str, Any], limits: ReadLimits, scratch_dir: Path
) -> Iterator[ReadItem]:
    """Records and rejections of one CSV/TSV file, in row order."""
    encoding: str = options.get("encoding", "utf-8")
    quotechar: str = options.get("quotechar", '"')
    empty_as_null: bool = options.get("empty_as_null", False)
    limit = limits.max_record_bytes
    chunks = source.chunks()
    head = _head(chunks, SNIFF_BYTES)
    delimiter: str | None = options.get("delimiter")
    if delimiter is None:
        delimiter = sniff_delimiter(head, encoding)
    py_encoding = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    reason_bad_text = "invalid_utf8" if py_encoding == "utf-8-sig" else "invalid_encoding"
    raw = ChunkReader(itertools.chain((head,), chunks))
    text = io.TextIOWrapper(
        io.BufferedReader(raw, 1 << 16), encoding=py_encoding, errors=_ERRORS, newline=""
    )
    previous_limit = csv.field_size_limit(limit)
    try:
        yield from _rows(
            text, delimiter, quotechar, empty_as_null, limit, reason_bad_text, py_encoding
        )
    finally:
        csv.field_size_limit(previous_limit)
        raw.close()


def _rows(
    text: io.TextIOWrapper,
    delimiter: str,
    quotechar: str,
    empty_as_null: bool,
    limit: int,
    reason_bad_text: str,
    encoding: str,
) -> Iterator[ReadItem]:
    escapes_at_start = _EscapeCounter.count
    check_text = False
    lines = _Lines(text, limit)
    dialect = (delimiter, quotechar)
    header: list[str] | None = None
    width = 0
    row_no = 0
    line_end = 0  # physical line where the previous row ended
    reader: Iterator[list[str]] | None = _reader(lines, dialect)
    try:
        while reader is not None:
            rows, reader = reader, None
            try:
                for row in rows:
                    line_start = line_end + 1
                    line_end = lines.count
                    physical, lines.row = lines.row, []
                    if not row or not physical:  # a blank line, or `_END` alone: the end
                        continue
                    if not check_text and _EscapeCounter.count != escapes_at_start:
                        check_text = True
                    if header is None:
                        problem = _header_problem(row, check_text)
                        if problem is not None:
                            yield Rejection(
                                position=0,
                                reason="csv_bad_header",
                                detail=f"header row (line {line_start}): {problem}; the file was "
                                "not read",
                                raw=_row_bytes(physical, encoding),
                            )
                            return
                        header = row
                        width = len(header)
                        continue
                    row_no += 1
                    if check_text and any(map(_SURROGATE.search, row)):
                        yield Rejection(
                            position=row_no,
                            reason=reason_bad_text,
                            detail=f"row {row_no} (line {line_start}) holds bytes that are not valid "
                            f"{encoding.removesuffix('-sig')}",
                            raw=_row_bytes(physical, encoding),
                        )
                        continue
                    if len(row) != width:
                        yield Rejection(
                            position=row_no,
                            reason="csv_field_count",
                            detail=f"row {row_no} (line {line_start}) has {len(row)} fields, "
                            f"the header has {width}",
                            raw=_row_bytes(physical, encoding),
                        )
                        continue
                    if empty_as_null:
                        yield (
                            row_no,
                            dict(zip(header, [v if v else None for v in row], strict=True)),
                            None,
                        )
                    else:
                        yield (row_no, dict(zip(header, row, strict=True)), None)
            except (_Overlong, csv.Error) as exc:
                line_start = line_end + 1
                quoting = _quoting_problem(exc, lines.count)
                if quoting is not None:
                    # The row's lines so far (all of them when it is open at the end).
                    physical, lines.row = lines.row, []
                    if header is None:
                        yield Rejection(
                            position=0,
                            reason="csv_bad_header",
                            detail=f"header row (line {line_start}): {quoting[1]}; the file was "
                            "not read",
                            raw=_row_bytes(physical[:1] if quoting[0] else physical, encoding),
                        )
                        return
                    row_no += 1
                    if quoting[0]:
                        yield Rejection(
                            position=row_no,
                            reason="csv_unclosed_quote",
                            detail=f"row {row_no} (line {line_start}): {quoting[1]}; this line "
                            "is rejected and the lines after it are read as rows",
                            raw=_row_bytes(physical[:1], encoding),
                        )
                        lines.again(physical[1:])
                        line_end = line_start
                    else:
                        yield Rejection(
                            position=row_no,
                            reason="csv_bad_quote",
                            detail=f"row {row_no} (line {line_start}): {quoting[1]}; the row is "
                            f"rejected to the end of line {lines.count} and reading goes on",
                            raw=_row_bytes(physical, encoding),
                        )
                        line_end = lines.count
                    reader = _reader(lines, dialect)
                    continue
                if isinstance(exc, csv.Error) and "field larger than field limit" not in str(exc):
                    raise
                # Too large to hold: the row is skipped by following its quoting, and
                # reading goes on at the next row.
                row_no += 1
                yield _skipped(exc, lines, dialect, limit, row_no, line_start, encoding)
                line_end = lines.count
                reader = _reader(lines, dialect)
    except csv.Error as exc:
        yield Rejection(
            position=row_no + 1,
            reason="parse_error",
            detail=f"row {row_no + 1} (from line {line_end + 1}): {exc}; the rest of the file "
            "was not read",
            unread_rest=True,
        )
    except UnicodeDecodeError as exc:
        yield Rejection(
            position=row_no + 1,
            reason="invalid_encoding",
            detail=f"row {row_no + 1} (from line {line_end + 1}): cannot decode as "
            f"{encoding}: {exc.reason}; the rest of the file was not read",
            unread_rest=True,
        )


def _reader(lines: _Lines, dialect: tuple[str, str]) -> Iterator[list[str]]:
    """csv.reader in strict mode: text after a closing quote and a quoted field open at the
    end of the input are errors (`_quoting_problem`), not values changed silently."""
    return csv.reader(lines, delimiter=dialect[0], quotechar=dialect[1], strict=True)


def _quoting_problem(exc: Exception, line: int) -> tuple[bool, str] | None:
    """(open at the end?, what) for the strict reader's quoting errors; None for others."""
    if not isinstance(exc, csv.Error):
        return None
    message = str(exc)
    if message == "unexpected end of data":
        return True, (
            f"a quoted field opened here is never closed: it is still open at the end of the "
            f"file (line {line})"
        )
    if " expected after " in message:
        return False, (
            f"text follows a closing quote on line {line} ({message}): the csv module would "
            "have joined it to the field"
        )
    return None


def _skipped(
    exc: Exception,
    lines: _Lines,
    dialect: tuple[str, str],
    limit: int,
    row_no: int,
    line_start: int,
    encoding: str,
) -> Rejection:
    """Row `row_no`, too large to hold, read to its end and dropped (csv_skip.py)."""
    held = lines.row
    if isinstance(exc, _Overlong):
        held = [*held, exc.line]
        what = f"a physical line is longer than {limit} characters"
    else:
        what = f"a field is longer than {limit} characters"
    prefix = "".join(held)[:RAW_PREFIX]
    ended, rest = lines.skip_row(held, dialect)
    size = sum(map(len, held)) + rest
    then = (
        f"skipped to its end (line {lines.count}); reading goes on"
        if ended
        else f"the file ends inside its quoted field (line {lines.count}): a stray quote?"
    )
    return Rejection(
        position=row_no,
        reason="too_large",
        detail=f"row {row_no} (from line {line_start}): {what} (max_record_bytes); {then}",
        raw=prefix.encode(encoding.removesuffix("-sig"), "surrogateescape"),
        raw_truncated=True,
        raw_size=size,
    )


class _Lines:
    """csv.reader's physical lines (newline kept, never longer than `limit` characters in
    memory), counted; the lines of the row being read are kept in `row` until the caller takes
    them. The input ends with a line holding only `_END`; `again(lines)` hands `lines` out once
    more (the input has ended: a quoted field was open there), then `_END` again."""

    def __init__(self, text: io.TextIOWrapper, limit: int) -> None:
        self._readline = text.readline
        self._limit = limit
        self._again: list[str] = []  # last first
        self._ended = False
        self.row: list[str] = []
        self.count = 0  # physical lines handed out, `_END` not counted

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._again:
            line = self._again.pop()
        else:
            line = self._readline(self._limit + 1)
            if not line:
                if self._ended:
                    raise StopIteration
                self._ended = True
                return _END
            if len(line) > self._limit:
                raise _Overlong(line)
        self.count += 1
        self.row.append(line)
        return line

    def skip_row(self, held: list[str], dialect: tuple[str, str]) -> tuple[bool, int]:
        """Read to the end of the row whose text so far is `held` (csv_skip.py), dropping
        what is read; returns whether the row ended and how many characters were dropped.
        A line read in several pieces counts once; the row's lines are let go."""
        dropped = 0
        partial = bool(held) and not held[-1].endswith(("\n", "\r"))  # an overlong line

        def piece() -> str:
            nonlocal dropped, partial
            text = self._again.pop() if self._again else self._readline(self._limit + 1)
            dropped += len(text)
            if text and not partial:
                self.count += 1  # a new physical line starts
            partial = bool(text) and not text.endswith(("\n", "\r"))
            return text

        if partial:
            self.count += 1  # the overlong line, never handed out whole
        _, ended = skip_row(held, piece, *dialect)
        self.row = []
        return ended, dropped

    def again(self, lines: list[str]) -> None:
        self._again = lines[::-1]
        self.count -= len(lines)
        self._ended = False


def _row_bytes(physical: list[str], encoding: str) -> bytes:
    """The row's bytes as read: its physical lines, without the final line end."""
    text = "".join(physical).removesuffix("\n").removesuffix("\r")
    return text.encode(encoding.removesuffix("-sig"), "surrogateescape")


def _header_problem(row: list[str], check_text: bool) -> str | None:
    if check_text and any(map(_SURROGATE.search, row)):
        return "column names hold undecodable bytes"
    seen: set[str] = set()
    duplicates = []
    for name in row:
        if name in seen:
            duplicates.append(name)
        seen.add(name)
    if duplicates:
        return f"duplicate column names {sorted(set(duplicates))}"
    return None


def _head(chunks: Iterator[bytes], size: int) -> bytes:
    """At least `size` bytes from the front of the stream (all of it if shorter)."""
    parts: list[bytes] = []
    got = 0
    while got < size:
        chunk = next(chunks, None)
        if chunk is None:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def sniff_delimiter(head: bytes, encoding: str = "utf-8") -> str:
    """The delimiter among `, \\t ; |` that csv.Sniffer sees in the complete lines of `head`."""
    sample = head[:SNIFF_BYTES]
    if len(head) > SNIFF_BYTES:
        cut = max(sample.rfind(b"\n"), sample.rfind(b"\r"))
        if cut > 0:
            sample = sample[:cut]
    text = sample.decode(encoding, errors="replace").lstrip("\ufeff")
    try:
        return csv.Sniffer().sniff(text, delimiters=SNIFF_DELIMITERS).delimiter
    except csv.Error:
        return ","


class CsvOptions(Options):
    delimiter: str | None = Field(
        None, description="one character; null detects it among , TAB ; | from the first 64 KiB"
    )
    quotechar: str = Field('"', description="one character")
    encoding: str = Field("utf-8", description="a Python codec name; a UTF-8 BOM is dropped")
    empty_as_null: bool = Field(False, description="turn empty fields into null instead of ''")

    @model_validator(mode="after")
    def _check(self) -> CsvOptions:
        for name in ("delimiter", "quotechar"):
            value = getattr(self, name)
            if value is not None and (len(value) != 1 or value in "\r\n"):
                raise ValueError(f"csv option {name} must be one character other than a newline")
        if self.delimiter is not None and self.delimiter == self.quotechar:
            raise ValueError("csv options delimiter and quotechar must differ")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(f"csv option encoding: unknown codec {self.encoding!r}") from None
        return self


class TsvOptions(CsvOptions):
    delimiter: str | None = Field("\t", description="one character; null detects it")


CSV_SPEC: Final = ReaderSpec(
    name="csv",
    extensions=(".csv",),
    position_kind="row",
    read=read_csv,
    options=CsvOptions,
    doc="Comma-separated values with a header row; the delimiter is detected unless given.",
)

TSV_SPEC: Final = ReaderSpec(
    name="tsv",
    extensions=(".tsv", ".tab"),
    position_kind="row",
    read=read_csv,
    options=TsvOptions,
    doc="Tab-separated values with a header row.",
)
