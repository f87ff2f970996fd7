"""Builds on object storage, once per backend against a real server on loopback (moto's S3,
fake-gcs-server, Azurite): sources read from `s3://` (`gs://`, `az://`) into a package there,
verified by `jsonl-assets verify s3://...`; a reader holding the old metadata.json through a
rebuild; two publishers racing; kill -9 mid-upload; the sensor seeing a new ETag."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import dagster as dg
import orjson
import pytest
import yaml

from jsonl_assets.core.compression import iter_decompressed
from jsonl_assets.core.config import CONFIG_ENV_VAR
from jsonl_assets.core.fault_points import PAUSE_ENV_VAR, PAUSE_FILE_ENV_VAR
from jsonl_assets.core.quarantine_snapshot import published_quarantine
from jsonl_assets.core.store.base import read_bytes, store_for
from jsonl_assets.core.store.url import StoreURL

from . import test_restart as restart
from .conftest import build_with_core
from .object_server import ObjectServer, pending_uploads

RFT_TEST = "raw/rft/seedlings_test.jsonl"  # split: test -> rft|test only


def _upload(object_store: ObjectServer, folder: Path, prefix: str = "raw") -> None:
    store = store_for(object_store.url(prefix))
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            store.publish(
                object_store.url(f"{prefix}/{path.relative_to(folder).as_posix()}"),
                path.read_bytes(),
            )


def _object_config(
    object_store: ObjectServer, root: Path, config: Path, package: str = "pkg"
) -> Path:
    """The sample project on the store: its raw files uploaded, and `config` with every source
    glob read from the bucket (`raw/...` -> `s3://b/raw/...`, or gs://, az://), the package and
    quarantine in the bucket, work dir local."""
    _upload(object_store, config.parent / "raw")
    data = yaml.safe_load(config.read_text())
    for source in data["sources"]:
        paths = source["paths"] if isinstance(source["paths"], list) else [source["paths"]]
        source["paths"] = [object_store.url(p) for p in paths]
    data.setdefault("output", {}).update(
        dir=object_store.url(package),
        quarantine_dir=object_store.url(f"{package}-quarantine"),
        work_dir="work",
    )
    root.mkdir(parents=True, exist_ok=True)
    out = root / "pipeline.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def _records(package: str | Path) -> list[dict[str, Any]]:
    """Every record of the package, in metadata.json's order."""
    meta = orjson.loads(read_bytes(f"{package}/metadata.json"))
    records: list[dict[str, Any]] = []
    for entry in meta["files"]:
        for shard in entry["shards"]:
            path = f"{package}/{shard['path']}"
            with store_for(path).open_read(path) as handle:
                data = b"".join(iter_decompressed(handle, shard.get("compression", "none")))
            records.extend(orjson.loads(line) for line in data.splitlines())
    return records


def _shards(package: str) -> dict[str, bytes]:
    meta = orjson.loads(read_bytes(f"{package}/metadata.json"))
    return {
        s["path"]: read_bytes(f"{package}/{s['path']}") for f in meta["files"] for s in f["shards"]
    }


def _add_rft_record(object_store: ObjectServer, sample_project: Path) -> None:
    """Write the rft test source's object again with one more record (a new ETag)."""
    raw = (sample_project.parent / RFT_TEST).read_bytes()
    extra = orjson.dumps({"id": "beds-9999", "messages": [{"role": "user", "content": "x?"}],
                          "reference": {"grading": {"type": "numeric", "tolerance": 0},
                                        "answer": 12}})  # fmt: skip
    store_for(object_store.url(RFT_TEST)).publish(object_store.url(RFT_TEST), raw + extra + b"\n")


@pytest.mark.slow
def test_sources_on_object_storage_into_a_package_there_equal_the_local_build(
    object_store: ObjectServer, sample_project: Path, tmp_path: Path
) -> None:
    config = _object_config(object_store, tmp_path / "object-project", sample_project)
    package = build_with_core(config)
    assert str(package) == object_store.url("pkg")
    verify = subprocess.run(
        [sys.executable, "-m", "jsonl_assets.cli", "verify", object_store.url("pkg")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "valid" in verify.stdout and "0 errors" in verify.stdout
    local = _records(build_with_core(sample_project))
    remote = _records(object_store.url("pkg"))
    assert len(remote) == len(local) > 0
    prefix = object_store.url("")
    for a, b in zip(local, remote, strict=True):
        trace = b["metadata"]["trace"]
        assert trace["file"].startswith(prefix)  # the URL instead of the config-relative path
        trace["file"] = trace["file"][len(prefix) :]
        assert a == b
    # The quarantine went to the bucket too, and nothing was left half-uploaded.
    assert list(store_for(object_store.url("x")).list(object_store.url("pkg-quarantine")))
    assert pending_uploads(store_for(object_store.url("x")), object_store.url("")) in (None, [])


@pytest.mark.slow
def test_a_reader_holding_the_old_metadata_on_object_storage_reads_every_old_shard(
    object_store: ObjectServer, sample_project: Path, tmp_path: Path
) -> None:
    config = _object_config(object_store, tmp_path / "p", sample_project)
    build_with_core(config)
    package = object_store.url("pkg")
    quarantine_dir = StoreURL(object_store.url("pkg-quarantine"))
    held = read_bytes(f"{package}/metadata.json")
    old = _shards(package)
    old_quarantine = published_quarantine(StoreURL(package), quarantine_dir)
    assert old_quarantine is not None
    old_rejects = {p: read_bytes(p) for files in old_quarantine.values() for p in files}
    assert any(old_rejects.values())  # the sample's rejects
    _add_rft_record(object_store, sample_project)
    data = yaml.safe_load(config.read_text())
    data["sources"] = [s for s in data["sources"] if s["objective"] != "preference"]
    config.write_text(yaml.safe_dump(data, sort_keys=False))  # a partition less: changed
    done: list[bool] = []

    def rebuild() -> None:
        try:
            build_with_core(config)
        finally:
            done.append(True)

    builder = threading.Thread(target=rebuild)
    builder.start()
    reads = 0
    while not done:
        for path, content in old.items():
            assert read_bytes(f"{package}/{path}") == content, path
        for path, content in old_rejects.items():
            assert read_bytes(path) == content, path
        assert published_quarantine(StoreURL(package), quarantine_dir) is not None
        reads += 1
    builder.join()
    assert read_bytes(f"{package}/metadata.json") != held and reads > 0
    for path, content in old.items():
        assert read_bytes(f"{package}/{path}") == content, path
    for path, content in old_rejects.items():
        assert read_bytes(path) == content, path
    now = published_quarantine(StoreURL(package), quarantine_dir)
    assert now is not None and now["sft|train"] == old_quarantine["sft|train"]  # reused


def _popen(config: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    full = {**os.environ, **env, "PYTHONPATH": str(restart.REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "jsonl_assets_tests.test_restart", str(config), *restart.KEYS],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=config.parent,
    )


@pytest.mark.slow
def test_two_publishers_one_wins_the_other_gets_412(
    object_store: ObjectServer, tmp_path: Path
) -> None:
    """Two builds (two work dirs, as on two machines) of different sources into one package:
    the first pauses just before its publish, the second publishes, then the first goes on
    and gets HTTP 412 -> "package changed since this build started"; the package is the
    second's, whole."""
    first = restart.make_project(tmp_path / "a", chats=200, notes=300)
    second = restart.make_project(tmp_path / "b", chats=120, notes=500)
    for config in (first, second):
        data = yaml.safe_load(config.read_text())
        data["output"] = {**data.get("output", {}), "dir": object_store.url("pkg")}
        config.write_text(yaml.safe_dump(data, sort_keys=False))
    pause = tmp_path / "pause"
    waiting = _popen(first, {PAUSE_ENV_VAR: "before_publish", PAUSE_FILE_ENV_VAR: str(pause)})
    deadline = time.monotonic() + 120
    while not pause.exists():
        assert waiting.poll() is None, waiting.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    winner = restart.run_core_build(second, env=object_store.env)
    assert winner.returncode == 0, winner.stderr[-3000:]
    won = read_bytes(object_store.url("pkg/metadata.json"))
    pause.unlink()
    _, err = waiting.communicate(timeout=120)
    assert waiting.returncode != 0
    assert "package changed since this build started" in err and "HTTP 412" in err
    assert read_bytes(object_store.url("pkg/metadata.json")) == won
    meta = orjson.loads(won)
    for entry in meta["files"]:
        for shard in entry["shards"]:
            path = object_store.url(f"pkg/{shard['path']}")
            assert store_for(path).stat(path).size > 0  # type: ignore[union-attr]


@pytest.mark.slow
@pytest.mark.crash
def test_kill_9_mid_upload_then_rerun_is_byte_identical(
    object_store: ObjectServer, tmp_path: Path
) -> None:
    """A cpt shard over one upload part (5 MiB on S3, 8 MiB elsewhere; incompressible text):
    kill -9 just after its first part went up. Nothing half-written is visible; the rerun aborts the stale upload and
    ends byte-identical to an uninterrupted build."""
    keys = ("cpt|train",)

    def project(root: Path, bucket_prefix: str) -> Path:
        config = restart.make_project(root, chats=200, notes=300)
        blob = os.urandom(12 << 20).hex()  # 24 MiB of hex: zstd keeps about half
        notes = "".join(
            orjson.dumps({"id": f"big{i}", "text": blob[i << 18 : (i + 1) << 18]}).decode() + "\n"
            for i in range(len(blob) >> 18)
        )
        (root / "raw" / "cpt" / "notes_a.jsonl").write_text(notes)
        data = yaml.safe_load(config.read_text())
        data["output"] = {
            **data.get("output", {}),
            "dir": object_store.url(bucket_prefix),
            "max_records_per_shard": 1000,
            "max_bytes_per_shard": None,
        }
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        return config

    clean = project(tmp_path / "clean", "clean")
    done = restart.run_core_build(clean, env=object_store.env, keys=keys)
    assert done.returncode == 0, done.stderr[-3000:]
    config = project(tmp_path / "killed", "killed")
    (tmp_path / "killed" / "raw").joinpath("cpt", "notes_a.jsonl").write_bytes(
        (tmp_path / "clean" / "raw" / "cpt" / "notes_a.jsonl").read_bytes()
    )
    killed = restart.run_core_build(config, kill_at="upload.part", env=object_store.env, keys=keys)
    assert killed.returncode == -9, killed.stderr[-3000:]
    store = store_for(object_store.url("x"))
    # The shard streamed up while it was written: an upload under the package's hidden
    # staging prefix, nothing staged on the local disk.
    uploads = pending_uploads(store, object_store.url("killed"))
    if uploads is not None:  # listed by S3 and Azure, not by GCS
        assert uploads and all(u.startswith("killed/.jsonl-assets-staged/") for u in uploads)
    work = tmp_path / "killed" / "work"
    assert not [p for p in work.rglob("*.jsonl*") if "staged" in p.parts], "staged locally"
    assert store.stat(object_store.url("killed/metadata.json")) is None
    again = restart.run_core_build(config, env=object_store.env, keys=keys)
    assert again.returncode == 0, again.stderr[-3000:]
    assert pending_uploads(store, object_store.url("killed")) in (None, [])
    assert _shards(object_store.url("killed")) == _shards(object_store.url("clean"))
    assert read_bytes(object_store.url("killed/metadata.json")) == read_bytes(
        object_store.url("clean/metadata.json")
    )


@pytest.mark.slow
def test_the_sensor_sees_a_new_etag_and_requests_only_its_partitions(
    object_store: ObjectServer,
    sample_project: Path,
    tmp_path: Path,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from .test_sensors import tick

    config = _object_config(object_store, tmp_path / "p", sample_project)
    monkeypatch.setenv(CONFIG_ENV_VAR, str(config))
    baseline = tick(instance, None)
    assert not baseline.run_requests
    unchanged = tick(instance, baseline.cursor)
    assert not unchanged.run_requests
    _add_rft_record(object_store, sample_project)  # a new ETag
    changed = tick(instance, baseline.cursor)
    assert [r.partition_key for r in changed.run_requests or []] == ["rft|test"]


@pytest.mark.slow
def test_a_changed_object_changes_the_data_version_of_the_partitions_it_feeds(
    object_store: ObjectServer,
    sample_project: Path,
    tmp_path: Path,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The observation names an object by its ETag and `extracted` names what it read the
    same way: built from the observed objects, a partition is fresh (not stale for a sha256
    against an ETag); a new ETag marks only the partitions the object feeds stale, and the
    rebuild's data version is the new observation's."""
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._core.loader import LoadingContextForTest

    from jsonl_assets.core.config import load_config
    from jsonl_assets.core.source_fingerprints import take_snapshot
    from jsonl_assets.core.stages.extract_stage import CODE_VERSION as EXTRACT_VERSION
    from jsonl_assets.defs.assets import record_stages
    from jsonl_assets.defs.resources import PipelineResource

    from .test_sensors import defs, report, tick

    config = _object_config(object_store, tmp_path / "p", sample_project)
    monkeypatch.setenv(CONFIG_ENV_VAR, str(config))
    baseline = tick(instance, None)
    report(instance, baseline)
    resources = {"pipeline": PipelineResource(config_path=str(config))}
    built = ["rft|test", "rft|train"]

    def resolver() -> CachingStaleStatusResolver:
        return CachingStaleStatusResolver(
            instance, defs.resolve_asset_graph(), LoadingContextForTest(instance)
        )

    def extracted_versions() -> dict[str, str]:
        return {
            k: resolver().get_current_data_version(dg.AssetKey("extracted"), k).value for k in built
        }

    for key in built:
        assert dg.materialize(
            [record_stages], partition_key=key, instance=instance, resources=resources
        ).success
    observed = take_snapshot(load_config(config)).partition_versions()
    before = extracted_versions()
    assert before == {k: f"{EXTRACT_VERSION}:{observed[k]}" for k in built}
    assert {k: resolver().get_status(dg.AssetKey("extracted"), k) for k in built} == {
        k: StaleStatus.FRESH for k in built
    }

    _add_rft_record(object_store, sample_project)  # a new ETag for the object feeding rft|test
    changed = tick(instance, baseline.cursor)
    report(instance, changed)
    assert resolver().get_status(dg.AssetKey("extracted"), "rft|test") == StaleStatus.STALE
    assert resolver().get_status(dg.AssetKey("extracted"), "rft|train") == StaleStatus.FRESH
    assert dg.materialize(
        [record_stages], partition_key="rft|test", instance=instance, resources=resources
    ).success
    now = take_snapshot(load_config(config)).partition_versions()
    after = extracted_versions()
    assert now["rft|test"] != observed["rft|test"] and now["rft|train"] == observed["rft|train"]
    assert after == {k: f"{EXTRACT_VERSION}:{now[k]}" for k in built}
    assert resolver().get_status(dg.AssetKey("extracted"), "rft|test") == StaleStatus.FRESH
