"""The manifest step while a partition is being built: a real `build_partition` run (`dagster
job execute`, as a run worker executes it) paused just after its extraction committed, and a
real publication meanwhile on the same instance. It waits for that run and publishes its
shards; a partition that is stale and not being built is refused at once, as before."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import orjson
import pytest

from jsonl_assets.core.build import build_partition
from jsonl_assets.core.config import CONFIG_ENV_VAR, load_config
from jsonl_assets.defs.assets import record_stages
from jsonl_assets.defs.checks import PACKAGE_VALID
from jsonl_assets.defs.definitions import defs as load_code_location
from jsonl_assets_tests.conftest import REPO, materialize, read_shard

NOTE = "a note added while the package was published"


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    """An instance in tmp_path that a `dagster job execute` process shares (DAGSTER_HOME)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as inst:
        yield inst


def paused_build(config: Path, key: str, pause: Path) -> subprocess.Popen[bytes]:
    """A `build_partition` run of `key` in its own process, paused once its extracted marker
    is committed (its transformed, validated and shards not yet): returned once paused."""
    dagster = Path(sys.executable).with_name("dagster")
    env = {
        **os.environ,
        CONFIG_ENV_VAR: str(config),
        "PYTHONPATH": str(REPO),
        "JSONL_ASSETS_PAUSE_AT": "marker:extracted",
        "JSONL_ASSETS_PAUSE_FILE": str(pause),
    }
    tags = orjson.dumps({"dagster/partition": key}).decode()
    args = [str(dagster), "job", "execute", "-m", "jsonl_assets.defs.definitions"]
    proc = subprocess.Popen(
        [*args, "-j", "build_partition", "--tags", tags],
        env=env,
        cwd=config.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not pause.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the build never paused: {proc.communicate()[1][-2000:]!r}")
        time.sleep(0.1)
    return proc


def package_check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == PACKAGE_VALID]
    return check


def test_a_publication_waits_for_a_partition_being_built_and_publishes_it(
    sample_project: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    cfg = load_config(sample_project)
    for key in ("cpt|train", "rft|test"):
        build_partition(cfg, key)
    notes = sample_project.parent / "raw" / "cpt" / "garden_notes.jsonl"
    with notes.open("a") as out:
        out.write(orjson.dumps({"messages": [{"role": "document", "content": NOTE}]}).decode())
        out.write("\n")
    pause = tmp_path / "pause"
    build = paused_build(sample_project, "cpt|train", pause)
    # The build goes on 5 s into the publication: before the fix, the publication had been
    # refused by then ("cpt|train: its record stages ... build the partition again").
    release = threading.Timer(5.0, pause.unlink)
    release.start()
    try:
        result = materialize(sample_project, instance, None)
    finally:
        release.join()
        _, err = build.communicate(timeout=120)
    assert build.returncode == 0, err[-2000:]
    check = package_check(result)
    assert result.success and check.passed, check.description
    package = sample_project.parent / "package"
    metadata = orjson.loads((package / "metadata.json").read_bytes())
    [cpt] = [f for f in metadata["files"] if f["objective"] == "cpt"]
    records = [r for s in cpt["shards"] for r in read_shard(package / s["path"])]
    assert any(NOTE in orjson.dumps(r).decode() for r in records)  # the run's, not the old
    logs = instance.all_logs(result.run_id)
    assert any("being built by run(s)" in (e.user_message or "") for e in logs)


def test_a_stale_partition_not_being_built_is_refused_at_once(
    sample_project: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    cfg = load_config(sample_project)
    for key in ("cpt|train", "rft|test"):
        build_partition(cfg, key)
    notes = sample_project.parent / "raw" / "cpt" / "garden_notes.jsonl"
    with notes.open("a") as out:
        out.write(orjson.dumps({"messages": [{"role": "document", "content": NOTE}]}).decode())
        out.write("\n")
    # cpt|train's record stages alone rebuilt: its shards are stale, and no run builds it.
    assert materialize(sample_project, instance, "cpt|train", assets=[record_stages]).success
    pause = tmp_path / "pause"
    build = paused_build(sample_project, "sft|train", pause)  # another partition in progress
    release = threading.Timer(60.0, pause.unlink)
    release.start()
    try:
        started = time.monotonic()
        result = materialize(sample_project, instance, None)
        took = time.monotonic() - started
    finally:
        release.cancel()
        pause.unlink(missing_ok=True)
        build.communicate(timeout=120)
    check = package_check(result)
    assert not check.passed and check.description is not None
    assert "cpt|train: its shards are not those of its current record stages" in check.description
    assert took < 30  # it did not wait for sft|train's run
    assert not (sample_project.parent / "package" / "metadata.json").exists()


def test_a_queued_run_of_a_stale_partition_is_waited_for_lock_timeout_seconds_at_most(
    sample_project: Path, instance: dg.DagsterInstance
) -> None:
    cfg = load_config(sample_project)
    build_partition(cfg, "cpt|train")
    notes = sample_project.parent / "raw" / "cpt" / "garden_notes.jsonl"
    with notes.open("a") as out:
        out.write(orjson.dumps({"messages": [{"role": "document", "content": NOTE}]}).decode())
        out.write("\n")
    assert materialize(sample_project, instance, "cpt|train", assets=[record_stages]).success
    # A run of cpt|train created and not started (no daemon here submits or starts it), as a
    # retry or a run a sensor requested waits in the queue.
    job = load_code_location().get_job_def("build_partition")
    queued = instance.create_run_for_job(
        job, status=dg.DagsterRunStatus.NOT_STARTED, tags={"dagster/partition": "cpt|train"}
    )
    started = time.monotonic()
    result = materialize(sample_project, instance, None, lock_timeout_seconds=3.0)
    took = time.monotonic() - started
    check = package_check(result)
    assert not check.passed and check.description is not None
    assert "cpt|train: its shards are not those of its current record stages" in check.description
    assert 3.0 <= took < 30
    logs = [e.user_message or "" for e in instance.all_logs(result.run_id)]
    assert any(f"{queued.run_id[:8]} (cpt|train, NOT_STARTED)" in m for m in logs)
