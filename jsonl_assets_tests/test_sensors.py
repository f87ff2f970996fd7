"""`raw_sources_changed` and `publish_after_batch` on a real temporary instance, with real runs;
and the staleness that the sensor's observations drive."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import orjson
import pytest
import yaml
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.definitions.instigation_logger import get_instigation_log_records
from dagster._core.loader import LoadingContextForTest

from jsonl_assets.core.config import CONFIG_ENV_VAR, load_config
from jsonl_assets.core.source_fingerprints import take_snapshot
from jsonl_assets.core.stages.extract_stage import CODE_VERSION as EXTRACT_VERSION
from jsonl_assets.defs.assets import record_stages
from jsonl_assets.defs.definitions import defs as load_code_location
from jsonl_assets.defs.observations import DATA_VERSION_TAG, RAW_SOURCES_KEY, raw_sources
from jsonl_assets.defs.partitions import all_partition_keys
from jsonl_assets.defs.resources import PipelineResource
from jsonl_assets.defs.schedules import BATCH_SIZE_TAG, BATCH_TAG, batch_run_requests
from jsonl_assets.defs.sensors import (
    CHANGED_SOURCES_TAG,
    PUBLISH_SENSOR_NAME,
    SOURCES_SENSOR_NAME,
    build_sources_sensor,
    publish_after_batch,
    publish_decision,
)
from jsonl_assets_tests.conftest import build_with_core

SFT = "raw/sft/support_chats.jsonl"  # split: auto -> three sft partitions
RFT_TEST = "raw/rft/seedlings_test.jsonl"  # split: test -> rft|test only

defs = load_code_location()  # as Dagster loads it: the cron and interval read now


@pytest.fixture
def configured(sample_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CONFIG_ENV_VAR, str(sample_project))
    return sample_project


def tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorExecutionData:
    sensor = defs.get_sensor_def(SOURCES_SENSOR_NAME)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, repository_def=defs.get_repository_def()
    )
    return sensor.evaluate_tick(context)


def report(instance: dg.DagsterInstance, data: dg.SensorExecutionData) -> None:
    """What the sensor daemon does with a tick's asset events."""
    for event in data.asset_events:
        instance.report_runless_asset_event(event)


def append_copy_of_first_line(path: Path) -> None:
    with open(path, "rb") as handle:
        first = handle.readline()
    with open(path, "ab") as handle:
        handle.write(first)


def add_rft_test_record(path: Path) -> None:
    record = {
        "id": "beds-9999",
        "messages": [{"role": "user", "content": "A bed has 3 rows of 4 seedlings. How many?"}],
        "reference": {"grading": {"type": "numeric", "tolerance": 0}, "answer": 12},
    }
    with open(path, "ab") as handle:
        handle.write(orjson.dumps(record) + b"\n")


