"""Each object store against a real server on loopback (moto's S3, fake-gcs-server, Azurite):
conditional publish, uploads invisible until committed, aborted and stale uploads cleared,
ranged reads, listings, globs, removal."""

from __future__ import annotations

import pytest

from jsonl_assets.core.store.base import ABSENT, PreconditionFailed, read_bytes, store_for
from jsonl_assets.core.store.url import StoreURL, location, store_glob

from .object_server import ObjectServer, pending_uploads

pytestmark = pytest.mark.slow  # starting the servers takes seconds


def test_publish_is_conditional(object_store: ObjectServer) -> None:
    path = object_store.url("pkg/metadata.json")
    store = store_for(path)
    first = store.publish(path, b"one", expected_tag=ABSENT)  # If-None-Match: *
    with pytest.raises(PreconditionFailed, match="HTTP 412"):
        store.publish(path, b"two", expected_tag=ABSENT)
    second = store.publish(path, b"two", expected_tag=first.tag)  # If-Match: the ETag
    with pytest.raises(PreconditionFailed, match="HTTP 412"):
        store.publish(path, b"three", expected_tag=first.tag)
    assert read_bytes(path) == b"two" and second.tag != first.tag
    assert store.stat(path) == second


def test_an_upload_is_invisible_until_committed(object_store: ObjectServer) -> None:
    path = object_store.url("pkg/data/big.bin")
    store = store_for(path)
    part: int = store.PART_BYTES  # type: ignore[attr-defined]
    out = store.open_atomic(path)
    data = bytes(range(251)) * (part * 5 // 2 // 251)  # 2.5 parts, written in uneven pieces:
    for start in range(0, len(data), 3_000_017):  # parts sent, a tail buffered
        out.write(data[start : start + 3_000_017])
    assert store.stat(path) is None
    assert pending_uploads(store, object_store.url("pkg")) in (None, ["pkg/data/big.bin"])
    out.commit()
    st = store.stat(path)
    assert st is not None and st.size == len(data) and st.tag
    assert pending_uploads(store, object_store.url("pkg")) in (None, [])
    with store.open_read(path, part - 2, part + 3) as handle:  # a ranged read
        assert handle.read() == data[part - 2 : part + 3]
    with store.open_read(path) as handle:
        assert handle.read() == data
    small = object_store.url("pkg/small.json")
    out = store.open_atomic(small)
    out.write(b"{}")
    assert store.stat(small) is None
    out.commit()
    assert read_bytes(small) == b"{}"


def test_aborted_and_stale_uploads_leave_nothing(object_store: ObjectServer) -> None:
    store = store_for(object_store.url("x"))
    part: int = store.PART_BYTES  # type: ignore[attr-defined]
    aborted = store.open_atomic(object_store.url("pkg/data/a.bin"))
    aborted.write(b"a" * (part + 1))
    aborted.abort()
    stale = store.open_atomic(object_store.url("pkg/data/b.bin"))
    stale.write(b"b" * (part + 1))  # a killed writer: never committed nor aborted
    assert store.stat(object_store.url("pkg/data/a.bin")) is None
    assert store.stat(object_store.url("pkg/data/b.bin")) is None
    pending = pending_uploads(store, object_store.url("pkg"))
    if pending is not None:
        assert pending == ["pkg/data/b.bin"]
        assert store.remove_partials(object_store.url("pkg/data")) == 1
        assert pending_uploads(store, object_store.url("pkg")) == []
    else:
        assert store.remove_partials(object_store.url("pkg/data")) == 0
    assert list(store.list(object_store.url("pkg"))) == []


def test_listing_globs_and_removal(object_store: ObjectServer) -> None:
    store = store_for(object_store.url("x"))
    for key in ("raw/a.jsonl", "raw/sub/b.jsonl", "raw/sub/c.txt"):
        store.publish(object_store.url(key), key.encode())
    assert sorted((e.name, e.is_dir) for e in store.list(object_store.url("raw"))) == [
        ("a.jsonl", False),
        ("sub", True),
    ]
    assert list(store.list(object_store.url("nothing-here"))) == []
    assert list(store_glob(object_store.url("raw/**/*.jsonl"))) == [
        object_store.url("raw/a.jsonl"),
        object_store.url("raw/sub/b.jsonl"),
    ]
    folder = location(object_store.url("raw/sub"))
    assert isinstance(folder, StoreURL) and folder.is_dir() and (folder / "b.jsonl").is_file()
    store.move_in(object_store.url("raw/sub/c.txt"), object_store.url("moved/c.txt"))
    assert read_bytes(object_store.url("moved/c.txt")) == b"raw/sub/c.txt"
    assert store.stat(object_store.url("raw/sub/c.txt")) is None
    store.remove(object_store.url("raw/sub"), recursive=True)
    assert not folder.exists() and [e.name for e in store.list(object_store.url("raw"))] == [
        "a.jsonl"
    ]
    with pytest.raises(FileNotFoundError):
        store.remove(object_store.url("raw/gone"), missing_ok=False)
    store.append(object_store.url("log/ledger"), b"1\n")
    store.append(object_store.url("log/ledger"), b"2\n")
    assert read_bytes(object_store.url("log/ledger")) == b"1\n2\n"
