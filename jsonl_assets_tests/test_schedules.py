"""`package_rebuild` evaluated on a real temporary instance, and its requests run for real."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from jsonl_assets.core.config import CONFIG_ENV_VAR
from jsonl_assets.defs.definitions import defs as load_code_location
from jsonl_assets.defs.partitions import all_partition_keys
from jsonl_assets.defs.schedules import (
    BATCH_SIZE_TAG,
    BATCH_TAG,
    DEFAULT_CRON,
    SCHEDULE_NAME,
    build_rebuild_schedule,
    configured_cron,
)

TICK = dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.UTC)

defs = load_code_location()  # as Dagster loads it: the cron and interval read now


@pytest.fixture
def configured(sample_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CONFIG_ENV_VAR, str(sample_project))
    return sample_project


def evaluate(instance: dg.DagsterInstance, when: dt.datetime) -> dg.ScheduleExecutionData:
    schedule = defs.get_schedule_def(SCHEDULE_NAME)
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()
    )
    return schedule.evaluate_tick(context)


def test_schedule_is_on_by_default_with_the_config_cron() -> None:
    schedule = defs.get_schedule_def(SCHEDULE_NAME)
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.job_name == "build_partition"
    assert schedule.execution_timezone == "UTC"
    assert schedule.cron_schedule == configured_cron()


def test_a_tick_requests_every_partition_as_one_batch(
    configured: Path, instance: dg.DagsterInstance
) -> None:
    data = evaluate(instance, TICK)
    requests = data.run_requests or []
    assert [r.partition_key for r in requests] == all_partition_keys()
    assert {r.job_name for r in requests} == {"build_partition"}
    batch = f"{SCHEDULE_NAME}:2026-03-01T03:00:00+00:00"
    assert [r.run_key for r in requests] == [f"{batch}:{k}" for k in all_partition_keys()]
    for request in requests:
        assert request.tags[BATCH_TAG] == batch
        assert request.tags[BATCH_SIZE_TAG] == "12"
        assert request.tags["dagster/partition"] == request.partition_key
        resource = request.run_config["resources"]["pipeline"]["config"]
        assert resource["config_path"] == str(configured.resolve())


def test_a_tick_evaluated_twice_has_the_same_run_keys(
    configured: Path, instance: dg.DagsterInstance
) -> None:
    first = [r.run_key for r in evaluate(instance, TICK).run_requests or []]
    again = [r.run_key for r in evaluate(instance, TICK).run_requests or []]
    assert first == again and len(set(first)) == 12
    nextday = [r.run_key for r in evaluate(instance, TICK + dt.timedelta(days=1)).run_requests]
    assert not set(first) & set(nextday)


def test_a_request_runs_as_is(configured: Path, instance: dg.DagsterInstance) -> None:
    """The request's partition key, run config and tags are accepted by the real job."""
    request = next(
        r for r in evaluate(instance, TICK).run_requests or [] if r.partition_key == "rft|test"
    )
    result = defs.resolve_job_def("build_partition").execute_in_process(
        run_config=request.run_config,
        partition_key=request.partition_key,
        tags=request.tags,
        instance=instance,
    )
    assert result.success
    shards = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("shards"), asset_partitions=["rft|test"]),
        limit=1,
    ).records
    assert shards and shards[0].asset_materialization.metadata["shard_count"].value >= 1
    assert result.dagster_run.tags[BATCH_TAG] == request.tags[BATCH_TAG]


def test_broken_config_skips_the_tick(
    sample_project: Path, monkeypatch: pytest.MonkeyPatch, instance: dg.DagsterInstance
) -> None:
    sample_project.write_text("dataset: [not, a, mapping]\n")
    monkeypatch.setenv(CONFIG_ENV_VAR, str(sample_project))
    data = evaluate(instance, TICK)
    assert not data.run_requests
    assert data.skip_message and "config error" in data.skip_message


def test_cron_comes_from_the_config(sample_project: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(sample_project.read_text())
    data["schedule"] = {"cron": "15 1 * * 1"}
    sample_project.write_text(yaml.safe_dump(data, sort_keys=False))
    assert configured_cron(str(sample_project)) == "15 1 * * 1"
    assert build_rebuild_schedule("15 1 * * 1").cron_schedule == "15 1 * * 1"
    assert configured_cron(str(tmp_path / "missing.yaml")) == DEFAULT_CRON


def test_definitions_load_without_a_config(tmp_path: Path) -> None:
    """The code location loads with no config file (default cron and interval); the runs,
    not the UI, then report the missing file."""
    env = {**os.environ, CONFIG_ENV_VAR: str(tmp_path / "missing.yaml")}
    code = (
        "from jsonl_assets.defs.definitions import defs\n"
        "r = defs().get_repository_def()\n"
        "print(r.get_schedule_def('package_rebuild').cron_schedule)\n"
        "print(r.get_sensor_def('raw_sources_changed').minimum_interval_seconds)\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [DEFAULT_CRON, "60"]


def test_the_schedule_is_read_without_listing_the_sources(sample_project: Path) -> None:
    """The code location reads cron, interval and team without listing a glob: an object
    store slow to fail (minutes of its client's retries) held up `dagster dev`'s load."""
    data = yaml.safe_load(sample_project.read_text())
    data["schedule"] = {"cron": "15 1 * * 1"}
    data["sources"][0]["paths"] = ["raw/nothing-matches-*.jsonl"]  # listing it would fail
    sample_project.write_text(yaml.safe_dump(data, sort_keys=False))
    assert configured_cron(str(sample_project)) == "15 1 * * 1"