def run_request(instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def(request.job_name or "build_partition")
    return job.execute_in_process(
        run_config=request.run_config,
        partition_key=request.partition_key,
        tags=request.tags,
        instance=instance,
        raise_on_error=False,
    )


def test_sensors_are_on_by_default() -> None:
    assert defs.get_sensor_def(SOURCES_SENSOR_NAME).default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.get_sensor_def(PUBLISH_SENSOR_NAME).default_status == dg.DefaultSensorStatus.RUNNING
    assert build_sources_sensor(17).minimum_interval_seconds == 17


def test_baseline_then_no_change_requests_nothing(
    configured: Path, instance: dg.DagsterInstance
) -> None:
    first = tick(instance, None)
    assert not first.run_requests
    assert first.skip_message and first.skip_message.startswith("baseline")
    assert first.cursor
    observed = [e.partition for e in first.asset_events]
    assert len(observed) == 12 and all(e.asset_key == RAW_SOURCES_KEY for e in first.asset_events)
    second = tick(instance, first.cursor)
    assert not second.run_requests and not second.asset_events
    assert second.skip_message and second.skip_message.startswith("no source changed")


def test_touch_without_new_content_requests_nothing(
    configured: Path, instance: dg.DagsterInstance
) -> None:
    first = tick(instance, None)
    target = configured.parent / SFT
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    second = tick(instance, first.cursor)
    assert not second.run_requests
    assert "1 re-hashed" in (second.skip_message or "")
    third = tick(instance, second.cursor)  # the new mtime is in the cursor: nothing re-hashed
    assert not third.run_requests and "0 re-hashed" in (third.skip_message or "")


def test_one_source_changed_requests_only_its_partitions(
    configured: Path, instance: dg.DagsterInstance
) -> None:
    baseline = tick(instance, None)
    add_rft_test_record(configured.parent / RFT_TEST)
    data = tick(instance, baseline.cursor)
    requests = data.run_requests or []
    assert [r.partition_key for r in requests] == ["rft|test"]
    assert [e.partition for e in data.asset_events] == ["rft|test"]
    assert requests[0].tags[CHANGED_SOURCES_TAG] == "seedlings_test"
    assert requests[0].tags[BATCH_SIZE_TAG] == "1"

    append_copy_of_first_line(configured.parent / SFT)
    data2 = tick(instance, data.cursor)
    keys = [r.partition_key for r in data2.run_requests or []]
    assert keys == ["sft|train", "sft|validation", "sft|test"]
    assert {r.tags[BATCH_TAG] for r in data2.run_requests or []} != {requests[0].tags[BATCH_TAG]}
    assert not tick(instance, data2.cursor).run_requests


def test_a_tick_evaluated_twice_has_the_same_run_keys(
    configured: Path, instance: dg.DagsterInstance
) -> None:
    baseline = tick(instance, None)
    append_copy_of_first_line(configured.parent / SFT)
    once = tick(instance, baseline.cursor)
    twice = tick(instance, baseline.cursor)  # e.g. the daemon re-runs a tick that crashed
    keys = [r.run_key for r in once.run_requests or []]
    assert keys == [r.run_key for r in twice.run_requests or []]
    assert len(set(keys)) == 3
    assert once.cursor == twice.cursor


def test_cursor_survives_a_restart(configured: Path, instance: dg.DagsterInstance) -> None:
    """The cursor is plain JSON kept by the instance: a freshly built sensor (a restarted
    daemon or code server) picks up where the old one stopped."""
    baseline = tick(instance, None)
    restarted = build_sources_sensor(60)
    context = dg.build_sensor_context(
        instance=instance, cursor=baseline.cursor, repository_def=defs.get_repository_def()
    )
    assert not restarted.evaluate_tick(context).run_requests
    add_rft_test_record(configured.parent / RFT_TEST)
    context = dg.build_sensor_context(
        instance=instance, cursor=baseline.cursor, repository_def=defs.get_repository_def()
    )
    assert [r.partition_key for r in restarted.evaluate_tick(context).run_requests or []] == [
        "rft|test"
    ]


def test_broken_config_keeps_the_cursor(configured: Path, instance: dg.DagsterInstance) -> None:
    baseline = tick(instance, None)
    good = configured.read_text()
    configured.write_text("sources: 3\n")
    broken = tick(instance, baseline.cursor)
    assert not broken.run_requests and "config error" in (broken.skip_message or "")
    assert broken.cursor == baseline.cursor  # unchanged: compared again once the config is fixed
    configured.write_text(good)
    assert not tick(instance, broken.cursor).run_requests


def stale_status(instance: dg.DagsterInstance, key: str, partition: str) -> StaleStatus:
    resolver = CachingStaleStatusResolver(
        instance, defs.resolve_asset_graph(), LoadingContextForTest(instance)
    )
    return resolver.get_status(dg.AssetKey(key), partition)


def test_changed_source_marks_only_its_partitions_stale(
    configured: Path, instance: dg.DagsterInstance
) -> None:
    baseline = tick(instance, None)
    report(instance, baseline)
    built = ["sft|train", "rft|train"]
    for key in built:
        result = run_request(
            instance,
            dg.RunRequest(
                job_name="build_partition",
                partition_key=key,
                run_config={
                    "resources": {"pipeline": {"config": {"config_path": str(configured)}}}
                },
            ),
        )
        assert result.success, key
    assert {k: stale_status(instance, "extracted", k) for k in built} == {
        k: StaleStatus.FRESH for k in built
    }
    assert stale_status(instance, "extracted", "cpt|train") == StaleStatus.MISSING

    append_copy_of_first_line(configured.parent / SFT)
    changed = tick(instance, baseline.cursor)
    report(instance, changed)
    assert stale_status(instance, "extracted", "sft|train") == StaleStatus.STALE
    assert stale_status(instance, "extracted", "rft|train") == StaleStatus.FRESH
    resolver = CachingStaleStatusResolver(
        instance, defs.resolve_asset_graph(), LoadingContextForTest(instance)
    )
    causes = resolver.get_stale_root_causes(dg.AssetKey("extracted"), "sft|train")
    assert [(c.asset_key, c.partition_key) for c in causes] == [(RAW_SOURCES_KEY, "sft|train")]

    # extracted's data version is the version of what it read: rebuilding the record stages
    # (they materialise together) makes them fresh and the shards stale, in that partition only.
    resources = {"pipeline": PipelineResource(config_path=str(configured))}
    assert dg.materialize(
        [record_stages],
        partition_key="sft|train",
        instance=instance,
        resources=resources,
    ).success
    versions = take_snapshot(load_config(configured)).partition_versions()
    resolver = CachingStaleStatusResolver(
        instance, defs.resolve_asset_graph(), LoadingContextForTest(instance)
    )
    for key in built:
        current = resolver.get_current_data_version(dg.AssetKey("extracted"), key)
        assert current.value == f"{EXTRACT_VERSION}:{versions[key]}", key
    assert stale_status(instance, "extracted", "sft|train") == StaleStatus.FRESH
    assert stale_status(instance, "validated", "sft|train") == StaleStatus.FRESH
    assert stale_status(instance, "shards", "sft|train") == StaleStatus.STALE
    assert stale_status(instance, "shards", "rft|train") == StaleStatus.FRESH

    # The sensor's request rebuilds the four stages: all fresh again.
    sft_train = next(r for r in changed.run_requests or [] if r.partition_key == "sft|train")
    assert run_request(instance, sft_train).success
    for stage in ("extracted", "transformed", "validated", "shards"):
        assert stale_status(instance, stage, "sft|train") == StaleStatus.FRESH, stage


def test_manifest_is_published_once_the_whole_batch_succeeded(
    configured: Path, instance: dg.DagsterInstance
) -> None:
    baseline = tick(instance, None)
    add_rft_test_record(configured.parent / RFT_TEST)  # rft|test: new content
    data = yaml.safe_load(configured.read_text())
    for source in data["sources"]:
        if source["name"] == "seedlings_train":
            source["license"] = "CC-BY-4.0"  # rft|train: a changed config entry
    configured.write_text(yaml.safe_dump(data, sort_keys=False))
    data = tick(instance, baseline.cursor)
    requests = data.run_requests or []
    assert [r.partition_key for r in requests] == ["rft|train", "rft|test"]

    first = run_request(instance, requests[0])
    assert first.success
    context = dg.build_run_status_sensor_context(
        sensor_name=PUBLISH_SENSOR_NAME,
        dagster_event=first.get_run_success_event(),
        dagster_instance=instance,
        dagster_run=first.dagster_run,
    )
    assert publish_after_batch(context) is None  # None: the tick goes on to the next run
    waiting = publish_decision(instance, first.dagster_run)
    assert isinstance(waiting, str) and "1 of 2" in waiting

    second = run_request(instance, requests[1])
    assert second.success
    context = dg.build_run_status_sensor_context(
        sensor_name=PUBLISH_SENSOR_NAME,
        dagster_event=second.get_run_success_event(),
        dagster_instance=instance,
        dagster_run=second.dagster_run,
    )
    requested = publish_after_batch(context)
    assert isinstance(requested, list) and len(requested) == 1
    publish = requested[0]
    assert publish.job_name == "publish_manifest"
    assert publish.run_key == f"{requests[0].tags[BATCH_TAG]}:manifest"
    manifest = run_request(instance, publish)
    assert manifest.success
    checks = {e.check_name: e.passed for e in manifest.get_asset_check_evaluations()}
    assert checks == {"package_valid": True}
    assert (configured.parent / "package" / "metadata.json").is_file()


def publish_tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorExecutionData:
    """One tick of `publish_after_batch` as the sensor daemon evaluates it."""
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, repository_def=defs.get_repository_def()
    )
    return defs.get_sensor_def(PUBLISH_SENSOR_NAME).evaluate_tick(context)


