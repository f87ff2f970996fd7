"""CSV and TSV: a header row, then one record per data row.

Position kind `row`: 1-based data row number (the header is row 0; blank lines are neither
counted nor yielded). Error details also name the physical line where the row starts.

The text is decoded incrementally (TextIOWrapper over the decompressed chunks, `newline=""`),
so quoted fields may span lines. Values stay strings (`empty_as_null` turns "" into null).
Options: `delimiter` (default: detected as csv.Sniffer does on the first 64 KiB among
`, \\t ; |`, its quoted-field guess on their first 4 KiB: `sniff_delimiter`; falling back
to `,`; TSV defaults to tab), `quotechar` (`"`), `encoding`
(`utf-8`; a UTF-8 BOM is dropped, as UTF-16/32 drop theirs), `empty_as_null` (false).
A gzip/zstd stream cut short (inside those first 64 KiB too: stream_head.py) keeps every row
that ended before the cut; the read then ends with `corrupt_file` at the next row.

Reason codes:
* `invalid_utf8` (`invalid_encoding` for other encodings): undecodable bytes are escaped
  (csv_text.py), so they are localised to the row holding them; that row is rejected with
  its exact bytes and reading goes on, also for a file cut inside a character. A codec that
  fails instead (the UTF-16/32 codecs on a file without a BOM) ends the file with
  `invalid_encoding` (`csv_bad_header` if the header was not read).
* `csv_field_count`: a row whose number of fields differs from the header's.
* `csv_unclosed_quote`: a quoted field still open at the end of the file (a stray quote
  would otherwise swallow every later line into one field, silently when the field count
  happens to match). The physical line where that row starts is rejected, and the lines after
  it are read again as rows; the same whatever `max_record_bytes`: a row too large to hold
  that the file ends inside is this too (csv_lines.py spills the lines after its first one).
* `csv_bad_quote`: a quoted field's closing quote followed by anything other than the
  delimiter, a second quote or the line end (`"a"x`, `"open, "b"`). The csv module's
  default dialect would keep the text after the quote and change the value (`"a"x` -> `ax`);
  the rows are read with `strict=True`, and such a row is rejected from its first physical
  line to the end of the line holding the stray text; reading goes on at the next line.
* `csv_bad_header`: duplicate column names (compared once the surrogate pairs a codec such as
  `unicode_escape` decodes as two code points are joined, as in every cell: surrogate_pairs.py),
  a header that is not valid text, or one too
  large to hold (position 0; the file is not read, as no row can be named).
* `too_large`: a field past `max_record_bytes` (csv.field_size_limit) or a physical line of
  more than `max_record_bytes` characters before its line end. The row is read to its end,
  following its quoting as the csv module does, without being held (csv_lines.py,
  csv_skip.py), and reading goes on at the next row; its first 1 KiB is the `raw`, and its
  `raw_size` the characters of the row without its final line end (as `raw` has none), so
  neither verdict nor size depends on the file's line ends (`\n`, `\r\n` or `\r`).
* `parse_error`: any other csv module error; ends the file.

The `raw` of a rejected row is the text of its physical lines as read (its final line end
dropped) turned back into the file's bytes (csv_text.py): undecodable bytes included, in the
file's byte order, without a BOM (a BOM before the header is not part of any row). That is
the row's bytes in the file for every codec that writes a text one way only (UTF-8/16/32,
the single-byte codecs); a codec that can write it in several ways (ISO-2022, UTF-7, cp932's
duplicate codes) gives the text's own encoding.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import Field, ValidationInfo, field_validator, model_validator

from jsonl_assets.core.options import Options
from jsonl_assets.core.readers.base import ReaderSpec, ReadItem
from jsonl_assets.core.readers.csv_lines import Lines, Overlong
from jsonl_assets.core.readers.csv_text import (
    ESCAPED,
    ESCAPES,
    EscapeCounter,
    codec_name,
    raw_codec,
    raw_reencoded,
    text_bytes,
)
from jsonl_assets.core.readers.jsonl import RAW_PREFIX
from jsonl_assets.core.readers.source_file import ChunkReader, SourceFile
from jsonl_assets.core.readers.stream_head import read_head
from jsonl_assets.core.readers.surrogate_pairs import join_cells
from jsonl_assets.core.traces import Rejection

if TYPE_CHECKING:
    from jsonl_assets.core.readers import ReadLimits

SNIFF_BYTES: Final = 64 * 1024
SNIFF_DELIMITERS: Final = ",\t;|"
SNIFF_QUOTED_CHARS: Final = 4096  # text csv.Sniffer's quadratic quote patterns are tried on
_FIELD_LIMIT: Final = "field larger than field limit"  # csv.Error for a field too large


@dataclass(frozen=True)
class _Format:
    dialect: tuple[str, str]  # delimiter, quotechar
    empty_as_null: bool
    limit: int
    encoding: str  # as named in details
    codec: str  # the text's bytes in the file (csv_text.raw_codec)
    reason_bad_text: str
    joins_pairs: bool  # the codec may decode a surrogate pair as two code points
    damaged: bool  # a member fails its check: every row is quarantined, with its bytes

    def raw(self, physical: list[str]) -> bytes:
        """A row's bytes as read: its physical lines, without the final line end."""
        text = "".join(physical).removesuffix("\n").removesuffix("\r")
        return text_bytes(text, self.codec)

    def prefix(self, text: str) -> bytes:
        """The first RAW_PREFIX bytes of `text` in the file."""
        return text_bytes(text[:RAW_PREFIX], self.codec)[:RAW_PREFIX]


