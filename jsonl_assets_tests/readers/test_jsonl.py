from __future__ import annotations

import gzip
import hashlib
import itertools
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
from jsonl_assets.core.readers.jsonl import iter_jsonl
from jsonl_assets.core.traces import Rejection

LYING_NAME = {"none": "data.jsonl.gz", "gzip": "data.jsonl.zst", "zstd": "data.jsonl"}


def compress(data: bytes, codec: str) -> bytes:
    if codec == "gzip":
        return gzip.compress(data, mtime=0, compresslevel=1)
    if codec == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def read(tmp_path: Path, data: bytes, codec: str = "none", limit: int = 16 << 20) -> list[Any]:
    path = tmp_path / LYING_NAME[codec]
    path.write_bytes(compress(data, codec))
    source = SourceFile(path, path.name)
    return list(read_source(source, "jsonl", {}, ReadLimits(limit), tmp_path / "scratch"))


def rejections(items: list[Any]) -> list[tuple[int, str]]:
    return [(i.position, i.reason) for i in items if isinstance(i, Rejection)]


def records(items: list[Any]) -> list[tuple[int, Any, bytes | None]]:
    return [i for i in items if type(i) is tuple]


LINES = [b'{"i": %d, "t": "r\xc3\xa9cord %d"}' % (i, i) for i in range(30_000)]
DATA = b"\n".join(LINES) + b"\n"


@pytest.mark.parametrize("codec", ["none", "gzip", "zstd"])
def test_reads_every_codec_detected_by_magic(tmp_path: Path, codec: str) -> None:
    items = read(tmp_path, DATA, codec)
    assert len(items) == len(LINES)
    assert [i[0] for i in items] == list(range(1, len(LINES) + 1))
    assert items[7] == (8, {"i": 7, "t": "récord 7"}, LINES[7])


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_truncated_stream_keeps_lines_before_damage(tmp_path: Path, codec: str) -> None:
    stored = compress(DATA, codec)
    path = tmp_path / f"cut.{codec}"
    path.write_bytes(stored[: len(stored) * 2 // 3])
    source = SourceFile(path, path.name)
    items = list(read_source(source, "jsonl", {}, ReadLimits(), tmp_path))
    good = records(items)
    assert len(good) > len(LINES) // 3
    assert [g[2] for g in good] == LINES[: len(good)]
    last = items[-1]
    assert isinstance(last, Rejection) and last.reason == "corrupt_file"
    assert last.position == len(good) + 1
    assert last.detail.startswith(f"{codec} stream damaged at compressed offset ")
    assert LINES[len(good)].startswith(last.raw or b"")
    assert len(items) == len(good) + 1
    assert source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_bom_crlf_blank_lines_and_missing_final_newline(tmp_path: Path) -> None:
    data = b'\xef\xbb\xbf{"a": 1}\r\n\r\n   \n\t\r\n{"b": 2}\r\n\n{"c": 3}'
    items = read(tmp_path, data)
    assert items == [
        (1, {"a": 1}, b'{"a": 1}'),
        (5, {"b": 2}, b'{"b": 2}'),
        (7, {"c": 3}, b'{"c": 3}'),
    ]


def test_invalid_utf8_line_is_rejected_with_raw_bytes(tmp_path: Path) -> None:
    bad = b'{"a": "caf\xe9"}'
    items = read(tmp_path, b'{"a": 1}\n' + bad + b'\n{"a": 3}\n')
    assert rejections(items) == [(2, "invalid_utf8")]
    assert items[1].raw == bad
    assert [r[0] for r in records(items)] == [1, 3]


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        (b'{"a": NaN}', "unexpected character"),
        (b'{"a": Infinity}', "unexpected character"),
        (b'{"a": -Infinity}', ""),
        (b'{"a": 1,}', "trailing comma"),
        (b"{'a': 1}", ""),
        (b'{"a": "x\x01y"}', "control character"),
        (b'{"a": 1} {"b": 2}', ""),
        (b'{"a": ', ""),
    ],
)
def test_invalid_json_is_parse_error(tmp_path: Path, line: bytes, needle: str) -> None:
    items = read(tmp_path, b'{"ok": 1}\n' + line + b'\n{"ok": 2}\n')
    assert rejections(items) == [(2, "parse_error")]
    assert needle in items[1].detail
    assert items[1].raw == line
    assert [r[1] for r in records(items)] == [{"ok": 1}, {"ok": 2}]