def test_one_publish_tick_goes_through_every_finished_run(
    configured: Path, instance: dg.DagsterInstance
) -> None:
    """A tick is handed the runs that finished since the last one (at most 5: Dagster's
    limit): a run that publishes nothing (its batch still waiting, or already published) must
    not end the tick, and the runs queued behind the limit must not wait ticks: every batch
    completed before the tick publishes on that tick."""
    started = publish_tick(instance, None)  # the first tick only sets the cursor
    assert not started.run_requests
    big = ["rft|test", "rft|validation", "cpt|test", "cpt|validation", "sft|test", "sft|validation"]
    waiting = batch_run_requests(["rft|train", "rft|test"], "test", "waiting", configured)
    first = batch_run_requests(big, "test", "first", configured)
    second = batch_run_requests(["rft|test"], "test", "second", configured)
    for request in [waiting[0], *first, *second]:  # `waiting` never gets its second run
        assert run_request(instance, request).success

    one = publish_tick(instance, started.cursor)
    requests = one.run_requests or []
    assert sorted(r.run_key for r in requests) == ["first:manifest", "second:manifest"]
    for request in requests:  # what the daemon does with them
        assert run_request(instance, request).success
    cursor = one.cursor
    for _ in range(3):  # the runs left behind Dagster's limit: nothing more to publish
        later = publish_tick(instance, cursor)
        assert not later.run_requests
        cursor = later.cursor


