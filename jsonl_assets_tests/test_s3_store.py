"""The S3 store against a real S3 server on loopback (moto): conditional publish, multipart
writes invisible until committed, stale uploads aborted, ranged reads, listings."""

from __future__ import annotations

import pytest

from jsonl_assets.core.store.base import ABSENT, PreconditionFailed, read_bytes, store_for
from jsonl_assets.core.store.s3 import PART_BYTES
from jsonl_assets.core.store.url import StoreURL, location, store_glob

from .moto_server import S3Server

PART = PART_BYTES

pytestmark = pytest.mark.slow  # starting the moto server takes seconds


def test_publish_is_conditional(s3: S3Server) -> None:
    path = s3.url("pkg/metadata.json")
    store = store_for(path)
    first = store.publish(path, b"one", expected_tag=ABSENT)  # If-None-Match: *
    with pytest.raises(PreconditionFailed, match="HTTP 412"):
        store.publish(path, b"two", expected_tag=ABSENT)
    second = store.publish(path, b"two", expected_tag=first.tag)  # If-Match: the ETag
    with pytest.raises(PreconditionFailed, match="HTTP 412"):
        store.publish(path, b"three", expected_tag=first.tag)
    assert read_bytes(path) == b"two" and second.tag != first.tag


def test_a_multipart_write_is_invisible_until_committed(s3: S3Server) -> None:
    path = s3.url("pkg/data/big.bin")
    store = store_for(path)
    out = store.open_atomic(path)
    data = bytes(range(256)) * (PART // 256) + b"tail"
    out.write(data[:PART])  # one part sent
    out.write(data[PART:])  # the tail buffered
    assert store.stat(path) is None and store.incomplete_uploads(s3.url("pkg")) == [  # type: ignore[attr-defined]
        "pkg/data/big.bin"
    ]
    out.commit()
    st = store.stat(path)
    assert st is not None and st.size == len(data) and st.etag
    assert store.incomplete_uploads(s3.url("pkg")) == []  # type: ignore[attr-defined]
    with store.open_read(path, PART - 2, PART + 3) as handle:  # a ranged read
        assert handle.read() == data[PART - 2 : PART + 3]
    with store.open_read(path) as handle:
        assert handle.read() == data


def test_aborted_and_stale_uploads_leave_nothing(s3: S3Server) -> None:
    store = store_for(s3.url("x"))
    aborted = store.open_atomic(s3.url("pkg/data/a.bin"))
    aborted.write(b"a" * (PART + 1))
    aborted.abort()
    stale = store.open_atomic(s3.url("pkg/data/b.bin"))
    stale.write(b"b" * (PART + 1))  # a killed writer: never committed nor aborted
    assert store.stat(s3.url("pkg/data/a.bin")) is None
    assert store.incomplete_uploads(s3.url("pkg")) == ["pkg/data/b.bin"]  # type: ignore[attr-defined]
    assert store.remove_partials(s3.url("pkg/data")) == 1
    assert store.incomplete_uploads(s3.url("pkg")) == []  # type: ignore[attr-defined]
    assert list(store.list(s3.url("pkg"))) == []


def test_listing_globs_and_removal(s3: S3Server) -> None:
    store = store_for(s3.url("x"))
    for key in ("raw/a.jsonl", "raw/sub/b.jsonl", "raw/sub/c.txt"):
        store.publish(s3.url(key), key.encode())
    assert sorted((e.name, e.is_dir) for e in store.list(s3.url("raw"))) == [
        ("a.jsonl", False),
        ("sub", True),
    ]
    assert store_glob(s3.url("raw/**/*.jsonl")) == [
        s3.url("raw/a.jsonl"),
        s3.url("raw/sub/b.jsonl"),
    ]
    folder = location(s3.url("raw/sub"))
    assert isinstance(folder, StoreURL) and folder.is_dir() and (folder / "b.jsonl").is_file()
    store.remove(s3.url("raw/sub"), recursive=True)
    assert not folder.exists() and [e.name for e in store.list(s3.url("raw"))] == ["a.jsonl"]