def read_csv(
    source: SourceFile, options: Mapping[str, Any], limits: ReadLimits, scratch_dir: Path
) -> Iterator[ReadItem]:
    """Records and rejections of one CSV/TSV file, in row order."""
    encoding: str = options.get("encoding", "utf-8")
    # A stream cut inside the head raises after it: the rows before the cut are read.
    start = read_head(source.chunks(), SNIFF_BYTES)
    head = start.data
    delimiter: str | None = options.get("delimiter")
    if delimiter is None:
        delimiter = sniff_delimiter(head, encoding, cut=start.broken)
    py_encoding = _py_encoding(options)
    fmt = _Format(
        dialect=(delimiter, options.get("quotechar", '"')),
        empty_as_null=options.get("empty_as_null", False),
        limit=limits.max_record_bytes,
        encoding=py_encoding.removesuffix("-sig"),
        codec=raw_codec(py_encoding, head),
        reason_bad_text="invalid_utf8" if py_encoding == "utf-8-sig" else "invalid_encoding",
        joins_pairs=py_encoding != "utf-8-sig",
        damaged=bool(source.damage()),
    )
    raw = ChunkReader(start.stream())
    buffer = io.BufferedReader(raw, 1 << 16)
    text = io.TextIOWrapper(buffer, encoding=py_encoding, errors=ESCAPES, newline="")
    lines = Lines(text, fmt.limit, scratch_dir)
    previous_limit = csv.field_size_limit(fmt.limit)
    mark = raw_reencoded(fmt.codec)
    try:
        for item in _rows(lines, fmt, buffer):
            if mark and isinstance(item, Rejection) and item.raw is not None:
                item = replace(item, **mark)  # its raw is its text encoded again
            yield item
    finally:
        csv.field_size_limit(previous_limit)
        lines.close()
        raw.close()


def _py_encoding(options: Mapping[str, Any]) -> str:
    encoding: str = options.get("encoding", "utf-8")
    return "utf-8-sig" if encoding == "utf-8" else encoding


def _raw_mark(options: Mapping[str, Any]) -> dict[str, str]:
    """A row's raw (`_Format.raw`) is its text encoded again for some codecs."""
    return raw_reencoded(raw_codec(_py_encoding(options), b""))