def test_a_publish_tick_notes_in_its_log_and_prints_nothing(
    configured: Path, instance: dg.DagsterInstance, capfd: pytest.CaptureFixture[str]
) -> None:
    """Why a tick published nothing (a batch waiting for its runs) is in the tick's log,
    as the UI shows it, and not on the console of `dagster dev`: it was an INFO line there
    on every tick, without `run.py ui --verbose`."""
    started = publish_tick(instance, None)
    waiting = batch_run_requests(["rft|train", "rft|test"], "test", "waiting", configured)
    assert run_request(instance, waiting[0]).success
    capfd.readouterr()
    log_key = ["ticks", PUBLISH_SENSOR_NAME, "1"]
    with dg.SensorEvaluationContext(  # as the sensor daemon builds it: the tick has a log
        instance_ref=instance.get_ref(),
        cursor=started.cursor,
        log_key=log_key,  # no repository name: the runs ran in process, without an origin
        repository_def=defs.get_repository_def(),
        instance=instance,
        sensor_name=PUBLISH_SENSOR_NAME,
    ) as context:
        data = defs.get_sensor_def(PUBLISH_SENSOR_NAME).evaluate_tick(context)
    assert not data.run_requests
    console = capfd.readouterr()
    assert "batch waiting" not in console.out + console.err
    assert " - INFO - " not in console.out + console.err
    logged = [r["msg"] for r in get_instigation_log_records(instance, log_key)]
    assert any("batch waiting: 1 of 2 partitions succeeded" in m for m in logged), logged


def test_failed_partition_blocks_the_batch(configured: Path, instance: dg.DagsterInstance) -> None:
    baseline = tick(instance, None)
    append_copy_of_first_line(configured.parent / SFT)
    requests = tick(instance, baseline.cursor).run_requests or []
    assert len(requests) == 3
    # Make the partitions fail their blocking parse check: garbage lines in the source.
    with open(configured.parent / SFT, "ab") as handle:
        handle.write(b"{not json\n" * 50)
    results = [run_request(instance, r) for r in requests]
    assert not results[0].success  # sft|train carries the parse failures
    ok = next(r for r in results if r.success)
    context = dg.build_run_status_sensor_context(
        sensor_name=PUBLISH_SENSOR_NAME,
        dagster_event=ok.get_run_success_event(),
        dagster_instance=instance,
        dagster_run=ok.dagster_run,
    )
    assert publish_after_batch(context) is None
    decision = publish_decision(instance, ok.dagster_run)
    assert isinstance(decision, str) and "sft|train" in decision


def test_observing_raw_sources_gives_the_sensor_versions(
    configured: Path, instance: dg.DagsterInstance
) -> None:
    """ "Observe" in the UI runs the observable source asset in a job: the same versions the
    sensor records, with a table of each partition's files."""
    observe_defs = dg.Definitions(
        assets=[raw_sources],
        jobs=[dg.define_asset_job("observe_sources", selection=[RAW_SOURCES_KEY])],
        resources={"pipeline": PipelineResource(config_path=str(configured))},
    )
    job = observe_defs.resolve_job_def("observe_sources")
    result = job.execute_in_process(instance=instance)
    assert result.success
    observed = {e.partition: e for e in result.asset_observations_for_node(raw_sources.op.name)}
    expected = take_snapshot(load_config(configured)).partition_versions()
    assert {k: o.tags[DATA_VERSION_TAG] for k, o in observed.items()} == expected
    assert "support_chats.jsonl" in observed["sft|test"].metadata["files"].value
    assert observed["rft|validation"].metadata["file_count"].value == 0
    one = job.execute_in_process(instance=instance, partition_key="rft|test")
    (only,) = one.asset_observations_for_node(raw_sources.op.name)
    assert (only.partition, only.tags[DATA_VERSION_TAG]) == ("rft|test", expected["rft|test"])


