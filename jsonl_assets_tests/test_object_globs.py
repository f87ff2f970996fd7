"""Source globs and shard paths on object storage, against real servers on loopback: a key
that is also a prefix is read, hidden names are matched as on local disk, a key that would be
read under another name is refused (config error; C12 in verify), an unsupported URL scheme is
a config error at load time, and a missing output bucket stops a build before it reads."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from jsonl_assets.core.config import ConfigError, check_buckets, load_config
from jsonl_assets.core.config.source_globs import expand_glob
from jsonl_assets.core.store.base import read_bytes, store_for
from jsonl_assets.core.store.url import StoreURL, store_glob
from jsonl_assets.core.verify.package import verify_package

from .conftest import build_with_core, write_config
from .object_server import ObjectServer
from .test_package_verifier import sft_record, simple_package


def _lines(start: int, count: int) -> bytes:
    return b"".join(b'{"text": "record %d"}\n' % i for i in range(start, start + count))


def _config(tmp_path: Path, paths: list[str], output: dict[str, str] | None = None) -> Path:
    source = {"name": "a", "paths": paths, "objective": "cpt", "adapter": "text"}
    source |= {"split": "train", "format": "jsonl"}
    doc = {"dataset": {"name": "t", "description": "d"}, "sources": [source]}
    doc["output"] = {"max_records_per_shard": 1000, **(output or {})}
    return write_config(tmp_path / "pipeline.yaml", doc)


def _put(server: ObjectServer, key: str, data: bytes) -> None:
    store_for(server.url(key)).put_if(server.bucket, key, data, None)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_key_that_is_also_a_prefix_is_read(s3: ObjectServer, tmp_path: Path) -> None:
    # s3fs calls raw/a.jsonl a folder (raw/a.jsonl/b.jsonl lies under it), and raw/c.jsonl
    # too (a console's folder marker raw/c.jsonl/): their records were dropped silently.
    _put(s3, "raw/a.jsonl", _lines(0, 10))
    _put(s3, "raw/a.jsonl/b.jsonl", _lines(10, 10))
    _put(s3, "raw/c.jsonl", _lines(20, 10))
    _put(s3, "raw/c.jsonl/", b"")
    output = {"dir": s3.url("pkg"), "quarantine_dir": s3.url("q"), "work_dir": "work"}
    config = _config(tmp_path, [s3.url("raw/**/*.jsonl")], output)
    cfg = load_config(config)
    assert [i.rel for i in cfg.sources[0].inputs] == [
        s3.url("raw/a.jsonl"),
        s3.url("raw/a.jsonl/b.jsonl"),
        s3.url("raw/c.jsonl"),
    ]
    one_level = _config(tmp_path / "other", [s3.url("raw/*.jsonl")])
    assert len(load_config(one_level).sources[0].inputs) == 2
    package = build_with_core(config)
    meta = orjson.loads(read_bytes(f"{package}/metadata.json"))
    assert sum(s["record_count"] for f in meta["files"] for s in f["shards"]) == 30


@pytest.mark.slow
def test_globs_match_as_on_local_disk(object_store: ObjectServer, tmp_path: Path) -> None:
    names = ["raw/a.jsonl", "raw/.a.jsonl.swp.jsonl", "raw/.dir/b.jsonl", "raw/x/c.jsonl"]
    names += ["raw/x/.e.jsonl", "raw/x/y/d.jsonl", "raw/[ab].jsonl", "rawx/f.jsonl"]
    for name in names:
        _put(object_store, name, b"{}\n")
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"{}\n")
    for pattern in ("raw/*.jsonl", "raw/**", "raw/**/*.jsonl", "**/*.jsonl", "raw/*/*.jsonl"):
        remote = [u[len(object_store.url("")) :] for u in store_glob(object_store.url(pattern))]
        local = sorted(os.path.relpath(p, tmp_path) for p in expand_glob(f"{tmp_path}/{pattern}"))
        assert remote == local, pattern
    for pattern in ("raw/.*.jsonl", "raw/.dir/*", "raw/**/.e.jsonl"):  # named: matched
        assert store_glob(object_store.url(pattern)), pattern


@pytest.mark.slow
@pytest.mark.parametrize(
    ("key", "pattern"),
    [
        ("raw//a.jsonl", "raw/**"),  # read as raw/a.jsonl: gone, or another object
        ("raw/c.jsonl/", "raw/**"),  # content under a trailing '/': read as raw/c.jsonl
        ("raw/a.jsonl?versionId=v2.jsonl", "raw/*.jsonl"),  # s3fs reads raw/a.jsonl
    ],
)
def test_a_glob_matching_a_key_read_under_another_name_is_a_config_error(
    s3: ObjectServer, tmp_path: Path, key: str, pattern: str
) -> None:
    _put(s3, "raw/a.jsonl", _lines(0, 10))
    _put(s3, key, _lines(10, 10))
    with pytest.raises(ConfigError, match="cannot be read under its own name") as caught:
        load_config(_config(tmp_path, [s3.url(pattern)]))
    assert caught.value.key == "sources[0].paths[0]" and repr(key) in str(caught.value)


@pytest.mark.slow
def test_verify_refuses_a_shard_path_that_names_another_key(
    s3: ObjectServer, tmp_path: Path
) -> None:
    shard = simple_package(tmp_path / "local", [sft_record("s1")])
    data = (tmp_path / "local" / shard["path"]).read_bytes()
    meta = orjson.loads((tmp_path / "local" / "metadata.json").read_bytes())
    good = orjson.dumps(meta)
    _put(s3, f"ok/{shard['path']}", data)
    _put(s3, "ok/metadata.json", good)
    assert verify_package(StoreURL(s3.url("ok"))).ok
    for n, path in enumerate(
        (shard["path"].replace("/", "//"), shard["path"] + "/", shard["path"] + "?versionId=x")
    ):
        meta["files"][0]["shards"][0]["path"] = path
        _put(s3, f"p{n}/metadata.json", orjson.dumps(meta))
        _put(s3, f"p{n}/{shard['path']}", data)  # only under the normal key
        report = verify_package(StoreURL(s3.url(f"p{n}")))
        assert not report.ok and [f.rule for f in report.findings] == ["C12"], path
        assert "read as another object" in report.findings[0].message


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("sources[0].paths[0]", "s3a://bucket/raw/*.jsonl"),
        ("sources[0].paths[0]", "https://127.0.0.1:1/raw/a.jsonl"),
        ("output.dir", "s3a://bucket/pkg"),
        ("output.quarantine_dir", "http://127.0.0.1:1/q"),
    ],
)
@pytest.mark.parametrize("list_files", [True, False])
def test_an_unsupported_scheme_is_a_config_error(
    tmp_path: Path, where: str, value: str, list_files: bool
) -> None:
    output = {"dir": "pkg", "quarantine_dir": "q", "work_dir": "work"}
    paths = ["raw/*.jsonl"]
    if where.startswith("output."):
        output[where.split(".")[1]] = value
    else:
        paths = [value]
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.jsonl").write_bytes(_lines(0, 1))
    with pytest.raises(ConfigError, match="unsupported URL scheme") as caught:
        load_config(_config(tmp_path, paths, output), list_files=list_files)
    assert caught.value.key == where and value in str(caught.value)
    assert "s3://" in str(caught.value)  # the supported schemes are named


@pytest.mark.slow
def test_a_missing_output_bucket_stops_the_build_before_it_reads(
    s3: ObjectServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from jsonl_assets.cli import main

    _put(s3, "raw/a.jsonl", _lines(0, 10))
    for name in ("dir", "quarantine_dir"):
        output = {"dir": s3.url("pkg"), "quarantine_dir": s3.url("q"), "work_dir": "work"}
        output[name] = "s3://no-such-bucket-here/x"
        config = _config(tmp_path, [s3.url("raw/*.jsonl")], output)
        with pytest.raises(ConfigError, match="'no-such-bucket-here' does not exist"):
            check_buckets(load_config(config))
        assert main(["build", "--config", str(config)]) == 2
        err = capsys.readouterr().err
        assert f"output.{name}" in err and "does not exist" in err
        assert not (tmp_path / "work").exists()  # no source was read, no stage ran


@pytest.mark.slow
def test_the_sensor_cursor_keeps_an_object_whose_key_holds_a_nul(
    s3: ObjectServer, tmp_path: Path
) -> None:
    """An object key may hold a NUL (a local path cannot): the cursor's key of such an object
    failed to decode (`binascii.Error`), so the sensor threw its cursor away on every tick and
    saw no change of any source again."""
    from jsonl_assets.core.sensor_cursor import dump_cursor, load_cursor
    from jsonl_assets.core.source_fingerprints import take_snapshot

    _put(s3, "raw/a.jsonl", _lines(0, 3))
    _put(s3, "raw/n\0ul.jsonl", _lines(3, 3))
    _put(s3, "raw/\0lead.jsonl", _lines(6, 3))
    snap = take_snapshot(load_config(_config(tmp_path, [s3.url("raw/*.jsonl")])))
    assert len(snap.files) == 3
    folder = tmp_path / "sensor"
    cursor = load_cursor(dump_cursor(snap, "abcd", 1, folder), folder)
    assert cursor is not None
    assert dict(cursor.snapshot.files) == dict(snap.files)
    assert dict(cursor.snapshot.sources) == dict(snap.sources)
