"""How a build reads its source objects, against real servers on loopback: the listing names
each object's version, a small object costs one GET and no HEAD, a rebuild with nothing
changed asks no object anything, an object overwritten after its listing is never read as
the listed one (a conditional GET on S3, a check at open elsewhere), and the chunk steps of
the `build_chunks` job list no bucket (their plan names the objects)."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import orjson
import polars as pl
import pytest
import yaml
import zstandard

from jsonl_assets.core.build import build_partition
from jsonl_assets.core.config import load_config
from jsonl_assets.core.readers import ReadLimits, read_source
from jsonl_assets.core.readers.source_file import SMALL_OBJECT, SourceChangedError, SourceFile
from jsonl_assets.core.stage_report import StageError
from jsonl_assets.core.store.base import read_bytes, store_for
from jsonl_assets.core.store.url import store_glob
from jsonl_assets.defs.chunk_job import build_chunks

from .conftest import write_config
from .moto_server import recorded_requests
from .object_server import ObjectServer

pytestmark = pytest.mark.slow  # starting the servers takes seconds

OBJECTS = 24


def _rows(n: int, tag: str = "") -> bytes:
    rows = [{"instruction": f"q{n}.{i}{tag}", "output": f"a{n}.{i}"} for i in range(4)]
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def _config(object_store: ObjectServer, root: Path) -> Path:
    source = {"objective": "sft", "adapter": "alpaca", "split": "train", "license": "MIT"}
    return write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "many small objects"},
            "output": {
                "dir": object_store.url("pkg"),
                "quarantine_dir": object_store.url("pkg-quarantine"),
                "work_dir": "work",
            },
            "sources": [{"name": "a", "paths": [object_store.url("raw/*.jsonl")], **source}],
        },
    )


def _build(config: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jsonl_assets.cli", "build", "--config", str(config)],
        env={**os.environ, **env, "DAGSTER_HOME": str(config.parent / "home")},
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _per_object(requests: list[tuple[str, str]], bucket: str) -> dict[str, list[str]]:
    """The methods of the requests that named one raw object, by object."""
    per: dict[str, list[str]] = collections.defaultdict(list)
    for method, path in requests:
        if path.startswith(f"/{bucket}/raw/"):
            per[path.rsplit("/", 1)[-1]].append(method)
    return dict(per)


def _listings(requests: list[tuple[str, str]]) -> int:
    """How many requests listed the raw objects."""
    return sum(m == "GET" and "prefix=raw/" in p for m, p in requests)


def _listings_of_one_load(s3: ObjectServer, config: Path) -> int:
    with recorded_requests(s3.endpoint) as requests:
        load_config(config)
    assert _listings(requests)  # the glob lists the bucket
    return _listings(requests)


def _records(package: str) -> list[dict[str, Any]]:
    """The package's records, in metadata.json's order."""
    meta = orjson.loads(read_bytes(f"{package}/metadata.json"))
    out = []
    for entry in meta["files"]:
        for shard in entry["shards"]:
            data = zstandard.ZstdDecompressor().stream_reader(
                read_bytes(f"{package}/{shard['path']}")
            )
            out.extend(orjson.loads(line) for line in data.read().splitlines())
    return out


def _questions(package: str) -> list[str]:
    return sorted(r["messages"][0]["content"][0]["text"] for r in _records(package))


def test_a_small_object_costs_one_get_and_a_rebuild_with_nothing_changed_none(
    s3: ObjectServer, tmp_path: Path
) -> None:
    store = store_for(s3.url("raw"))
    for n in range(OBJECTS):
        store.publish(s3.url(f"raw/part{n:03d}.jsonl"), _rows(n))
    config = _config(s3, tmp_path)
    expected = sorted(f"q{n}.{i}" for n in range(OBJECTS) for i in range(4))

    with recorded_requests(s3.endpoint) as first:
        _build(config, s3.env)
    names = [f"part{n:03d}.jsonl" for n in range(OBJECTS)]
    assert _per_object(first, s3.bucket) == {name: ["GET"] for name in names}
    # The build lists the bucket as one config load does, however often its runs load it.
    assert _listings(first) == _listings_of_one_load(s3, config)
    assert _questions(s3.url("pkg")) == expected

    with recorded_requests(s3.endpoint) as again:
        _build(config, s3.env)
    assert _per_object(again, s3.bucket) == {}
    assert again, "the rebuild was recorded (it lists the bucket and reads the package)"

    # Same size, new bytes: the ETag names it, so the partition is read again - once.
    store.publish(s3.url("raw/part005.jsonl"), _rows(5, "!"))
    with recorded_requests(s3.endpoint) as changed:
        _build(config, s3.env)
    assert _per_object(changed, s3.bucket) == {name: ["GET"] for name in names}
    assert _questions(s3.url("pkg")) == sorted(
        q + "!" if q.startswith("q5.") else q for q in expected
    )


@pytest.mark.parametrize("size", ["small", "large"])
def test_an_object_overwritten_after_its_listing_is_never_read_as_the_listed_one(
    object_store: ObjectServer, size: str
) -> None:
    url = object_store.url("raw/a.jsonl")
    lines = 1 if size == "small" else 2 * SMALL_OBJECT // 18 + 1000  # 18 bytes a line
    body = b"".join(b'{"n": %10d}\n' % i for i in range(lines))
    store = store_for(url)
    store.publish(url, body)
    listed = store_glob(object_store.url("raw/*.jsonl"))[url]
    assert listed.size == len(body)
    if size == "small":
        store.publish(url, body.replace(b"0", b"1"))  # same size, other bytes
        with pytest.raises(SourceChangedError, match=r"a\.jsonl: file changed when opened"):
            SourceFile(url, url, listed)
        return
    source = SourceFile(url, url, listed)
    chunks = source.chunks(size=1 << 20)
    assert next(chunks).startswith(b'{"n":          0}')
    store.publish(url, body.replace(b"0", b"1"))
    with pytest.raises(SourceChangedError, match=r"a\.jsonl"):
        for _ in chunks:
            pass
        source.ensure_unchanged()


def test_a_build_whose_listed_object_was_overwritten_fails_and_the_rerun_reads_the_new_one(
    s3: ObjectServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_for(s3.url("raw"))
    for n in range(3):
        store.publish(s3.url(f"raw/part{n:03d}.jsonl"), _rows(n))
    config = _config(s3, tmp_path)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(config)  # the listing: the build holds every object to it
    store.publish(s3.url("raw/part001.jsonl"), _rows(1, "!"))
    with pytest.raises(StageError, match=r"raw/part001\.jsonl: file changed when opened"):
        build_partition(cfg, "sft|train")
    result = build_partition(load_config(config), "sft|train")
    assert result.shards is not None and result.shards.records_out == 12


def test_the_chunk_steps_of_the_job_read_the_objects_their_plan_names_and_list_nothing(
    s3: ObjectServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_for(s3.url("raw"))
    for n in range(OBJECTS):
        rows = [{"instruction": f"q{n}.{i}", "output": f"a{n}.{i}"} for i in range(40)]
        store.publish(
            s3.url(f"raw/part{n:03d}.jsonl"), b"".join(orjson.dumps(r) + b"\n" for r in rows)
        )
    config = _config(s3, tmp_path)
    doc = orjson.loads(orjson.dumps(yaml.safe_load(config.read_text())))
    doc["output"]["chunk_bytes"] = 8192
    write_config(config, doc)
    monkeypatch.chdir(tmp_path)
    run_config = {
        "ops": {"plan": {"config": {"partition": "sft|train"}}},
        "resources": {"pipeline": {"config": {"config_path": str(config)}}},
        "execution": {"config": {"in_process": {}}},
    }
    with recorded_requests(s3.endpoint) as requests, dg.instance_for_test() as instance:
        result = dg.execute_job(
            dg.reconstructable(build_chunks), instance=instance, run_config=run_config
        )
    assert result.success
    chunk_steps = [
        e for e in result.all_events if e.is_step_start and e.step_key.startswith("chunk[")
    ]
    assert len(chunk_steps) >= 4
    # The plan step's config and the merge step's: none for the chunk steps.
    assert _listings(requests) == 2 * _listings_of_one_load(s3, config)
    assert _per_object(requests, s3.bucket) == {
        f"part{n:03d}.jsonl": ["GET"] for n in range(OBJECTS)
    }
    cfg = load_config(config)
    assert build_partition(cfg, "sft|train").shards.records_out == OBJECTS * 40  # reused


@pytest.mark.parametrize("rows", [100, 60_000])
def test_a_parquet_object_is_read_whole_or_by_polars_and_checked_after_the_read(
    object_store: ObjectServer, tmp_path: Path, rows: int
) -> None:
    """S3: polars reads a large object by its URL. GCS and Azure: through a scratch copy
    (polars would not use their emulators' endpoints)."""
    s3 = object_store
    frame = pl.DataFrame({"instruction": [os.urandom(48).hex() for _ in range(rows)]})
    local = tmp_path / "a.parquet"
    frame.write_parquet(local, compression="uncompressed")
    url = s3.url("raw/a.parquet")
    store = store_for(url)
    store.publish(url, local.read_bytes())
    listed = store_glob(s3.url("raw/*.parquet"))[url]
    scratch = tmp_path / "scratch"
    source = SourceFile(url, url, listed)
    got = [
        item[1]["instruction"] for item in read_source(source, "parquet", {}, ReadLimits(), scratch)
    ]
    assert got == frame["instruction"].to_list()
    assert not scratch.exists() or not list(scratch.iterdir())  # a scratch copy is removed
    if local.stat().st_size <= SMALL_OBJECT:
        return  # fetched whole: read from a scratch copy of the listed version
    # Larger: on S3 polars reads it by its URL, not through the reads held to the listed
    # ETag, so the object is looked at again after the read.
    source = SourceFile(url, url, listed)
    source.hash_remaining()  # held to the listed ETag: the bytes hashed are that version's
    store.publish(url, local.read_bytes()[:-16] + bytes(16))  # the footer's end: not Parquet
    # S3: seen after polars' read; GCS, Azure: when the scratch copy is opened.
    with pytest.raises(SourceChangedError, match=r"a\.parquet: file changed (after|when)"):
        list(read_source(source, "parquet", {}, ReadLimits(), scratch))


def _format_files(large_rows: int) -> dict[str, bytes]:
    """Every input format small (one GET), and plain JSONL, a JSON array and Parquet larger
    than SMALL_OBJECT (byte ranges, a stream held to the ETag, polars by URL)."""
    import gzip
    import hashlib
    import io

    def rows(tag: str, n: int) -> list[dict[str, str]]:
        return [
            {"instruction": f"{tag} {i} {hashlib.sha256(b'%d' % i).hexdigest()}", "output": f"a{i}"}
            for i in range(n)
        ]

    def jsonl(r: list[dict[str, str]]) -> bytes:
        return b"".join(orjson.dumps(x) + b"\n" for x in r)

    def parquet(r: list[dict[str, str]]) -> bytes:
        out = io.BytesIO()
        pl.DataFrame(r).write_parquet(out, compression="uncompressed")
        return out.getvalue()

    def csv(r: list[dict[str, str]]) -> bytes:
        return (
            "instruction,output\n" + "".join(f"{x['instruction']},{x['output']}\n" for x in r)
        ).encode()

    files = {
        "small.jsonl": jsonl(rows("jl", 20)),
        "small.jsonl.gz": gzip.compress(jsonl(rows("gz", 20)), mtime=0),
        "small.jsonl.zst": zstandard.ZstdCompressor().compress(jsonl(rows("zs", 20))),
        "small.json": orjson.dumps(rows("ja", 20)),
        "small.csv": csv(rows("cs", 20)),
        "small.parquet": parquet(rows("pq", 20)),
        "large.jsonl": jsonl(rows("JL", large_rows)),
        "large.json": orjson.dumps(rows("JA", large_rows)),
        "large.parquet": parquet(rows("PQ", large_rows)),
    }
    assert all(len(files[f"large.{ext}"]) > SMALL_OBJECT for ext in ("jsonl", "json", "parquet"))
    return files


def test_every_format_small_and_large_on_s3_gives_the_records_of_the_same_files_on_disk(
    s3: ObjectServer, tmp_path: Path
) -> None:
    files = _format_files(large_rows=60_000)
    (tmp_path / "local" / "raw").mkdir(parents=True)
    store = store_for(s3.url("raw"))
    for name, data in files.items():
        store.publish(s3.url(f"raw/{name}"), data)
        (tmp_path / "local" / "raw" / name).write_bytes(data)
    source = {
        "name": "a",
        "objective": "sft",
        "adapter": "alpaca",
        "split": "train",
        "license": "MIT",
    }
    local = write_config(
        tmp_path / "local" / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "formats"},
            "output": {"chunk_bytes": 1 << 20},
            "sources": [{**source, "paths": ["raw/*"]}],
        },
    )
    remote = _config(s3, tmp_path / "remote")
    doc = yaml.safe_load(remote.read_text())
    doc["output"]["chunk_bytes"] = 1 << 20
    doc["sources"][0]["paths"] = [s3.url("raw/*")]
    write_config(remote, doc)
    _build(local, {})
    _build(remote, s3.env)

    def records(package: str) -> list[dict[str, Any]]:
        out = []
        for record in _records(package):
            trace = record["metadata"]["trace"]
            trace["file"] = trace["file"].rsplit("/", 1)[-1]  # raw/x vs s3://bucket/raw/x
            out.append(record)
        return out

    local_records = records(str(tmp_path / "local" / "package"))
    assert len(local_records) == 6 * 20 + 3 * 60_000
    assert records(s3.url("pkg")) == local_records  # the same records, in the same order
