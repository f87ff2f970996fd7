from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.readers import (
    READERS,
    REASONS,
    ReadLimits,
    SourceChangedError,
    SourceFile,
    infer_format,
    read_source,
    resolve_options,
)


def test_registry_names_and_specs() -> None:
    assert sorted(READERS) == ["csv", "json_array", "jsonl", "parquet", "text", "tsv"]
    kinds = {name: spec.position_kind for name, spec in READERS.items()}
    assert kinds == {
        "jsonl": "line",
        "json_array": "item",
        "csv": "row",
        "tsv": "row",
        "parquet": "row",
        "text": "line",
    }
    for spec in READERS.values():
        assert spec.doc
        for option in spec.options.model_fields.values():
            assert option.description
    assert ReadLimits().max_record_bytes == 16 * 1024 * 1024
    assert len(set(REASONS)) == len(REASONS)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a/b.jsonl", "jsonl"),
        ("b.ndjson.gz", "jsonl"),
        ("x.JSON.zst", "json_array"),
        ("x.json.zstd", "json_array"),
        ("t.csv", "csv"),
        ("t.tsv.gz", "tsv"),
        ("p.parquet", "parquet"),
        ("p.parquet.zst", "parquet"),
        ("notes.txt", "text"),
        ("notes.md", "text"),
    ],
)
def test_infer_format(name: str, fmt: str) -> None:
    assert infer_format(name) == fmt


@pytest.mark.parametrize("name", ["data.xml", "data.gz", "README", "a.jsonl.bz2"])
def test_infer_format_rejects_unknown_extensions(name: str) -> None:
    with pytest.raises(ValueError, match=r"known extensions: .*\.jsonl"):
        infer_format(name)


def test_resolve_options_fills_defaults() -> None:
    assert resolve_options("jsonl", {}) == {}
    assert resolve_options("tsv", {}) == {
        "delimiter": "\t",
        "empty_as_null": False,
        "encoding": "utf-8",
        "quotechar": '"',
    }
    assert resolve_options("text", {"mode": "document"}) == {
        "encoding": "utf-8",
        "max_chars": 4000,
        "mode": "document",
    }


@pytest.mark.parametrize(
    ("fmt", "options", "message"),
    [
        (
            "jsonl",
            {"encoding": "latin-1"},
            r"unknown option 'encoding'; valid options: none",
        ),
        (
            "csv",
            {"delim": ","},
            r"valid options: \['delimiter', 'empty_as_null', 'encoding', 'quotechar'\]",
        ),
        ("text", {"max_chars": True}, "must be int, got bool"),
        ("text", {"max_chars": "10"}, "must be int, got str"),
        ("text", {"mode": "pages"}, r"must be one of \['chunks', 'document'\]"),
        ("text", {"max_chars": 0}, "at least 1"),
        ("csv", {"delimiter": ";;"}, "one character"),
        ("csv", {"encoding": "no-such-codec"}, "unknown codec"),
        ("csv", {"empty_as_null": "yes"}, "must be bool"),
        ("parquet", {"batch_rows": 0}, "at least 1"),
        ("json_array", {"items_path": ""}, "must not be empty"),
        ("xml", {}, "unknown format 'xml'"),
    ],
)
def test_resolve_options_errors(fmt: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_options(fmt, options)


@pytest.mark.parametrize("fmt", sorted(READERS))
def test_zero_byte_file_yields_nothing(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    source = SourceFile(path, "empty")
    assert list(read_source(source, fmt, {}, ReadLimits(), tmp_path)) == []
    assert source.sha256 == hashlib.sha256(b"").hexdigest()


def test_file_modified_while_being_read_raises(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"".join(b'{"n": %d}\n' % i for i in range(300_000)))
    source = SourceFile(path, "a.jsonl")
    items = read_source(source, "jsonl", {}, ReadLimits(), tmp_path)
    first = next(items)
    assert first[0] == 1
    with open(path, "ab") as fh:
        fh.write(b'{"n": "late"}\n')
    with pytest.raises(SourceChangedError, match=r"a\.jsonl: file changed after reading"):
        for _ in items:
            pass


def test_file_replaced_before_reading_raises(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"n": 1}\n')
    source = SourceFile(path, "a.jsonl")
    path.unlink()
    path.write_bytes(b'{"n": 2}\n{"n": 3}\n')
    with pytest.raises(SourceChangedError, match="when opened for reading"):
        list(read_source(source, "jsonl", {}, ReadLimits(), tmp_path))
