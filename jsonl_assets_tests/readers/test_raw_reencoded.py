"""A rejected CSV row's or text chunk's raw is its text encoded again, which is the file's
bytes only for codecs that write a text one way and read no two byte sequences as one text.
For the others (`unicode_escape`: `\\u00e9` came back `\\xe9`; mac_arabic: a space came back
0xA0; cp875: 0x3F came back 0xFD) the quarantine entry says so (`raw_reencoded`); the README
and csv_text.py used to claim exact bytes for every single-byte codec and named only ISO-2022,
UTF-7 and cp932."""

from __future__ import annotations

import codecs
import encodings
import pkgutil
import re
from pathlib import Path
from typing import Any

import orjson

from jsonl_assets.core.build import build_partition
from jsonl_assets.core.config import load_config
from jsonl_assets.core.pending_rejections import PendingRejections
from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source, resolve_options
from jsonl_assets.core.readers.csv_text import _is_text_codec, reencodes
from jsonl_assets.core.traces import Rejection
from jsonl_assets_tests.conftest import write_config

README = Path(__file__).parents[2] / "README.md"


def _rejections(tmp_path: Path, name: str, data: bytes, fmt: str, options: dict) -> list[Any]:
    path = tmp_path / name
    path.write_bytes(data)
    resolved = resolve_options(fmt, options)
    items = read_source(SourceFile(path, name), fmt, resolved, ReadLimits(), tmp_path / "s")
    return [i for i in items if isinstance(i, Rejection)]


def test_the_reencoding_codecs_are_found_and_the_exact_ones_are_not() -> None:
    for codec in ("mac-arabic", "mac_farsi", "cp875", "cp1006", "big5", "johab", "cp932"):
        assert reencodes(codec), codec
    for codec in ("unicode_escape", "raw_unicode_escape", "utf-7", "iso2022_jp"):
        assert reencodes(codec), codec
    for codec in ("utf-8", "utf-16-le", "utf-32-be", "latin-1", "cp1252", "cp037", "gb18030"):
        assert not reencodes(codec), codec


def test_a_rejected_row_or_chunk_whose_raw_is_reencoded_says_so(tmp_path: Path) -> None:
    m = _rejections(
        tmp_path, "m.csv", b'text,b\na b,"x (y)",3\nok,1\n', "csv", {"encoding": "mac_arabic"}
    )
    assert [(r.reason, r.raw_reencoded) for r in m] == [("csv_field_count", "mac-arabic")]
    assert m[0].raw != b'a b,"x (y)",3'  # the text encoded again: the mark is needed
    e = b"text,b\n" + b"\x3f" + "what,1,2\nok,1\n".encode("cp875")
    assert [
        r.raw_reencoded for r in _rejections(tmp_path, "e.csv", e, "csv", {"encoding": "cp875"})
    ] == ["cp875"]
    t = _rejections(
        tmp_path,
        "t.txt",
        b"caf\\u00e9 \\x41\n\nbad \\x4 x\n",
        "text",
        {"encoding": "unicode_escape"},
    )
    assert [(r.reason, r.raw_reencoded) for r in t] == [("invalid_encoding", "unicode-escape")]
    # exact codecs: no mark
    for encoding in ("utf-8", "latin-1", "cp1252"):
        rows = _rejections(tmp_path, "u.csv", b"text,b\nx,1,2\n", "csv", {"encoding": encoding})
        assert [(r.raw, r.raw_reencoded) for r in rows] == [(b"x,1,2", None)]
    # a document's raw is the bytes read, whatever the codec
    doc = _rejections(
        tmp_path, "d.txt", b"bad \\x4\n", "text", {"encoding": "unicode_escape", "mode": "document"}
    )
    assert [(r.raw, r.raw_reencoded) for r in doc] == [(b"bad \\x4\n", None)]


def test_the_mark_survives_a_spill_of_the_pending_rejections(tmp_path: Path) -> None:
    pending = PendingRejections(tmp_path, memory_bytes=0)
    pending.append(Rejection(1, "csv_field_count", "d", b"a\xa0b", raw_reencoded="mac-arabic"))
    pending.append(Rejection(2, "corrupt_file", "d", None, unread_rest=True))
    assert pending.spilled == 2
    assert [(r.raw, r.raw_reencoded, r.unread_rest) for r in pending] == [
        (b"a\xa0b", "mac-arabic", False),
        (None, None, True),
    ]
    pending.close()


def test_a_build_writes_the_mark_in_the_quarantine_entry_only_when_reencoded(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "m.csv").write_bytes(b'text,b\na b,"x (y)",3\nok,1\n')
    (raw / "u.csv").write_bytes(b"text,b\nx,1,2\nok,2\n")
    sources = [
        {
            "name": name,
            "paths": [f"raw/{name}.csv"],
            "read_options": {"encoding": enc},
            "objective": "cpt",
            "adapter": "text",
            "split": "train",
        }
        for name, enc in (("m", "mac_arabic"), ("u", "utf-8"))
    ]
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "d"},
            "thresholds": {"max_parse_failure_rate": 1},
            "sources": sources,
        },
    )
    build_partition(load_config(config), "cpt|train")
    entries = [
        orjson.loads(line)
        for path in sorted(tmp_path.rglob("extracted.jsonl"))
        for line in path.read_bytes().splitlines()
    ]
    by_source = {e["trace"]["source"]: e for e in entries}
    assert by_source["m"]["raw_reencoded"] == "mac-arabic"
    assert "raw_reencoded" not in by_source["u"] and by_source["u"]["raw"] == "x,1,2"


def test_the_readme_lists_the_reencoding_codecs() -> None:
    names = set()
    for module in pkgutil.iter_modules(encodings.__path__):
        try:
            info = codecs.lookup(module.name)
        except LookupError:
            continue
        if _is_text_codec(info) and info.name not in ("utf-8-sig", "utf-16", "utf-32"):
            names.add(info.name)  # the BOM codecs are read as utf-8, -le or -be (file_codec)
    computed = sorted(n for n in names if reencodes(n))
    text = README.read_text(encoding="utf-8")
    listed = re.search(r"<!-- reencoding-codecs -->(.*?)<!-- /reencoding-codecs -->", text, re.S)
    assert listed is not None
    assert sorted(re.findall(r"`([^`]+)`", listed.group(1))) == computed