def test_non_object_values_are_rejected(tmp_path: Path) -> None:
    lines = [b"[1, 2]", b'"text"', b"42", b"null", b"true", b'{"fine": true}']
    items = read(tmp_path, b"\n".join(lines))
    assert rejections(items) == [(i, "not_an_object") for i in range(1, 6)]
    assert "array" in items[0].detail and "boolean" in items[4].detail
    assert items[5] == (6, {"fine": True}, b'{"fine": true}')


def test_deep_nesting_has_its_own_detail(tmp_path: Path) -> None:
    deep = b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    items = read(tmp_path, deep + b'\n{"b": 1}\n')
    assert rejections(items) == [(1, "parse_error")]
    assert "nested deeper" in items[0].detail
    assert items[1] == (2, {"b": 1}, b'{"b": 1}')


def test_numbers_orjson_cannot_hold_exactly_are_unsupported_value(tmp_path: Path) -> None:
    lines = [
        b'{"a": 18446744073709551615, "b": -5}',
        b'{"a": 18446744073709551616, "b": -5}',
        b'{"a": [1, {"b": 1e999}]}',
        b'{"a": 1e-400}',
        b'{"t": "12345678901234567890 1e400", "a": 1.5e300}',
    ]
    items = read(tmp_path, b"\n".join(lines) + b"\n")
    assert items[0] == (1, {"a": 18446744073709551615, "b": -5}, lines[0])
    assert rejections(items) == [
        (2, "unsupported_value"),
        (3, "unsupported_value"),
        (4, "unsupported_value"),
    ]
    assert "a: the number 18446744073709551616 is an integer beyond 64 bits" in items[1].detail
    assert "a[1].b: the number 1E+999 is beyond the range of a double" in items[2].detail
    assert "a: the number 1e-400 would be written as 0.0 " in items[3].detail
    assert items[1].raw == lines[1]
    assert items[4] == (5, {"t": "12345678901234567890 1e400", "a": 1.5e300}, lines[4])


