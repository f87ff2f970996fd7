from __future__ import annotations

import codecs
import gzip
import itertools
import re
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from jsonl_assets.core.adapters import build_adapter
from jsonl_assets.core.adapters import resolve_options as adapter_options
from jsonl_assets.core.blank_text import BLANK_CHARS
from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source, resolve_options
from jsonl_assets.core.readers.text_chunks import chunk_text, split_lines
from jsonl_assets.core.traces import Rejection

# U+001C..U+001F: str.isspace() says whitespace, Unicode (White_Space=No) says control chars.
INFO_SEPARATORS = "\x1c\x1d\x1e\x1f"
LYING_NAME = {"none": "data.txt.gz", "gzip": "data.txt.zst", "zstd": "data.txt"}


def compress(data: bytes, codec: str) -> bytes:
    if codec == "gzip":
        return gzip.compress(data, mtime=0, compresslevel=1)
    if codec == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def read(
    tmp_path: Path, data: bytes, codec: str = "none", limit: int = 16 << 20, **options: Any
) -> list[Any]:
    path = tmp_path / LYING_NAME[codec]
    path.write_bytes(compress(data, codec))
    return list(
        read_source(SourceFile(path, path.name), "text", options, ReadLimits(limit), tmp_path)
    )


def reassemble(items: list[Any], codec: str = "utf-8") -> bytes:
    """Accepted chunks' text and rejected chunks' raw bytes, in position order."""
    return b"".join(
        (i.raw or b"") if isinstance(i, Rejection) else i[1]["text"].encode(codec) for i in items
    )


def naive_chunks(text: str, max_chars: int) -> list[str]:
    """The chunking rule of text.py, applied to the whole text at once."""
    items: list[tuple[str, bool]] = []
    for line in re.findall(r"[^\n]*\n|[^\n]+$", text):
        if len(line) > max_chars:
            items += [(line[i : i + max_chars], False) for i in range(0, len(line), max_chars)]
        else:
            items.append((line, True))
    units: list[list[str]] = []
    unit: list[str] = []
    blank_tail = False
    for piece, whole in items:
        if whole and all(c.isspace() and c not in INFO_SEPARATORS for c in piece):
            blank_tail = True
        elif blank_tail:
            units.append(unit)
            unit, blank_tail = [], False
        unit.append(piece)
    if unit:
        units.append(unit)
    chunks: list[str] = []
    current = ""
    for unit in units:
        length = sum(map(len, unit))
        if length <= max_chars:
            if current and len(current) + length > max_chars:
                chunks.append(current)
                current = ""
            current += "".join(unit)
            continue
        if current:
            chunks.append(current)
            current = ""
        for piece in unit:
            if current and len(current) + len(piece) > max_chars:
                chunks.append(current)
                current = ""
            current += piece
    if current:
        chunks.append(current)
    return attach_blank(chunks, max_chars)


def attach_blank(chunks: list[str], max_chars: int) -> list[str]:
    """Blank chunks joined to a neighbour, at most max_chars characters of them: a run after a
    chunk, its longest prefix within max_chars to that chunk; a run at the file start, its
    longest suffix within max_chars to the first chunk (or to each other in a blank file);
    the blank chunks left over stand alone."""
    runs: list[list[str]] = [[]]  # blank runs, a non-blank chunk between two runs
    texts: list[str] = []
    for chunk in chunks:
        if chunk.strip(BLANK_CHARS):
            texts.append(chunk)
            runs.append([])
        else:
            runs[-1].append(chunk)
    out: list[str] = []
    lead = runs[0]
    cut = len(lead)
    while cut > 0 and sum(map(len, lead[cut - 1 :])) <= max_chars:
        cut -= 1
    out += lead[:cut]
    if not texts:
        return out + (["".join(lead[cut:])] if lead[cut:] else [])
    for i, (text, run) in enumerate(zip(texts, runs[1:], strict=True)):
        keep = 0
        while keep < len(run) and sum(map(len, run[: keep + 1])) <= max_chars:
            keep += 1
        out.append(("".join(lead[cut:]) if i == 0 else "") + text + "".join(run[:keep]))
        out += run[keep:]
    return out


