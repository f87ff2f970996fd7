from __future__ import annotations

import codecs
import csv
import gzip
import io
import tempfile
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
from jsonl_assets.core.readers.csv_rows import sniff_delimiter
from jsonl_assets.core.traces import Rejection

LYING_NAME = {"none": "data.csv.gz", "gzip": "data.csv.zst", "zstd": "data.csv"}


def compress(data: bytes, codec: str) -> bytes:
    if codec == "gzip":
        return gzip.compress(data, mtime=0, compresslevel=1)
    if codec == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def read(
    tmp_path: Path,
    data: bytes,
    codec: str = "none",
    options: dict[str, Any] | None = None,
    fmt: str = "csv",
    limit: int = 16 << 20,
) -> list[Any]:
    path = tmp_path / LYING_NAME[codec]
    path.write_bytes(compress(data, codec))
    source = SourceFile(path, path.name)
    return list(read_source(source, fmt, options or {}, ReadLimits(limit), tmp_path))


def reasons(items: list[Any]) -> list[tuple[int, str]]:
    return [(i.position, i.reason) for i in items if isinstance(i, Rejection)]


ROWS = [[str(i), f"name {i}", f"ça {i}\nsecond line", ""] for i in range(5000)]


def csv_bytes(
    rows: list[list[str]], delimiter: str = ",", header: list[str] | None = None
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header or ["id", "name", "note", "empty"])
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@pytest.mark.parametrize("codec", ["none", "gzip", "zstd"])
def test_quoted_multiline_unicode_empty_fields_every_codec(tmp_path: Path, codec: str) -> None:
    items = read(tmp_path, csv_bytes(ROWS), codec)
    assert len(items) == len(ROWS)
    assert items[3] == (
        4,
        {"id": "3", "name": "name 3", "note": "ça 3\nsecond line", "empty": ""},
        None,
    )
    assert [i[0] for i in items] == list(range(1, len(ROWS) + 1))


@pytest.mark.parametrize("delimiter", [";", "|", "\t", ","])
def test_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    data = csv_bytes(ROWS[:50], delimiter)
    assert sniff_delimiter(data) == delimiter
    items = read(tmp_path, data)
    assert items[0][1] == {"id": "0", "name": "name 0", "note": "ça 0\nsecond line", "empty": ""}


def test_sniffing_looks_at_complete_lines_only(tmp_path: Path) -> None:
    rows = [[str(i), "x" * 50] for i in range(3000)]  # > 64 KiB
    data = csv_bytes(rows, ";", header=["a", "b"])
    assert len(data) > 64 * 1024
    items = read(tmp_path, data)
    assert len(items) == 3000 and items[-1] == (3000, {"a": "2999", "b": "x" * 50}, None)


# 64 KiB heads on which csv.Sniffer's quote patterns (`.*?` tried from every quote) took
# 7 s to minutes: the quote guess looks at the first lines only, the count guess at them all.
STRAY_QUOTE_HEADS = {
    "x,quote-a lines": b"prompt,response\n" + b'x,"a\n' * 13_000,
    "comma-quote-a, one line": b"prompt,response\n" + b',"a' * 21_000,
    "quote lines": b"prompt,response\n" + b'"\n' * 32_000,
    "apostrophe lines": b"prompt;response\n" + b"p;r\n" * 5 + b"'\n" * 32_000,
    "comma runs after a quoted field": b'a,"b",c\n' + b", " * 32_000,
}


@pytest.mark.parametrize("name", STRAY_QUOTE_HEADS)
def test_sniffing_stray_quotes_is_not_quadratic(tmp_path: Path, name: str) -> None:
    data = STRAY_QUOTE_HEADS[name]
    assert sniff_delimiter(data) == ","  # the quote guess finds none, the count guess `,`


def test_a_file_of_stray_quotes_is_read_with_the_detected_delimiter(tmp_path: Path) -> None:
    data = b"prompt,response\n" + b"p,r\n" * 5 + b'x,"a\n' * 13_000
    items = read(tmp_path, data)
    assert items[:5] == [(i, {"prompt": "p", "response": "r"}, None) for i in range(1, 6)]
    # Each stray quote is closed by the next line's, followed by `a`: two lines per row.
    assert reasons(items[5:]) == [(i, "csv_bad_quote") for i in range(6, 6_506)]
    assert items[5].raw == b'x,"a\nx,"a'


