"""Text reader, mode `document`, a gzip file cut short: the `corrupt_file` rejection's raw is
the bytes read before the cut (after the BOM), whatever the encoding. Before, it was the
decoded text encoded again: other bytes for codecs with several spellings of one text
(`unicode_escape`: `\\ud83d\\ude00` came back as `\\U0001f600`, a raw `é` as `\\xc3\\xa9`)."""

from __future__ import annotations

import codecs
import gzip
import zlib
from pathlib import Path

import pytest

from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source, resolve_options
from jsonl_assets.core.traces import Rejection

TEXT = "doc \U0001f600 café end.\nline two\n"


def _gzip_cut_after(written: bytes, rest: bytes) -> bytes:
    """A gzip file cut short (a cut download) right after the content `written`."""
    compressor = zlib.compressobj(wbits=31)
    head = compressor.compress(written) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert gzip.decompress(head + compressor.compress(rest) + compressor.flush()) == written + rest
    return head


@pytest.mark.parametrize(
    ("encoding", "body", "bom"),
    [
        ("utf-8", TEXT.encode(), b""),
        ("utf-8", TEXT.encode(), codecs.BOM_UTF8),
        ("utf-16", TEXT.encode("utf-16-le"), codecs.BOM_UTF16_LE),
        ("utf-16-be", TEXT.encode("utf-16-be"), b""),
        ("utf-32", TEXT.encode("utf-32-be"), codecs.BOM_UTF32_BE),
        ("latin-1", TEXT.encode("latin-1", "replace"), b""),
        ("cp1252", TEXT.encode("cp1252", "replace"), b""),
        # several spellings of one text: decoding and encoding again gives other bytes
        ("unicode_escape", b"doc \\ud83d\\ude00 caf\xc3\xa9 \\x41 end.\nline two\n", b""),
        ("raw_unicode_escape", b"doc \\ud83d\\ude00 caf\xe9 \\u0041 end.\nline two\n", b""),
        ("utf-7", b"doc +2D3eAA- caf+AOk- +AEE- end.\nline two\n", b""),
        ("iso-2022-jp", "日本 \x1b(Bend.\n".encode("iso-2022-jp") + b"\x1b(B\x1b(B\n", b""),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_cut_documents_raw_is_the_bytes_read(
    tmp_path: Path, encoding: str, body: bytes, bom: bytes
) -> None:
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(_gzip_cut_after(bom + body, b"more text\n"))
    options = resolve_options("text", {"mode": "document", "encoding": encoding})
    items = list(read_source(SourceFile(path, path.name), "text", options, ReadLimits(), tmp_path))
    [rejection] = items
    assert isinstance(rejection, Rejection) and rejection.reason == "corrupt_file"
    assert (rejection.raw, rejection.raw_size) == (body, len(body))