def _rows(lines: Lines, fmt: _Format, buffer: io.BufferedReader) -> Iterator[ReadItem]:
    escapes_at_start = EscapeCounter.count
    check_text = False
    header: list[str] | None = None
    width = 0
    row_no = 0
    line_end = 0  # physical line where the previous row ended
    reader: Iterator[list[str]] | None = _reader(lines, fmt.dialect)
    try:
        while reader is not None:
            rows, reader = reader, None
            try:
                for row in rows:
                    line_start = line_end + 1
                    line_end = lines.count
                    physical, lines.row = lines.row, []
                    if not row or not physical:  # a blank line, or `END` alone: the end
                        continue
                    if not check_text and EscapeCounter.count != escapes_at_start:
                        check_text = True
                    if header is None:
                        header, problem = _header(row, check_text, fmt.joins_pairs)
                        if problem is not None:
                            yield _bad_header(line_start, problem, fmt.raw(physical))
                            return
                        width = len(header)
                        continue
                    row_no += 1
                    if check_text and any(map(ESCAPED.search, row)):
                        yield Rejection(
                            position=row_no,
                            reason=fmt.reason_bad_text,
                            detail=f"row {row_no} (line {line_start}) holds bytes that are not valid "
                            f"{fmt.encoding}",
                            raw=fmt.raw(physical),
                        )
                        continue
                    if fmt.joins_pairs:  # after the escape check: no escaped byte is joined
                        row = join_cells(row)
                    if len(row) != width:
                        yield Rejection(
                            position=row_no,
                            reason="csv_field_count",
                            detail=f"row {row_no} (line {line_start}) has {len(row)} fields, "
                            f"the header has {width}",
                            raw=fmt.raw(physical),
                        )
                        continue
                    # In a damaged file its bytes, for its corrupt_file entry (readers/__init__).
                    raw = fmt.raw(physical) if fmt.damaged else None
                    if fmt.empty_as_null:
                        values = [v if v else None for v in row]
                        yield (row_no, dict(zip(header, values, strict=True)), raw)
                    else:
                        yield (row_no, dict(zip(header, row, strict=True)), raw)
            except (Overlong, csv.Error) as exc:
                line_start = line_end + 1
                quoting = _quoting_problem(exc, lines.count, lines.end_line)
                if quoting is None:
                    if isinstance(exc, csv.Error) and _FIELD_LIMIT not in str(exc):
                        raise
                    # Too large to hold: the row is skipped by following its quoting.
                    if header is None:
                        yield _too_large_header(exc, lines, fmt, line_start)
                        return
                    row_no += 1
                    rejection, line_end = _skipped(exc, lines, fmt, row_no, line_start)
                    yield rejection
                    reader = _reader(lines, fmt.dialect)
                    continue
                # The row's lines so far (all of them when it is open at the end).
                physical, lines.row = lines.row, []
                if header is None:
                    yield _bad_header(
                        line_start, quoting[1], fmt.raw(physical[:1] if quoting[0] else physical)
                    )
                    return
                row_no += 1
                if quoting[0]:
                    yield _unclosed(row_no, line_start, quoting[1], fmt.raw(physical[:1]))
                    lines.again(physical[1:])
                    line_end = line_start
                else:
                    yield Rejection(
                        position=row_no,
                        reason="csv_bad_quote",
                        detail=f"row {row_no} (line {line_start}): {quoting[1]}; the row is "
                        f"rejected to the end of line {lines.count} and reading goes on",
                        raw=fmt.raw(physical),
                    )
                    line_end = lines.count
                reader = _reader(lines, fmt.dialect)
    except csv.Error as exc:
        yield Rejection(
            position=row_no + 1,
            reason="parse_error",
            detail=f"row {row_no + 1} (from line {line_end + 1}): {exc}; the rest of the file "
            "was not read",
            unread_rest=True,
        )
    except UnicodeError as exc:
        # A codec that fails instead of calling the error handler (csv_text.py escapes every
        # undecodable byte): the UTF-16/32 codecs on a file without a BOM, say.
        what = f"cannot decode as {fmt.encoding}: {exc}"
        if header is None:
            yield _bad_header(line_end + 1, what, None)
            return
        follows = isinstance(exc, UnicodeDecodeError) and exc.end < len(exc.object)
        yield Rejection(
            position=row_no + 1,
            reason="invalid_encoding",
            detail=f"row {row_no + 1} (from line {line_end + 1}): {what}; the rest of the file "
            "was not read",
            unread_rest=follows or buffer.peek(1) != b"",
        )