def test_the_count_guess_still_sees_the_whole_sample(tmp_path: Path) -> None:
    """No quoted field to go by: the delimiter whose count per line is regular, over the
    lines past the first 4 KiB too (as csv.Sniffer over the sample)."""
    data = b"a|b;c\n" * 1000 + b"a|b;c;d\n" * 1000
    assert sniff_delimiter(data) == csv.Sniffer().sniff(data.decode(), ",\t;|").delimiter

    quoted = csv_bytes(ROWS[:200], ";")  # the quoted fields in its first lines decide
    assert sniff_delimiter(quoted) == ";"


def test_tsv_defaults_to_tab_and_options_override(tmp_path: Path) -> None:
    data = b"a\tb\n1\t\n"
    assert read(tmp_path, data, fmt="tsv") == [(1, {"a": "1", "b": ""}, None)]
    assert read(tmp_path, data, fmt="tsv", options={"empty_as_null": True}) == [
        (1, {"a": "1", "b": None}, None)
    ]
    assert read(tmp_path, b"a,b\n'x,y',2\n", options={"quotechar": "'", "delimiter": ","}) == [
        (1, {"a": "x,y", "b": "2"}, None)
    ]


def test_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    data = b'\xef\xbb\xbfid,text\r\n\r\n1,one\r\n\r\n2,"two\r\nlines"\r\n3,three'
    items = read(tmp_path, data)
    assert items == [
        (1, {"id": "1", "text": "one"}, None),
        (2, {"id": "2", "text": "two\r\nlines"}, None),
        (3, {"id": "3", "text": "three"}, None),
    ]


def test_wrong_field_count_is_rejected_with_line(tmp_path: Path) -> None:
    data = b'a,b\n1,2\n3\n4,5,6\n"multi\nline",7\n8,9,10\n'
    items = read(tmp_path, data)
    assert reasons(items) == [
        (2, "csv_field_count"),
        (3, "csv_field_count"),
        (5, "csv_field_count"),
    ]
    assert "(line 3)" in items[1].detail and "1 fields, the header has 2" in items[1].detail
    assert "(line 7)" in items[4].detail
    assert items[2].raw == b"4,5,6"
    assert [i[0] for i in items if type(i) is tuple] == [1, 4]


def test_invalid_utf8_is_localised_to_its_row(tmp_path: Path) -> None:
    data = b"a,b\n1,fine\n2,caf\xe9\n3,\xc3\xa9t\xc3\xa9\n"
    items = read(tmp_path, data)
    assert reasons(items) == [(2, "invalid_utf8")]
    assert items[1].raw == b"2,caf\xe9"
    assert "(line 3)" in items[1].detail
    assert items[2] == (3, {"a": "3", "b": "été"}, None)


def test_other_encodings(tmp_path: Path) -> None:
    data = "a,b\n1,café\n".encode("latin-1")
    assert read(tmp_path, data, options={"encoding": "latin-1"}) == [
        (1, {"a": "1", "b": "café"}, None)
    ]


def test_bad_header_rejects_the_file(tmp_path: Path) -> None:
    items = read(tmp_path, b"a,b,a\n1,2,3\n")
    assert reasons(items) == [(0, "csv_bad_header")]
    assert "duplicate column names ['a']" in items[0].detail


def test_a_quoted_field_over_the_limit_is_skipped_and_the_rows_after_it_are_read(
    tmp_path: Path,
) -> None:
    big = b"z" * 5000
    data = b'a,b\n1,ok\n2,"' + big + b"\n" + big + b'"\n3,after\n'
    items = read(tmp_path, data, limit=4096)
    assert items[0] == (1, {"a": "1", "b": "ok"}, None)
    assert reasons(items) == [(2, "too_large")]
    assert (
        "row 2 (from line 3)" in items[1].detail
        and "skipped to its end (line 4)" in items[1].detail
    )
    assert items[1].raw == (b'2,"' + big)[:1024] and items[1].raw_size == 10005
    assert items[2] == (3, {"a": "3", "b": "after"}, None)