def test_a_partition_run_rehashes_only_the_source_files_whose_stat_changed(
    configured: Path, instance: dg.DagsterInstance
) -> None:
    job = defs.resolve_job_def("build_partition")

    def hashed_by_run() -> int:
        assert job.execute_in_process(
            partition_key="rft|test", instance=instance, raise_on_error=False
        ).success
        record = instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=RAW_SOURCES_KEY, asset_partitions=["rft|test"]),
            limit=1,
        ).records[0]
        return record.asset_observation.metadata["files_hashed"].value

    assert hashed_by_run() == 1  # first observation: the partition's one file is read
    assert hashed_by_run() == 0  # unchanged stat: the recorded fingerprint is reused
    add_rft_test_record(configured.parent / "raw" / "rft" / "seedlings_test.jsonl")
    assert hashed_by_run() == 1


def test_a_config_whose_work_dir_serves_another_package_launches_nothing_and_writes_nothing(
    configured: Path, instance: dg.DagsterInstance
) -> None:
    """Its snapshot would replace the other package's sensor snapshots (a real change of that
    package then launched nothing): refused like its builds."""
    from jsonl_assets.core.store.work_owner import claim_work_dir

    cfg = load_config(configured, list_files=False)
    claim_work_dir(cfg.path, cfg.output.work_dir, cfg.output.dir.parent / "another-package")
    before = sorted(p.relative_to(cfg.output.work_dir) for p in cfg.output.work_dir.rglob("*"))
    data = tick(instance, None)
    assert not data.run_requests and "output.work_dir" in (data.skip_message or "")
    after = sorted(p.relative_to(cfg.output.work_dir) for p in cfg.output.work_dir.rglob("*"))
    assert after == before


def test_a_split_ratio_change_rebuilds_what_publishing_needs(
    configured: Path, instance: dg.DagsterInstance
) -> None:
    """A change of `splits` moves records of every `split: auto` source between its three
    partitions: the sensor requests those partitions (and no other), and once they are
    built the package publishes (a declared split's partition still follows the config)."""
    from jsonl_assets.core.build import build_partition, publish

    build_with_core(configured)
    baseline = tick(instance, None)
    data = yaml.safe_load(configured.read_text())
    data["splits"]["validation"] = 0.3
    configured.write_text(yaml.safe_dump(data, sort_keys=False))
    changed = tick(instance, baseline.cursor)
    keys = [r.partition_key for r in changed.run_requests or []]
    auto = ("sft", "preference", "cpt")
    assert keys == [k for k in all_partition_keys() if k.split("|")[0] in auto]
    assert [e.partition for e in changed.asset_events] == keys
    cfg = load_config(configured)
    for key in keys:
        build_partition(cfg, key)
    result = publish(cfg)
    assert result.manifest is not None and result.manifest.published, result.problems


def test_swapped_sources_of_a_partition_are_requested(
    configured: Path, instance: dg.DagsterInstance
) -> None:
    """Two sources of rft|train swapped: records are written in config order and the first
    of two with one id wins, so the partition is another one: requested, and observed."""
    data = yaml.safe_load(configured.read_text())
    data["sources"].append({**data["sources"][2], "name": "more_seedlings"})
    configured.write_text(yaml.safe_dump(data, sort_keys=False))
    baseline = tick(instance, None)
    data["sources"][2], data["sources"][-1] = data["sources"][-1], data["sources"][2]
    configured.write_text(yaml.safe_dump(data, sort_keys=False))
    changed = tick(instance, baseline.cursor)
    requests = changed.run_requests or []
    assert [r.partition_key for r in requests] == ["rft|train"]
    assert requests[0].tags[CHANGED_SOURCES_TAG] == "more_seedlings,seedlings_train"
    versions = {e.partition: e.tags[DATA_VERSION_TAG] for e in baseline.asset_events}
    assert [e.partition for e in changed.asset_events] == ["rft|train"]
    assert changed.asset_events[0].tags[DATA_VERSION_TAG] != versions["rft|train"]
    assert not tick(instance, changed.cursor).run_requests