def _reader(lines: Lines, dialect: tuple[str, str]) -> Iterator[list[str]]:
    """csv.reader in strict mode: text after a closing quote and a quoted field open at the
    end of the input are errors (`_quoting_problem`), not values changed silently."""
    return csv.reader(lines, delimiter=dialect[0], quotechar=dialect[1], strict=True)


def _quoting_problem(exc: Exception, line: int, end_line: int) -> tuple[bool, str] | None:
    """(open at the end?, what) for the strict reader's quoting errors; None for others."""
    if not isinstance(exc, csv.Error):
        return None
    message = str(exc)
    if message == "unexpected end of data":
        return True, _open_at_end(end_line)
    if " expected after " in message:
        return False, (
            f"text follows a closing quote on line {line} ({message}): the csv module would "
            "have joined it to the field"
        )
    return None


def _open_at_end(line: int) -> str:
    return (
        f"a quoted field opened here is never closed: it is still open at the end of the "
        f"file (line {line})"
    )


def _unclosed(row_no: int, line_start: int, what: str, raw: bytes, **more: Any) -> Rejection:
    return Rejection(
        position=row_no,
        reason="csv_unclosed_quote",
        detail=f"row {row_no} (line {line_start}): {what}; this line is rejected and the lines "
        "after it are read as rows",
        raw=raw,
        **more,
    )


def _bad_header(line: int, problem: str, raw: bytes | None, **more: Any) -> Rejection:
    return Rejection(
        position=0,
        reason="csv_bad_header",
        detail=f"header row (line {line}): {problem}; the file was not read",
        raw=raw,
        **more,
    )


def _too_large_what(exc: Exception, limit: int) -> str:
    if isinstance(exc, Overlong):
        return f"a physical line is longer than {limit} characters (max_record_bytes)"
    return f"a field is longer than {limit} characters (max_record_bytes)"


def _held(exc: Exception, lines: Lines) -> list[str]:
    """The text of the row too large to hold that csv.reader has been given."""
    return [*lines.row, exc.line] if isinstance(exc, Overlong) else lines.row


def _too_large_header(exc: Exception, lines: Lines, fmt: _Format, line: int) -> Rejection:
    """A header too large to hold: no row can be named, the file is not read."""
    return _bad_header(
        line,
        _too_large_what(exc, fmt.limit),
        fmt.prefix("".join(_held(exc, lines))),
        raw_truncated=True,
    )


def _skipped(
    exc: Exception, lines: Lines, fmt: _Format, row_no: int, line_start: int
) -> tuple[Rejection, int]:
    """Row `row_no`, too large to hold, read to its end and dropped (csv_lines.py), and the
    line where reading goes on after it. When the file ends inside its quoted field, it is
    what csv.reader would have found had the row been small: an unclosed quote (the row's
    first line is rejected and the lines after it are read again as rows)."""
    held = _held(exc, lines)
    prefix = fmt.prefix("".join(held))
    skipped = lines.skip_row(held, fmt.dialect)
    if skipped.ended:
        return Rejection(
            position=row_no,
            reason="too_large",
            detail=f"row {row_no} (from line {line_start}): {_too_large_what(exc, fmt.limit)}; "
            f"skipped to its end (line {lines.count}); reading goes on",
            raw=prefix,
            raw_truncated=True,
            raw_size=skipped.size,
        ), lines.count
    what = _open_at_end(lines.end_line)
    lines.replay(skipped)
    if skipped.first_whole:
        return _unclosed(row_no, line_start, what, fmt.raw([skipped.first])), line_start
    return _unclosed(
        row_no,
        line_start,
        f"{what} (the line is longer than {fmt.limit} characters, max_record_bytes)",
        fmt.prefix(skipped.first),
        raw_truncated=True,
        raw_size=skipped.first_content,
    ), line_start