def test_a_field_over_the_limit_on_short_lines_is_skipped_by_its_quoting(tmp_path: Path) -> None:
    """Each line is short, the field is not: a delimiter, a doubled quote and a quote that
    closes nothing inside it do not end the row; the row after it is read."""
    lines = [b'x,"y\n'] + [b'part, ""quoted"", more\n'] * 400 + [b'end",tail\n']
    data = b"a,b\n1,ok\n2," + b"".join(lines) + b"3,after\n4,last\n"
    items = read(tmp_path, data, limit=4096)
    assert reasons(items) == [(2, "too_large")]
    assert "a field is longer than 4096" in items[1].detail
    assert "skipped to its end (line 404)" in items[1].detail
    assert items[2:] == [(3, {"a": "3", "b": "after"}, None), (4, {"a": "4", "b": "last"}, None)]


def test_overlong_physical_line_is_skipped_and_the_rows_after_it_are_read(tmp_path: Path) -> None:
    data = b"a,b\n1,ok\n" + b"2," + b"y" * 100_000 + b"\r\n3,after\n" + b"4," + b"w" * 9000
    items = read(tmp_path, data, limit=5000)
    assert items[0] == (1, {"a": "1", "b": "ok"}, None)
    assert reasons(items) == [(2, "too_large"), (4, "too_large")]
    assert items[1].raw == (b"2," + b"y" * 2000)[:1024] and items[1].raw_truncated
    assert items[1].raw_size == 100_002 and "(line 3)" in items[1].detail
    assert items[2] == (3, {"a": "3", "b": "after"}, None)
    assert items[3].raw_size == 9002 and "(line 5)" in items[3].detail