@pytest.mark.parametrize("codec", ["none", "gzip", "zstd"])
def test_fifty_megabyte_line_is_skipped_in_bounded_memory(tmp_path: Path, codec: str) -> None:
    huge = b'{"a": "' + b"x" * 50_000_000 + b'"}'
    path = tmp_path / "huge.jsonl"
    path.write_bytes(compress(b'{"before": 1}\n' + huge + b'\r\n{"after": 2}\n', codec))
    del huge
    source = SourceFile(path, path.name)
    tracemalloc.start()
    try:
        items = list(read_source(source, "jsonl", {}, ReadLimits(1 << 20), tmp_path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Chunks are 1 MiB (zstd: up to 4 MiB from one decompressor call) and the pending line is
    # dropped past 1 MiB: measured peaks 4 MB plain, 7 MB gzip, 14 MB zstd.
    assert peak < 16_000_000, f"peak {peak} bytes"
    assert items[0] == (1, {"before": 1}, b'{"before": 1}')
    too_large = items[1]
    assert isinstance(too_large, Rejection) and too_large.reason == "too_large"
    assert too_large.position == 2
    assert too_large.raw_size == 50_000_009  # the line end (here CRLF) does not count
    assert too_large.raw == (b'{"a": "' + b"x" * 2000)[:1024] and too_large.raw_truncated
    assert items[2] == (3, {"after": 2}, b'{"after": 2}')


def test_limit_is_inclusive_and_independent_of_chunking() -> None:
    limit = 64
    exact = b'{"a": "' + b"y" * (limit - 9) + b'"}'
    assert len(exact) == limit
    over = b'{"a": "' + b"y" * (limit - 8) + b'"}'
    data = exact + b"\n" + over + b"\n" + exact
    for size in (1, 7, 64, 65, 1000):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        got = list(iter_jsonl(chunks, limit))
        assert [type(g).__name__ for g in got] == ["tuple", "Rejection", "tuple"], size
        assert got[1].raw_size == limit + 1


@pytest.mark.parametrize("end", [b"\n", b"\r\n"])
def test_the_line_end_never_counts_toward_the_limit_whatever_the_chunking(end: bytes) -> None:
    limit = 64
    exact = b'{"a": "' + b"y" * (limit - 9) + b'"}'
    over = exact[:-2] + b'y"}'
    data = end.join([exact, over, b'{"b": 1}', over + b"y" * 2000, exact, over]) + end
    for size in (1, 2, 7, 63, 64, 65, 66, 67, 1000):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        got = list(iter_jsonl(chunks, limit))
        assert got[0] == (1, {"a": "y" * (limit - 9)}, exact), (end, size)
        assert got[4] == (5, {"a": "y" * (limit - 9)}, exact), (end, size)
        for n, want in ((1, over), (3, over + b"y" * 2000), (5, over)):
            rejection = got[n]
            assert isinstance(rejection, Rejection), (end, size, n)
            assert rejection.reason == "too_large"
            assert rejection.raw_size == len(want)
            # What was held of it (up to 1 KiB), never the CR of its line end.
            assert want.startswith(rejection.raw) and rejection.raw
            assert rejection.raw_truncated == (len(rejection.raw) < len(want))
            assert f"line is {len(want)} bytes" in rejection.detail


def test_a_cr_ending_the_last_line_does_not_count_toward_the_limit() -> None:
    exact = b'{"a": "' + b"y" * 55 + b'"}'
    over = exact[:-2] + b'y"}'
    for size in (1, 64, 65, 1000):
        for line, verdict in ((exact, "tuple"), (over, "Rejection")):
            data = line + b"\r"
            chunks = [data[i : i + size] for i in range(0, len(data), size)]
            got = list(iter_jsonl(chunks, 64))
            assert [type(g).__name__ for g in got] == [verdict], size
        assert got[0].raw_size == 65 and got[0].raw == over


def test_zero_byte_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    source = SourceFile(path, "empty.jsonl")
    assert list(read_source(source, "jsonl", {}, ReadLimits(), tmp_path)) == []
    assert source.sha256 == hashlib.sha256(b"").hexdigest()


def reference(data: bytes, limit: int) -> list[tuple[Any, ...]]:
    """What the reader must produce, computed naively on the whole input."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    out: list[tuple[Any, ...]] = []
    for n, line in enumerate(lines, 1):
        line = line.removesuffix(b"\r")  # with its `\n`, the line end: not record bytes
        if len(line) > limit:
            out.append((n, "too_large", len(line)))
            continue
        if not line.strip(b" \t\r"):
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            try:
                line.decode()
                out.append((n, "parse_error", line))
            except UnicodeDecodeError:
                out.append((n, "invalid_utf8", line))
            continue
        out.append((n, value, line) if type(value) is dict else (n, "not_an_object", line))
    return out


def normalise(items: list[Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for item in items:
        if isinstance(item, Rejection):
            third = item.raw_size if item.reason == "too_large" else item.raw
            out.append((item.position, item.reason, third))
        else:
            out.append(item)
    return out


PIECES = st.sampled_from(
    [
        b'{"k": 1}',
        b'{"k": "\xc3\xa9t\xc3\xa9"}',
        b"[1]",
        b"",
        b"  ",
        b"\r",
        b"\xff",
        b"{",
        b'"',
        b"x" * 40,
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.lists(PIECES, max_size=3).map(b"".join), max_size=12),
    bom=st.booleans(),
    final_newline=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
    limit=st.sampled_from([16, 50, 1000]),
)
def test_splitter_matches_naive_reference_for_any_chunking(
    lines: list[bytes], bom: bool, final_newline: bool, cuts: list[int], limit: int
) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines)
    if final_newline and lines:
        data += b"\n"
    points = sorted({c for c in cuts if c < len(data)} | {0, len(data)})
    chunks = [data[a:b] for a, b in itertools.pairwise(points)]
    assert normalise(list(iter_jsonl(chunks, limit))) == reference(data, limit)


@pytest.mark.parametrize(
    ("rel", "count"), [("gsm8k/test.jsonl", 1319), ("alpaca-seed/seed_tasks.jsonl", 175)]
)
def test_corpus_files(tmp_path: Path, rel: str, count: int, corpus: Path) -> None:
    path = corpus / rel
    items = list(read_source(SourceFile(path, rel), "jsonl", {}, ReadLimits(), tmp_path))
    assert len(items) == count
    assert all(type(i) is tuple for i in items)
    raw_lines = path.read_bytes().splitlines()
    assert [i[2] for i in items] == raw_lines
    assert [i[0] for i in items] == list(range(1, count + 1))


def test_a_zstd_file_that_starts_with_a_skippable_frame_is_zstd(tmp_path: Path) -> None:
    """pzstd's layout: a skippable frame (magic 0x184D2A50-5F) with the size of the frame
    after it, before each frame; the records are read, not quarantined as text."""
    frames = []
    for n, part in enumerate((LINES[:1000], LINES[1000:2000])):
        frame = zstandard.ZstdCompressor(write_checksum=True).compress(b"\n".join(part) + b"\n")
        frames.append((0x184D2A50 + n * 15).to_bytes(4, "little") + (4).to_bytes(4, "little"))
        frames.append(len(frame).to_bytes(4, "little") + frame)
    path = tmp_path / "data.jsonl.zst"
    path.write_bytes(b"".join(frames))
    source = SourceFile(path, path.name)
    assert source.compression == "zstd"
    items = list(read_source(source, "jsonl", {}, ReadLimits(16 << 20), tmp_path / "scratch"))
    assert rejections(items) == []
    assert [r[0] for r in records(items)] == list(range(1, 2001))
    assert [r[2] for r in records(items)] == LINES[:2000]


def test_an_object_that_repeats_a_key_is_duplicate_key_at_any_depth(tmp_path: Path) -> None:
    """orjson keeps the last value of a repeated key: the record is quarantined, not written
    with one of its values gone. Key ends inside strings, spaces before colons and escaped
    quotes do not make a record suspect for nothing."""
    lines = [
        b'{"a": 1, "a": 2}',
        b'{"m": {"v": 1, "w": {"x": [{"k": "a", "k": "b"}]}}}',
        b'{"a" : 1, "b"\t:2, "c": "x\\":y", "\\\\": 3}',  # a key named \\ : no repeat
        b'{"t": "she said \\"a\\": yes", "u": "\\u0022:"}',
        b'{"k": 1, "K": 2, "k\\u0301": 3}',
        b'{"a": {"b": 1}, "c": {"b": 2}}',
        b'{"x" :1 , "x" :2}',
    ]
    items = read(tmp_path, b"\n".join(lines) + b"\n")
    assert rejections(items) == [(1, "duplicate_key"), (2, "duplicate_key"), (7, "duplicate_key")]
    assert "repeats the key 'k'" in items[1].detail and items[1].raw == lines[1]
    assert [r[0] for r in records(items)] == [3, 4, 5, 6]


def test_a_repeated_key_hidden_by_escaped_colons_is_duplicate_key(tmp_path: Path) -> None:
    """A colon written as an escape comes back as `:` in the parsed value's JSON, so it could
    make up for the colon a repeated key lost: such a line is always checked key by key."""
    lines = [
        b'{"k\\u003a": 1, "k\\u003a": 2}',
        b'{"a": 1, "a": "\\u003A"}',
        b'{"a\\u003a": 1, "b\\u003b": 2}',  # escapes, no repeat
    ]
    items = read(tmp_path, b"\n".join(lines) + b"\n")
    assert rejections(items) == [(1, "duplicate_key"), (2, "duplicate_key")]
    assert "repeats the key 'k:'" in items[0].detail
    assert [r[0] for r in records(items)] == [3]


@pytest.mark.parametrize("junk", [b"\x0c", b"\x0b", b" \x0c "])
def test_form_feed_or_vertical_tab_line_is_parse_error_not_blank(
    tmp_path: Path, junk: bytes
) -> None:
    """Only JSON whitespace (space, tab, CR) makes a line blank: a line of form feed or
    vertical tab (`bytes.isspace()` accepts them) is quarantined with its bytes."""
    items = read(tmp_path, b'{"a": 1}\n' + junk + b'\n \t\n{"a": 3}\n')
    assert rejections(items) == [(2, "parse_error")]
    assert items[1].raw == junk
    assert [r[0] for r in records(items)] == [1, 4]


def _gzip_cases() -> dict[str, bytes]:
    """Two gzip members (records 1-3, 4-6) joined in ways RFC 1952 readers refuse or read
    differently: the second member is damage, so only the first member's records are read."""
    one = gzip.compress(b"".join(b'{"n": %d}\n' % i for i in range(3)), mtime=0)
    two = gzip.compress(b"".join(b'{"n": %d}\n' % i for i in range(3, 6)), mtime=0)
    header = two[:3] + bytes([two[3] | 2]) + two[4:10]
    bad_crc = (zlib.crc32(header) & 0xFFFF) ^ 0x5555
    return {
        "reserved header flag bits": one + two[:3] + bytes([0x20]) + two[4:],
        "header CRC16": one + header + bad_crc.to_bytes(2, "little") + two[10:],
        "zero padding is allowed only at the end": one + b"\x00" * 8 + two,
    }


@pytest.mark.parametrize("case", sorted(_gzip_cases()))
def test_a_gzip_source_with_a_member_rfc_1952_refuses_is_corrupt_after_it(
    tmp_path: Path, case: str
) -> None:
    """The build reads gzip sources with verify's decoder and rule: the records before the
    damage are kept, the rest is one `corrupt_file` naming it."""
    path = tmp_path / "data.jsonl.gz"
    path.write_bytes(_gzip_cases()[case])
    source = SourceFile(path, path.name)
    items = list(read_source(source, "jsonl", {}, ReadLimits(), tmp_path / "scratch"))
    assert [r[1]["n"] for r in records(items)] == [0, 1, 2]
    [entry] = [i for i in items if isinstance(i, Rejection)]
    assert (entry.position, entry.reason, entry.unread_rest) == (4, "corrupt_file", True)
    assert case in entry.detail


def test_zero_padding_at_the_end_of_a_gzip_source_is_not_damage(tmp_path: Path) -> None:
    data = b'{"a": 1}\n{"a": 2}\n'
    path = tmp_path / "data.jsonl.gz"
    path.write_bytes(gzip.compress(data, mtime=0) + b"\x00" * 512)
    source = SourceFile(path, path.name)
    items = list(read_source(source, "jsonl", {}, ReadLimits(), tmp_path / "scratch"))
    assert [r[1] for r in items] == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize(
    ("number", "kept"),
    [
        ("1" * 5000, None),  # more digits than int() converts
        ("-" + "1" * 5000, None),
        ("1e" + "9" * 30, None),  # an exponent Decimal cannot hold
        ("1e-" + "9" * 30, None),
        ("0e" + "9" * 30, 0.0),  # zero whatever its exponent: the same value
        ("-0.0e-" + "9" * 30, -0.0),
    ],
)
def test_numbers_of_any_length_or_exponent_are_judged_not_crashed_on(
    tmp_path: Path, number: str, kept: float | None
) -> None:
    line = b'{"a": %s}' % number.encode()
    items = read(tmp_path, b'{"ok": 1}\n' + line + b"\n")
    if kept is None:
        assert rejections(items) == [(2, "unsupported_value")]
        assert "the number " + number[:20] in items[1].detail
    else:
        assert records(items)[1][1] == {"a": kept}


def test_a_repeated_key_beside_a_value_nested_1000_deep_is_duplicate_key(tmp_path: Path) -> None:
    """orjson reads 1,024 levels; the key check's standard-library parser stopped near 1,000
    and said "no repeat" (the line was refused later for its depth, as another reason). An
    inexact number in a line that repeats a key is named by its path (it was "a number")."""
    deep = b"[" * 1000 + b"]" * 1000
    lines = [
        b'{"a": 1, "d": ' + deep + b', "a": 2}',
        b'{"a": 1, "a": 2, "n": [0, 123456789012345678901234567890]}',
    ]
    items = read(tmp_path, b"\n".join(lines) + b"\n")
    assert rejections(items) == [(1, "duplicate_key"), (2, "unsupported_value")]
    assert "repeats the key 'a'" in items[0].detail
    assert "n[1]: the number 123456789012345678901234567890 " in items[1].detail