def longest_blank_run(text: str) -> int:
    return max(map(len, re.findall(f"[{re.escape(BLANK_CHARS)}]+", text)), default=0)


def pieces(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


TEXT = st.lists(
    st.sampled_from(
        [
            "word ",
            "é",
            "\n",
            "\n\n",
            "  \n",
            "\r\n",
            "x" * 9,
            " ",
            "\t",
            "\n\n\n",
            "\x1e\n",
            "\u3000\n",
            "\u200b",
        ]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(
    text=TEXT, max_chars=st.integers(min_value=1, max_value=30), cuts=st.lists(st.integers(0, 500))
)
def test_chunks_reassemble_exactly_whatever_the_read_split(
    text: str, max_chars: int, cuts: list[int]
) -> None:
    got = list(chunk_text(pieces(text, cuts), max_chars))
    chunks = [c for _, c in got]
    assert "".join(chunks) == text
    # blank text is attached to a neighbour, at most max_chars of it: a chunk is blank only
    # in a blank run longer than max_chars (or a blank text), and never holds more than that
    long_run = longest_blank_run(text) > max_chars
    assert all(c.strip(BLANK_CHARS) for c in chunks) or long_run or len(chunks) == 1
    assert all(len(c.strip(BLANK_CHARS)) <= max_chars for c in chunks)
    assert all(len(c) <= 3 * max_chars for c in chunks)
    assert chunks == naive_chunks(text, max_chars)
    # each position is the line on which the chunk starts
    offset = 0
    for line, chunk in got:
        assert line == text.count("\n", 0, offset) + 1
        offset += len(chunk)


@settings(max_examples=200, deadline=None)
@given(
    text=TEXT, max_chars=st.integers(min_value=1, max_value=30), cuts=st.lists(st.integers(0, 500))
)
def test_line_items_do_not_depend_on_the_split(text: str, max_chars: int, cuts: list[int]) -> None:
    assert list(split_lines(pieces(text, cuts), max_chars)) == list(split_lines([text], max_chars))


def test_paragraphs_are_packed_greedily_and_kept_whole() -> None:
    text = "aaa\nbbb\n\nccc\n\n\nddd\n"
    assert list(chunk_text([text], 100)) == [(1, text)]
    # paragraph units: "aaa\nbbb\n\n" (9), "ccc\n\n\n" (6), "ddd\n" (4)
    assert list(chunk_text([text], 15)) == [(1, "aaa\nbbb\n\nccc\n\n\n"), (7, "ddd\n")]
    assert list(chunk_text([text], 10)) == [(1, "aaa\nbbb\n\n"), (4, "ccc\n\n\nddd\n")]
    assert list(chunk_text([text], 9)) == [(1, "aaa\nbbb\n\n"), (4, "ccc\n\n\n"), (7, "ddd\n")]


@pytest.mark.parametrize("char", [*INFO_SEPARATORS, "\x01"])
def test_a_line_of_control_characters_is_not_blank(char: str) -> None:
    # U+001C..U+001F are no whitespace (blank_text.py): such a line starts a paragraph, it
    # does not end one as a blank line would.
    text = f"aaa\n\n{char}\nbbb\n"
    assert list(chunk_text([text], 7)) == [(1, "aaa\n\n"), (3, f"{char}\nbbb\n")]


@pytest.mark.parametrize("char", [" ", "\t", "\x0b", "\x0c", "\x85", "\xa0", "\u2028", "\u3000"])
def test_a_line_of_unicode_whitespace_is_blank(char: str) -> None:
    text = f"aaa\n\n{char}\nbbb\n"
    assert list(chunk_text([text], 7)) == [(1, f"aaa\n\n{char}\n"), (4, "bbb\n")]


def test_long_paragraph_split_at_lines_then_hard_split() -> None:
    text = "one\ntwo\n" + "z" * 12 + "\n\nend\n"
    assert list(chunk_text([text], 5)) == [
        (1, "one\n"),
        (2, "two\n"),
        (3, "zzzzz"),
        (3, "zzzzz"),
        (3, "zz\n\n"),
        (5, "end\n"),
    ]


@pytest.mark.parametrize(
    ("text", "max_chars", "want"),
    [
        # a line of exactly max_chars: its newline stays with it, never a chunk of its own
        ("a" * 8 + "\n" + "b" * 8 + "\n", 8, [(1, "a" * 8 + "\n"), (2, "b" * 8 + "\n")]),
        # blank lines fitting beside neither paragraph stay with the one before them
        ("a" * 7 + "\n\n\n" + "b" * 7 + "\n", 8, [(1, "a" * 7 + "\n\n\n"), (4, "b" * 7 + "\n")]),
        # a line cut into pieces whose tail is whitespace (and invisible characters)
        (
            "ab" + " " * 9 + "\u200b\t\n\nc\n",
            8,
            [(1, "ab" + " " * 9 + "\u200b\t\n\n"), (3, "c\n")],
        ),
        # more blank text than max_chars: max_chars of it attached, the rest stands alone
        (
            "ab" + " " * 9 + "\u200b\t\n\nc\n",
            4,
            [(1, "ab      "), (1, "   \u200b"), (1, "\t\n\n"), (3, "c\n")],
        ),
        (
            "a\n" + "\n" * 9 + "b\n",
            3,
            [(1, "a\n\n\n\n\n"), (6, "\n\n\n"), (9, "\n\n"), (11, "b\n")],
        ),
        # a long blank run at the file start: the blank chunks nearest the text attached
        ("\n" * 6 + "b\n", 2, [(1, "\n\n"), (3, "\n\n"), (5, "\n\nb\n")]),
        # blank lines at the file start that do not fit beside the first paragraph
        ("\n\n\n" + "a" * 7 + "\n", 8, [(1, "\n\n\n" + "a" * 7 + "\n")]),
        # a file blank throughout is one blank chunk (within max_chars)
        ("\n  \n\n", 5, [(1, "\n  \n\n")]),
        ("\n  \n\n", 2, [(1, "\n"), (2, "  "), (2, "\n\n")]),
    ],
)
def test_blank_text_is_never_a_chunk_of_its_own(
    text: str, max_chars: int, want: list[tuple[int, str]]
) -> None:
    """Before: the lone newline of a line of exactly max_chars (or blank lines that fit beside
    no paragraph) made a chunk of its own, which the text adapter rejects as empty_text."""
    assert list(chunk_text([text], max_chars)) == want


def assert_good_text_records(tmp_path: Path, data: bytes, max_chars: int) -> None:
    """Every chunk is accepted by the text adapter (no empty_text) and they reassemble."""
    adapt = build_adapter("text", adapter_options("text", {}, "cpt"))
    items = read(tmp_path, data, max_chars=max_chars)
    assert all(type(i) is tuple for i in items) and reassemble(items) == data
    for _, record, _ in items:
        adapt(record)  # raises AdapterError (empty_text) on a blank chunk


@pytest.mark.parametrize("max_chars", [4000, 57, 1])
def test_a_paragraph_of_exactly_max_chars_is_a_good_text_record(
    tmp_path: Path, max_chars: int
) -> None:
    """The audit's file: two one-line paragraphs of exactly max_chars. Before: each line's
    newline was a chunk of its own, rejected adapter:empty_text (the build failed)."""
    data = ("a" * max_chars + "\n" + "b" * max_chars + "\n").encode()
    assert_good_text_records(tmp_path, data, max_chars)


@pytest.mark.parametrize("max_chars", [100, 200, 57])
def test_every_tinyshakespeare_chunk_is_a_good_text_record(
    tmp_path: Path, corpus: Path, max_chars: int
) -> None:
    """Blank lines beside full chunks (before: 34 newline-only chunks at max_chars 100)."""
    data = (corpus / "tinyshakespeare" / "input.txt").read_bytes()
    assert_good_text_records(tmp_path, data, max_chars)


@pytest.mark.parametrize("codec", ["none", "gzip", "zstd"])
def test_tinyshakespeare_chunks_reassemble_exactly(
    tmp_path: Path, codec: str, corpus: Path
) -> None:
    path = corpus / "tinyshakespeare" / "input.txt"
    data = path.read_bytes()
    items = read(tmp_path, data, codec)
    assert all(type(i) is tuple for i in items)
    assert reassemble(items) == data
    assert all(len(i[1]["text"]) <= 4000 for i in items)
    assert items[0][0] == 1 and [i[0] for i in items] == sorted({i[0] for i in items})
    # a chunk ends at a paragraph boundary unless a paragraph is itself too long
    assert sum(i[1]["text"].endswith("\n\n") for i in items) >= len(items) - 2
    assert read(tmp_path, data, codec) == items


def test_invalid_utf8_rejects_only_its_chunk(tmp_path: Path) -> None:
    data = b"first para\n\nsecond \xff\xfe para\n\nthird para\n"
    items = read(tmp_path, data, max_chars=20)
    assert items[0] == (1, {"text": "first para\n\n"}, None)
    assert isinstance(items[1], Rejection) and items[1].reason == "invalid_utf8"
    assert items[1].position == 3 and items[1].raw == b"second \xff\xfe para\n\n"
    assert items[2] == (5, {"text": "third para\n"}, None)
    assert reassemble(items) == data


def test_bom_is_not_text(tmp_path: Path) -> None:
    items = read(tmp_path, b"\xef\xbb\xbfhello\n")
    assert items == [(1, {"text": "hello\n"}, None)]


def test_document_mode(tmp_path: Path) -> None:
    data = "line one\n\nline two é\n".encode()
    assert read(tmp_path, data, mode="document") == [(1, {"text": data.decode()}, None)]
    too_big = read(tmp_path, data * 100, mode="document", limit=1000)
    assert [(i.position, i.reason, i.raw_size) for i in too_big] == [
        (1, "too_large", len(data) * 100)
    ]
    assert too_big[0].raw == (data * 100)[:1024]
    bad = read(tmp_path, b"ok \xff\n", mode="document")
    assert bad[0].reason == "invalid_utf8" and bad[0].raw == b"ok \xff\n"


def test_other_encoding(tmp_path: Path) -> None:
    items = read(tmp_path, "café\n".encode("latin-1"), encoding="latin-1")
    assert items == [(1, {"text": "café\n"}, None)]


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_truncated_stream(tmp_path: Path, codec: str) -> None:
    data = b"".join(
        b"paragraph %d has some words\nand a second line\n\n" % i for i in range(40_000)
    )
    stored = compress(data, codec)
    path = tmp_path / "cut.txt"
    path.write_bytes(stored[: len(stored) // 2])
    items = list(read_source(SourceFile(path, "cut.txt"), "text", {}, ReadLimits(), tmp_path))
    last = items[-1]
    assert isinstance(last, Rejection) and last.reason == "corrupt_file"
    assert all(type(i) is tuple for i in items[:-1])
    kept = reassemble(items[:-1])
    assert len(kept) > len(data) // 4 and kept.endswith(b"\n")
    # the cut line is the rejection's raw, never a written chunk
    assert last.raw and b"\n" not in last.raw and data.startswith(kept + last.raw)
    assert last.position == kept.count(b"\n") + 1
    document = list(
        read_source(
            SourceFile(path, "cut.txt"), "text", {"mode": "document"}, ReadLimits(), tmp_path
        )
    )
    assert [(i.position, i.reason) for i in document] == [(1, "corrupt_file")]
    # the document read before the cut is its raw, not dropped
    assert document[0].raw and data.startswith(document[0].raw)
    assert len(document[0].raw) > len(kept)


def _gzip_cut_after(written: bytes, rest: bytes) -> bytes:
    """A gzip file cut short (a cut download) right after the content `written`."""
    compressor = zlib.compressobj(wbits=31)
    head = compressor.compress(written) + compressor.flush(zlib.Z_FULL_FLUSH)
    whole = head + compressor.compress(rest) + compressor.flush()
    assert gzip.decompress(whole) == written + rest
    return head


@pytest.mark.parametrize(
    ("written", "kept", "cut"),
    [
        (b"alpha beta\n\ngamma delt", [(1, "alpha beta\n\n")], b"gamma delt"),
        # the cut line's chunk keeps its complete lines; the cut piece goes
        (b"one\ntwo\nthr", [(1, "one\ntwo\n")], b"thr"),
        # cut inside a character: corrupt_file, not invalid_utf8
        (b"ok\n\ncaf\xc3", [(1, "ok\n\n")], b"caf\xc3"),
        # a long line: its earlier pieces are whole chunks (max_chars each), the last is cut
        (b"x" * 45, [(1, "x" * 20), (1, "x" * 20)], b"x" * 5),
        (b"", [], b""),
    ],
)
def test_a_cut_gzip_file_never_writes_its_cut_line(
    tmp_path: Path, written: bytes, kept: list[tuple[int, str]], cut: bytes
) -> None:
    """README, "Corrupt gzip members": every complete line before the cut is kept and the cut
    line is `corrupt_file`. Before: the chunk holding the cut line was written, cut."""
    path = tmp_path / "cut.txt"
    path.write_bytes(_gzip_cut_after(written, b"a epsilon\n\nmore\n"))
    items = list(
        read_source(SourceFile(path, "cut.txt"), "text", {"max_chars": 20}, ReadLimits(), tmp_path)
    )
    assert [(i[0], i[1]["text"]) for i in items[:-1]] == kept
    last = items[-1]
    assert isinstance(last, Rejection) and last.reason == "corrupt_file"
    assert last.raw == (cut or None) and not last.unread_rest
    assert last.position == written.count(b"\n") + 1
    assert reassemble(items) == written


def test_a_gzip_file_cut_at_a_line_end_keeps_every_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt"
    path.write_bytes(_gzip_cut_after(b"one\n\ntwo\n", b"three\n"))
    items = list(read_source(SourceFile(path, "cut.txt"), "text", {}, ReadLimits(), tmp_path))
    assert items[0] == (1, {"text": "one\n\ntwo\n"}, None)
    assert [(i.position, i.reason, i.raw) for i in items[1:]] == [(4, "corrupt_file", None)]


def _cut_trailer(data: bytes, codec: str) -> bytes:
    """A gzip/zstd file whose text all decodes but whose stream is cut (trailer missing)."""
    if codec == "gzip":
        return gzip.compress(data, mtime=0)[:-8]
    return zstandard.ZstdCompressor(write_checksum=True).compress(data)[:-4]


CUT_BODIES = [
    "\n\nhello",  # blank lines at the file start, then the cut line
    "abcdefgh\n\n\nxyz",  # blank lines left open after a long line
    "one\n\n\ntwo",
    "para one\nline\n\n \t\n\ncut",
    " \n\u3000\nx",
    "a\n\nb\n\n\n\nc",
    "abc\n",  # cut at a line end: nothing cut
]


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
@pytest.mark.parametrize("body", CUT_BODIES)
def test_a_cut_stream_never_makes_blank_lines_a_chunk_of_their_own(
    tmp_path: Path, codec: str, body: str
) -> None:
    """Before: the cut-stream branch split the last chunk at its last newline after blank text
    had been attached to it, and yielded the blank lines before the cut line as a chunk of
    their own (`\\n\\nhello`, `abcdefgh\\n\\n\\nxyz`): the text adapter rejected it
    adapter:empty_text. They are attached to the chunk before, or (at the file start) to the
    cut line's rejection."""
    data = body.encode()
    cut_line = body.count("\n") + 1
    for max_chars in range(1, len(body) + 2):
        items = read(tmp_path, _cut_trailer(data, codec), max_chars=max_chars)
        *chunks, last = items
        assert isinstance(last, Rejection) and last.reason == "corrupt_file", items
        assert all(type(i) is tuple and i[1]["text"].strip() for i in chunks), (max_chars, items)
        if max_chars < longest_blank_run(body):  # the rest of the run stands alone: no record
            assert last.position <= cut_line
            continue
        assert reassemble(items) == data
        tail = body[body.rfind("\n") + 1 :]
        if not tail:
            assert last.raw is None and last.position == cut_line
        elif chunks:  # the cut line's last piece (its earlier ones are chunks)
            assert last.raw and tail.encode().endswith(last.raw), (max_chars, items)
            assert last.position == cut_line
        else:  # only blank lines before the cut line: they go with it
            assert last.raw == data and last.position == 1
            assert f"(line {cut_line})" in last.detail or cut_line == 1


# A lone high surrogate code unit, a lone low one (in UTF-16-LE the bytes 80 dc, which
# surrogateescape cannot give back), a file ending inside a character.
BAD_UNITS = {"lone_high": 0xD800, "lone_low": 0xDC80, "odd_end": None}


def _utf16_32(codec: str, bom: bytes, bad: str, tail: str) -> tuple[bytes, bytes]:
    """(file, bytes after its BOM) with the unit `bad` between good paragraphs."""
    good, after = "ab\n\n", "cd\nx\n"
    unit = BAD_UNITS[bad]
    if unit is None:
        body = (good + after).encode(codec) + b"A"
    else:
        size = 2 if codec.startswith("utf-16") else 4
        order = "little" if codec.endswith("le") else "big"
        body = good.encode(codec) + unit.to_bytes(size, order) + after.encode(codec)
    return bom + body + tail.encode(codec), body + tail.encode(codec)


@pytest.mark.parametrize("bad", sorted(BAD_UNITS))
@pytest.mark.parametrize(
    ("encoding", "codec", "bom"),
    [
        ("utf-16-le", "utf-16-le", b""),
        ("UTF_16BE", "utf-16-be", b""),
        ("utf-16", "utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-16", "utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-32", "utf-32-be", codecs.BOM_UTF32_BE),
        ("utf-32-le", "utf-32-le", b""),
    ],
)
def test_utf16_32_undecodable_units_reject_only_their_chunk(
    tmp_path: Path, encoding: str, codec: str, bom: bytes, bad: str
) -> None:
    """Before: a lone surrogate unit or a file ending inside a character raised
    UnicodeDecodeError, and the bytes 80 dc UnicodeEncodeError, failing the partition."""
    data, body = _utf16_32(codec, bom, bad, "" if bad == "odd_end" else "\nend\n")
    items = read(tmp_path, data, max_chars=6, encoding=encoding)
    assert items[0] == (1, {"text": "ab\n\n"}, None)
    rejected = [i for i in items if isinstance(i, Rejection)]
    assert [(r.position, r.reason) for r in rejected] == [(3, "invalid_encoding")]
    assert rejected[0].raw in body and rejected[0].raw_size == len(rejected[0].raw)
    assert reassemble(items, codec) == body
    if bad != "odd_end":  # the rest of the file is read
        assert items[-1] == (6, {"text": "end\n"}, None)
    (document,) = read(tmp_path, data, mode="document", encoding=encoding)
    assert isinstance(document, Rejection) and document.reason == "invalid_encoding"
    assert document.raw == body


@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "utf_8_sig", "UTF-8-SIG", "utf-8-sig"])
def test_every_spelling_of_utf8_rejects_the_files_bytes_as_invalid_utf8(
    tmp_path: Path, encoding: str
) -> None:
    """Before: with `utf_8_sig` or `UTF-8-SIG` a rejected chunk's raw got a BOM the file does
    not have, and the reason was invalid_encoding."""
    assert resolve_options("text", {"encoding": encoding})["encoding"] in ("utf-8", "utf-8-sig")
    for data in (b"ok\n\nbad \xff\n", b"\xef\xbb\xbfok\n\nbad \xff\n"):
        items = read(tmp_path, data, max_chars=4, encoding=encoding)
        rejected = [i for i in items if isinstance(i, Rejection)]
        assert [(r.position, r.reason, r.raw) for r in rejected] == [(3, "invalid_utf8", b"\xff\n")]
        assert "not valid utf-8 " in rejected[0].detail
        (document,) = read(tmp_path, data, mode="document", encoding=encoding)
        assert isinstance(document, Rejection) and document.reason == "invalid_utf8"
        assert document.raw == data.removeprefix(codecs.BOM_UTF8)


@pytest.mark.parametrize("encoding", ["utf-16", "UTF-32"])
def test_utf16_32_without_a_bom_is_refused_whole_never_read_in_the_machines_order(
    tmp_path: Path, encoding: str
) -> None:
    """Python reads such a file in the machine's byte order: the same bytes would be other
    text on another machine (big-endian `hello` read as little-endian is CJK)."""
    data = "hello\nworld\n".encode(encoding.lower() + "-be")
    items = read(tmp_path, data, encoding=encoding)
    assert len(items) == 1 and isinstance(items[0], Rejection)
    assert items[0].reason == "invalid_encoding" and items[0].position == 0
    assert "without a byte-order mark" in items[0].detail and "-le or " in items[0].detail


def _peak_read(tmp_path: Path, data: bytes) -> tuple[list[Any], int]:
    """The items read from `data` and the reading's peak of traced memory."""
    path = tmp_path / "blank.txt"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        items = list(
            read_source(SourceFile(path, path.name), "text", {}, ReadLimits(16 << 20), tmp_path)
        )
        return items, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("blank", "size"),
    [(" ", 16 << 20), (" " * 999 + "\n", 16 << 20), ("\u3000" * 99 + "\r\n", 12 << 20)],
)
def test_a_long_blank_run_is_read_in_bounded_memory_and_no_paragraph_is_lost(
    tmp_path: Path, blank: str, size: int
) -> None:
    """Before: every blank chunk of a run was held and attached to the paragraph before it
    (or at the file start after it), so memory grew with the run (~14x through a build) and
    the paragraph became a chunk the transform stage rejected too_large. Now at most max_chars
    (4000) characters of blank text are attached; the rest of the run is not a record."""
    _peak_read(tmp_path, b"warm up\n")
    run = blank * (size // len(blank.encode()))
    text = run + "hello\n" + run + "world\n" + run
    items, peak = _peak_read(tmp_path, text.encode())
    assert peak < 12 << 20, peak  # read buffers, not the runs (before: 60 to 190 MB)
    assert [i[1]["text"].strip(BLANK_CHARS) for i in items] == ["hello", "world"]
    for (line, record, _), word in zip(items, ["hello", "world"], strict=True):
        assert len(record["text"]) <= 3 * 4000  # the word, at most 4000 blank characters each side
        start = text.index(word) - record["text"].index(word)  # an exact span of the text
        assert text[start : start + len(record["text"])] == record["text"]
        assert line == text.count("\n", 0, start) + 1
    blank_file, peak = _peak_read(tmp_path, run.encode())
    assert peak < 12 << 20, peak
    # a file blank throughout: one record, its last blank chunk (the adapter: empty_text)
    assert len(blank_file) == 1 and not blank_file[0][1]["text"].strip(BLANK_CHARS)
    assert 0 < len(blank_file[0][1]["text"]) <= 4000


def test_blank_lines_past_max_chars_are_no_record(tmp_path: Path) -> None:
    data = b"\n" * 30 + b"hello\n" + b"\n" * 30 + b"world" + b" \n" * 30
    items = read(tmp_path, data, max_chars=10)
    assert items == [
        (21, {"text": "\n" * 10 + "hello\n" + "\n" * 14}, None),
        (62, {"text": "world \n" + " \n" * 6}, None),
    ]
    assert read(tmp_path, data) == [(1, {"text": data.decode()}, None)]  # max_chars 4000


def test_unicode_escape_lines_are_counted_in_the_decoded_text(tmp_path: Path) -> None:
    """README's known limit of the text reader: a line number counts the decoded text's
    lines. With `unicode_escape` an escaped newline (`\\n`, two bytes) ends a line too, and a
    backslash before a real newline (a line continuation) joins two physical lines."""
    one_line = b"first paragraph\\n\\nsecond paragraph\\n\\nthird paragraph\n"
    items = read(tmp_path, one_line, max_chars=20, encoding="unicode_escape")
    assert [(i[0], i[1]["text"]) for i in items] == [
        (1, "first paragraph\n\n"),
        (3, "second paragraph\n\n"),
        (5, "third paragraph\n"),
    ]
    joined = b"first \\\nhalf\n\nsecond\n"  # physical lines 1-2 decode as one line
    items = read(tmp_path, joined, max_chars=12, encoding="unicode_escape")
    # `second` is on the file's line 4, the decoded text's line 3.
    assert [(i[0], i[1]["text"]) for i in items] == [(1, "first half\n\n"), (3, "second\n")]