def test_a_stray_quote_before_an_overlong_rest_is_an_unclosed_quote(tmp_path: Path) -> None:
    """A row too large to hold whose quoted field the file ends in is what a small row would
    be: its first line rejected as csv_unclosed_quote, the lines after it read again as rows
    (not one too_large row for the rest of the file)."""
    data = b'a,b\n1,ok\n2,"open\n' + b"".join(b"%d,%s\n" % (i, b"y" * 3000) for i in range(3, 8))
    small, big = read(tmp_path, data, limit=4096), read(tmp_path, data, limit=1 << 20)
    assert small == big
    assert reasons(small) == [(2, "csv_unclosed_quote")] and small[1].raw == b'2,"open'
    assert not small[1].unread_rest and "end of the file (line 8)" in small[1].detail
    assert records(small)[1:] == [{"a": str(i), "b": "y" * 3000} for i in range(3, 8)]


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_truncated_stream_keeps_rows_before_damage(tmp_path: Path, codec: str) -> None:
    rows = [[str(i), f"name {i}", f"note {i}", ""] for i in range(60_000)]
    stored = compress(csv_bytes(rows), codec)
    path = tmp_path / "cut.csv"
    path.write_bytes(stored[: len(stored) // 2])
    items = list(read_source(SourceFile(path, "cut.csv"), "csv", {}, ReadLimits(), tmp_path))
    good = [i for i in items if type(i) is tuple]
    assert len(good) > 10_000
    assert [g[1]["id"] for g in good] == [str(i) for i in range(len(good))]
    last = items[-1]
    assert isinstance(last, Rejection) and last.reason == "corrupt_file"
    assert last.position == len(good) + 1
    assert last.detail.startswith(f"{codec} stream damaged")


def test_header_only_file_yields_nothing(tmp_path: Path) -> None:
    assert read(tmp_path, b"a,b\n") == []


# --- a quoted field still open at the end of the file ----------------------------------------


def records(items: list[Any]) -> list[dict[str, Any]]:
    return [i[1] for i in items if type(i) is tuple]


def test_a_stray_quote_never_merges_the_rows_after_it_into_one_field(tmp_path: Path) -> None:
    # The field count matches: without the check, rows 2 and 3 would silently become part of
    # row 1's last field.
    data = b'instruction,input,output\nq1,,"a1 with a stray quote\nq2,,a2\r\nq3,,a3'
    items = read(tmp_path, data)
    assert reasons(items) == [(1, "csv_unclosed_quote")]
    bad = items[0]
    assert bad.raw == b'q1,,"a1 with a stray quote'
    assert "(line 2)" in bad.detail and "end of the file (line 4)" in bad.detail
    assert items[1:] == [
        (2, {"instruction": "q2", "input": "", "output": "a2"}, None),
        (3, {"instruction": "q3", "input": "", "output": "a3"}, None),
    ]


def test_rows_after_an_unclosed_quote_keep_their_numbers_and_checks(tmp_path: Path) -> None:
    data = b'a,b\n1,"multi\nline"\n"2,open\n3,x\n4,y,extra\n5,z\n'
    items = read(tmp_path, data)
    assert reasons(items) == [(2, "csv_unclosed_quote"), (4, "csv_field_count")]
    assert "(line 4)" in items[1].detail
    assert "(line 6)" in items[3].detail
    assert records(items) == [
        {"a": "1", "b": "multi\nline"},
        {"a": "3", "b": "x"},
        {"a": "5", "b": "z"},
    ]


def test_an_unclosed_quote_in_a_one_column_file(tmp_path: Path) -> None:
    items = read(tmp_path, b'text\n"hello\nworld\nagain', fmt="csv", options={"delimiter": ","})
    assert reasons(items) == [(1, "csv_unclosed_quote")]
    assert records(items) == [{"text": "world"}, {"text": "again"}]


def test_an_unclosed_quote_in_the_header_rejects_the_file(tmp_path: Path) -> None:
    items = read(tmp_path, b'"a,b\n1,2\n')
    assert reasons(items) == [(0, "csv_bad_header")]
    assert "never closed" in items[0].detail and items[0].raw == b'"a,b'


_CELL = st.text(alphabet='ab ,"\n\r', max_size=6)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(_CELL, min_size=1, max_size=3), min_size=1, max_size=8))
def test_rows_are_the_csv_modules_unless_a_quote_is_left_open(cells: list[list[str]]) -> None:
    """Any text: without a quoted field open at the end, each item is the strict csv module's
    row (a record, or a field-count reject) or error (a `csv_bad_quote` reject holding the
    row's lines as they are in the file); with one, the reject is a physical line holding a
    quote. Rows are numbered 1, 2, ... either way."""
    text = "h1,h2\n" + "\n".join(",".join(row) for row in cells)
    with tempfile.TemporaryDirectory() as tmp:
        items = read(Path(tmp), text.encode(), options={"delimiter": ","})
    theirs = _strict_rows(text)[1:]  # after the header
    unclosed = [i for i in items if isinstance(i, Rejection) and i.reason == "csv_unclosed_quote"]
    if not unclosed:
        assert len(items) == len(theirs)
        for item, row in zip(items, theirs, strict=True):
            if row is None:
                assert isinstance(item, Rejection) and item.reason == "csv_bad_quote"
                assert item.raw in text.encode()
            elif isinstance(item, Rejection):
                assert item.reason == "csv_field_count" and len(row) != 2
                assert item.raw in text.encode()
            else:
                assert list(item[1].values()) == row
    lines = text.encode().splitlines()
    for reject in unclosed:
        assert b'"' in reject.raw and reject.raw in lines
    positions = [i.position if isinstance(i, Rejection) else i[0] for i in items]
    assert positions == list(range(1, len(items) + 1))