def _header(row: list[str], check_text: bool, joins_pairs: bool) -> tuple[list[str], str | None]:
    """The column names (surrogate pairs joined first: two names that differ only in how a
    character was escaped are one name) and what makes them no header, or None."""
    if check_text and any(map(ESCAPED.search, row)):
        return row, "column names hold undecodable bytes"
    names = join_cells(row) if joins_pairs else row
    seen: set[str] = set()
    duplicates = []
    for name in names:
        if name in seen:
            duplicates.append(name)
        seen.add(name)
    if duplicates:
        joined = " (surrogate pairs joined)" if names != row else ""
        return names, f"duplicate column names{joined} {sorted(set(duplicates))}"
    return names, None


def sniff_delimiter(head: bytes, encoding: str = "utf-8", cut: bool = False) -> str:
    """The delimiter among `, \\t ; |` that csv.Sniffer sees in the complete lines of `head`
    (`cut`: the stream broke after `head`, so its last line may be cut short too).

    As `csv.Sniffer.sniff` does: the delimiter next to quoted fields, else the one whose
    count per line is most regular. The first guess's patterns (`.*?` between quotes, tried
    from every quote) are quadratic in their text, seconds for 64 KiB of stray quotes: it
    looks at the lines in the first `SNIFF_QUOTED_CHARS` characters only; the second, linear,
    at the whole sample."""
    sample = head[:SNIFF_BYTES]
    if len(head) > SNIFF_BYTES or cut:
        cut = max(sample.rfind(b"\n"), sample.rfind(b"\r"))
        if cut > 0:
            sample = sample[:cut]
    text = sample.decode(encoding, errors="replace").lstrip("\ufeff")
    sniffer = csv.Sniffer()
    delimiter = sniffer._guess_quote_and_delimiter(_first_lines(text), SNIFF_DELIMITERS)[2]
    if not delimiter:
        delimiter = sniffer._guess_delimiter(text, SNIFF_DELIMITERS)[0]
    return delimiter or ","


def _first_lines(text: str) -> str:
    """The lines in the first `SNIFF_QUOTED_CHARS` characters of `text` (all of them when
    no line ends there)."""
    if len(text) <= SNIFF_QUOTED_CHARS:
        return text
    head = text[:SNIFF_QUOTED_CHARS]
    end = max(head.rfind("\n"), head.rfind("\r"))
    return head[:end] if end > 0 else head


class CsvOptions(Options):
    delimiter: str | None = Field(
        None, description="one character; null detects it among , TAB ; | from the first 64 KiB"
    )
    quotechar: str = Field('"', description="one character")
    encoding: str = Field("utf-8", description="a Python codec name; a UTF-8 BOM is dropped")
    empty_as_null: bool = Field(False, description="turn empty fields into null instead of ''")

    @field_validator("encoding")
    @classmethod
    def _codec(cls, value: str) -> str:
        return codec_name(value, "csv option")

    @field_validator("delimiter", "quotechar")
    @classmethod
    def _one_char(cls, value: str | None, info: ValidationInfo) -> str | None:
        # a field validator, so that the error names the option (a model validator's does not)
        if value is not None and (len(value) != 1 or value in "\r\n"):
            raise ValueError(
                f"csv option {info.field_name} must be one character other than a newline"
            )
        return value

    @model_validator(mode="after")
    def _check(self) -> CsvOptions:
        if self.delimiter is not None and self.delimiter == self.quotechar:
            raise ValueError("csv options delimiter and quotechar must differ")
        return self


class TsvOptions(CsvOptions):
    delimiter: str | None = Field("\t", description="one character; null detects it")


CSV_SPEC: Final = ReaderSpec(
    name="csv",
    extensions=(".csv",),
    position_kind="row",
    read=read_csv,
    options=CsvOptions,
    raw_mark=_raw_mark,
    doc="Comma-separated values with a header row; the delimiter is detected unless given.",
)

TSV_SPEC: Final = ReaderSpec(
    name="tsv",
    extensions=(".tsv", ".tab"),
    position_kind="row",
    read=read_csv,
    options=TsvOptions,
    raw_mark=_raw_mark,
    doc="Tab-separated values with a header row.",
)