def _strict_rows(text: str) -> list[list[str] | None]:
    """The strict csv module's non-blank rows, None for a row with text after a closing
    quote; up to a quoted field open at the end."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    out: list[list[str] | None] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return out
        except csv.Error as exc:
            if " expected after " not in str(exc):
                return out
            out.append(None)
            continue
        if row:
            out.append(row)


# --- text after a closing quote ---------------------------------------------------------------


def test_text_after_a_closing_quote_is_rejected_with_the_rows_bytes(tmp_path: Path) -> None:
    """The csv module's default dialect keeps the text after a closing quote and changes the
    value (`"r6"x` -> `r6x`, `"unclosed, "c"` -> `unclosed, c"`); such rows are rejected with
    their bytes and line, and the rows after them are read."""
    data = (
        b'prompt,response\np1,r1\n"p6","r6"x\n"too","many","fields"\n'
        b'"unclosed, "c","r"\r\n"a"b,"multi\nline"\np7,r7\n'
    )
    items = read(tmp_path, data)
    assert reasons(items) == [
        (2, "csv_bad_quote"),
        (3, "csv_field_count"),
        (4, "csv_bad_quote"),
        (5, "csv_bad_quote"),
        (6, "csv_field_count"),
    ]
    assert [i.raw for i in items if isinstance(i, Rejection)] == [
        b'"p6","r6"x',
        b'"too","many","fields"',
        b'"unclosed, "c","r"',
        b'"a"b,"multi',
        b'line"',
    ]
    assert "row 2 (line 3)" in items[1].detail and "end of line 3" in items[1].detail
    assert "row 4 (line 5)" in items[3].detail
    assert records(items) == [
        {"prompt": "p1", "response": "r1"},
        {"prompt": "p7", "response": "r7"},
    ]


def test_a_multiline_row_with_text_after_a_quote_keeps_all_its_lines(tmp_path: Path) -> None:
    data = b'a,b\n1,"two\nlines"x\n2,ok\n'
    items = read(tmp_path, data)
    assert reasons(items) == [(1, "csv_bad_quote")]
    assert items[0].raw == b'1,"two\nlines"x' and "row 1 (line 2)" in items[0].detail
    assert items[1] == (2, {"a": "2", "b": "ok"}, None)


def test_text_after_a_quote_in_the_header_rejects_the_file(tmp_path: Path) -> None:
    items = read(tmp_path, b'"a"x,b\n1,2\n')
    assert reasons(items) == [(0, "csv_bad_header")] and items[0].raw == b'"a"x,b'


def test_rejected_rows_keep_their_bytes_not_a_reserialisation(tmp_path: Path) -> None:
    data = b'a;b\n"1";"x""y";"z"\n2;caf\xe9\n'
    items = read(tmp_path, data, options={"delimiter": ";"})
    assert reasons(items) == [(1, "csv_field_count"), (2, "invalid_utf8")]
    assert items[0].raw == b'"1";"x""y";"z"' and items[1].raw == b"2;caf\xe9"


# --- rows too large to hold: the same rows whatever the limit ---------------------------------


def test_a_stray_quote_in_a_row_too_large_keeps_the_rows_after_it(tmp_path: Path) -> None:
    """The review's case: 198 short rows after a stray quote, limit 1 KiB; then more than
    SPILL_IN_MEMORY characters after the stray quote (spilled to the scratch folder)."""
    rows = [b"id,text", b'1,"hello'] + [
        b"%d,row number %d %s" % (i, i, b"x" * 20) for i in range(2, 200)
    ]
    data = b"\n".join(rows) + b"\n"
    small, big = read(tmp_path, data, limit=1024), read(tmp_path, data, limit=1 << 20)
    assert small == big and reasons(small) == [(1, "csv_unclosed_quote")]
    assert len(records(small)) == 198 and not small[0].leaves_unread
    tail = b"".join(b'%d,%s""\r\n' % (i, b"z" * 100) for i in range(3, 12_000))
    data = b'a,b\n1,ok\n2,"open\r\n' + tail
    items = read(tmp_path, data, limit=4096)
    assert items == read(tmp_path, data, limit=4 << 20)
    assert reasons(items) == [(2, "csv_unclosed_quote")] and items[1].raw == b'2,"open'
    assert "(line 3)" in items[1].detail and "end of the file (line 12000)" in items[1].detail
    assert len(records(items)) == 1 + 11_997
    assert items[-1] == (11_999, {"a": "11999", "b": "z" * 100 + '""'}, None)
    assert [p.name for p in tmp_path.iterdir()] == ["data.csv.gz"]  # no spill left


def test_a_stray_quote_on_an_overlong_line_keeps_a_prefix_of_that_line(tmp_path: Path) -> None:
    data = b'a,b\n1,"' + b"q" * 5000 + b"\r\n2,after\n"
    items = read(tmp_path, data, limit=4096)
    assert reasons(items) == [(1, "csv_unclosed_quote")]
    assert items[0].raw == (b'1,"' + b"q" * 5000)[:1024] and items[0].raw_truncated
    assert items[0].raw_size == 5003 and "longer than 4096 characters" in items[0].detail
    assert items[1] == (2, {"a": "2", "b": "after"}, None)


def test_a_header_too_large_to_hold_rejects_the_file(tmp_path: Path) -> None:
    """The header is never skipped like a row: the first data row would become the header."""
    header = b",".join(b"column_%03d" % i for i in range(100))
    for data in (
        header + b"\n" + header.replace(b"column", b"v") + b"\n",
        b'a,"b' + b"\nline" * 600 + b'"\n1,2\n',
    ):
        items = read(tmp_path, data, limit=1024)
        assert reasons(items) == [(0, "csv_bad_header")] and len(items) == 1
        assert items[0].leaves_unread and items[0].raw_truncated and items[0].raw == data[:1024]
        assert "header row (line 1)" in items[0].detail and "(max_record_bytes)" in items[0].detail


def test_a_line_of_exactly_the_limit_is_not_too_large_and_line_numbers_stay_right(
    tmp_path: Path,
) -> None:
    """At most `limit` characters before the line end fit; an overlong line ending in `\\n`
    or cut between its `\\r` and `\\n` counts once."""
    data = (
        b"a,b\n1," + b"x" * 8 + b"\n"  # 10 characters: fits
        b"2," + b"y" * 9 + b"\n"  # 11 + \n: read whole, too large
        b"3," + b"y" * 9 + b"\r\n"  # 11 + \r\n: cut after \r
        b"4,ok\r\n5,z,extra\n"
    )
    items = read(tmp_path, data, limit=10)
    assert reasons(items) == [(2, "too_large"), (3, "too_large"), (5, "csv_field_count")]
    assert items[0] == (1, {"a": "1", "b": "x" * 8}, None)
    assert "(from line 3)" in items[1].detail and "(from line 4)" in items[2].detail
    assert items[3] == (4, {"a": "4", "b": "ok"}, None) and "(line 6)" in items[4].detail


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_the_line_end_never_counts_toward_the_limit_or_the_size(tmp_path: Path, end: bytes) -> None:
    """The same rows get the same verdicts and sizes whatever the file's line ends: a line of
    `limit` characters fits, one more is too large, and `raw_size` (like `raw`) leaves the
    row's own line end out (the line ends inside a quoted field are its text)."""
    rows = [
        b"1," + b"x" * 8,  # 10 characters: fits
        b"2," + b"y" * 9,  # 11: too large
        b"3," + b"y" * 30,  # 32: too large, read in several pieces
        b'4,"' + b"q" * 3 + end + b"q" * 20 + b'"',  # a field of 24 > 10 over two lines
        b"5,ok",
        b"6," + b"z" * 9,  # too large, the file's last line (with its line end)
    ]
    data = end.join([b"a,b", *rows]) + end
    items = read(tmp_path, data, limit=10)
    assert reasons(items) == [
        (2, "too_large"),
        (3, "too_large"),
        (4, "too_large"),
        (6, "too_large"),
    ]
    assert items[0] == (1, {"a": "1", "b": "x" * 8}, None)
    assert items[4] == (5, {"a": "5", "b": "ok"}, None)
    sizes = [i.raw_size for i in items if isinstance(i, Rejection)]
    assert sizes == [11, 32, len(rows[3]), 11]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_CELL, min_size=1, max_size=3), min_size=1, max_size=8), st.integers(5, 9))
def test_a_small_limit_only_turns_rows_into_too_large(cells: list[list[str]], limit: int) -> None:
    """Any text read with a small limit: the same items as with a big one, except rows too
    large to hold (too_large) and the prefix of a long line with a stray quote."""
    text = "h1,h2\n" + "\n".join(",".join(row) for row in cells)
    with tempfile.TemporaryDirectory() as tmp:
        small = read(Path(tmp), text.encode(), options={"delimiter": ","}, limit=limit)
        big = read(Path(tmp), text.encode(), options={"delimiter": ","})
    assert len(small) == len(big)
    for mine, theirs in zip(small, big, strict=True):
        if isinstance(mine, Rejection) and mine.reason == "too_large":
            assert (
                theirs.position if isinstance(theirs, Rejection) else theirs[0]
            ) == mine.position
        elif isinstance(mine, Rejection) and mine.raw_truncated:
            assert isinstance(theirs, Rejection) and theirs.reason == mine.reason
            assert theirs.raw is not None and theirs.raw.startswith(mine.raw or b"")
        elif isinstance(mine, Rejection):
            assert isinstance(theirs, Rejection)
            assert (mine.position, mine.reason, mine.raw) == (
                theirs.position,
                theirs.reason,
                theirs.raw,
            )
        else:
            assert mine == theirs


# --- encodings: a rejected row's raw is its bytes in the file ---------------------------------


TABLE = "a,b\n1,ça\nbad,row,x\n2,été\n"


@pytest.mark.parametrize(
    ("encoding", "file_codec", "bom"),
    [
        ("utf-16", "utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-16", "utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-32", "utf-32-be", codecs.BOM_UTF32_BE),
        ("utf-32", "utf-32-le", codecs.BOM_UTF32_LE),
        ("utf-16-be", "utf-16-be", b""),
        ("utf-8-sig", "utf-8", codecs.BOM_UTF8),
        ("latin-1", "latin-1", b""),
        ("cp1252", "cp1252", b""),
    ],
)
def test_a_rejected_rows_raw_is_its_bytes_in_the_file(
    tmp_path: Path, encoding: str, file_codec: str, bom: bytes
) -> None:
    """Not the text encoded again with the codec named (Python's utf-16 writes a BOM and
    little-endian): the file's own bytes, in its byte order."""
    data = bom + TABLE.encode(file_codec)
    items = read(tmp_path, data, options={"encoding": encoding, "delimiter": ","})
    assert reasons(items) == [(2, "csv_field_count")]
    assert items[1].raw == "bad,row,x".encode(file_codec)
    assert records(items) == [{"a": "1", "b": "ça"}, {"a": "2", "b": "été"}]


def test_undecodable_utf16_is_localised_to_its_row_even_at_the_files_end(tmp_path: Path) -> None:
    """A lone surrogate code unit inside the file and a file cut one byte into a character
    (its last row without a line end): each row rejected with its exact bytes, nothing
    left unread; a byte below 0x80 escapes like any other."""
    lone = "a,b\n1,x\n".encode("utf-16-be") + b"\xd8\x00" + "2,y\n3,z\n4,w".encode("utf-16-be")
    data = codecs.BOM_UTF16_BE + lone + b"\x00"
    items = read(tmp_path, data, options={"encoding": "utf-16", "delimiter": ","})
    assert reasons(items) == [(2, "invalid_encoding"), (4, "invalid_encoding")]
    assert items[1].raw == b"\xd8\x00" + "2,y".encode("utf-16-be") and items[1].raw in data
    assert items[3].raw == "4,w".encode("utf-16-be") + b"\x00" and data.endswith(items[3].raw)
    assert not any(i.leaves_unread for i in items if isinstance(i, Rejection))
    assert records(items) == [{"a": "1", "b": "x"}, {"a": "3", "b": "z"}]


def test_a_utf16_file_without_a_bom_is_a_bad_header_not_a_crash(tmp_path: Path) -> None:
    items = read(tmp_path, "a,b\n1,2\n".encode("utf-16-le"), options={"encoding": "utf-16"})
    assert reasons(items) == [(0, "csv_bad_header")]
    assert "does not start with BOM" in items[0].detail and items[0].leaves_unread
