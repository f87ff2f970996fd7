"""Asset checks really block: a partition whose latest blocking rate check failed never
reaches a published metadata.json, whichever asset is materialised (`manifest` on its own,
`shards` on its own), and a failed blocking check is what the run reports, never retried.
Real `dg.materialize` runs of the sample's cpt|train (one small source)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from jsonl_assets.defs import checks
from jsonl_assets.defs.assets import STAGE_ASSETS, shards
from jsonl_assets.defs.resources import PipelineResource
from jsonl_assets_tests.conftest import materialize

KEY = "cpt|train"
WILL_RETRY = "dagster/will_retry"  # set by the instance on a run's failure


@pytest.fixture
def retrying_instance() -> Iterator[dg.DagsterInstance]:
    """An instance with the project's run retries (dagster.yaml: one retry on a failure)."""
    overrides = {"run_retries": {"enabled": True, "max_retries": 1}}
    with dg.instance_for_test(overrides=overrides) as inst:
        yield inst


def _set_threshold(config: Path, name: str, value: float) -> None:
    data = yaml.safe_load(config.read_text())
    data["thresholds"][name] = value
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def _source(config: Path) -> Path:
    return config.parent / "raw" / "cpt" / "garden_notes.jsonl"


def _publish(config: Path, instance: dg.DagsterInstance) -> dg.AssetCheckEvaluation:
    """Materialise `manifest` alone; its package_valid result."""
    result = materialize(config, instance, None)
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == "package_valid")


def _built_and_published(config: Path, instance: dg.DagsterInstance) -> Path:
    assert materialize(config, instance, KEY).success
    assert _publish(config, instance).passed
    metadata = config.parent / "package" / "metadata.json"
    metadata.unlink()  # so that a publication below shows
    return metadata


def _step_errors(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        e.event_specific_data.error.to_string()
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]


@pytest.mark.slow
def test_a_tightened_threshold_stops_the_manifest_materialised_on_its_own(
    sample_project: Path, instance: dg.DagsterInstance
) -> None:
    with _source(sample_project).open("ab") as handle:  # one duplicate id: 0.6%
        handle.write(_source(sample_project).read_bytes().splitlines(keepends=True)[0])
    metadata = _built_and_published(sample_project, instance)
    # No data change, a threshold tightened: the manifest on its own refuses, naming it.
    _set_threshold(sample_project, "max_duplicate_id_rate", 0.0)
    refused = _publish(sample_project, instance)
    assert not refused.passed and not metadata.exists()
    assert f"{KEY}: blocking check duplicate_id_rate failed" in (refused.description or "")
    # The partition's check fails, its shards are skipped; the manifest still refuses.
    built = materialize(sample_project, instance, KEY)
    failed = {e.check_name for e in built.get_asset_check_evaluations() if not e.passed}
    assert failed == {checks.DUPLICATE_ID_RATE}
    refused = _publish(sample_project, instance)
    assert not refused.passed and not metadata.exists()
    assert f"{KEY}: blocking check duplicate_id_rate failed" in (refused.description or "")
    # Relaxed again: the same persisted results publish.
    _set_threshold(sample_project, "max_duplicate_id_rate", 0.5)
    assert _publish(sample_project, instance).passed and metadata.exists()


def test_a_failed_parse_check_is_what_the_run_reports_and_the_old_shards_stay_out(
    sample_project: Path, retrying_instance: dg.DagsterInstance
) -> None:
    metadata = _built_and_published(sample_project, retrying_instance)
    with _source(sample_project).open("ab") as handle:
        handle.writelines(b"{not json %d\n" % i for i in range(40))
    result = materialize(sample_project, retrying_instance, KEY)
    assert not result.success
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {checks.PARSE_FAILURE_RATE: False}
    (error,) = _step_errors(result)
    assert "DagsterStepOutputNotFoundError" not in error
    assert f"{KEY}: blocking check parse_failure_rate failed" in error
    # The same inputs fail the same check again: no automatic retry of the run.
    run = retrying_instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags.get(WILL_RETRY) == "false"
    # The shards of the earlier sources are not published in their place.
    refused = _publish(sample_project, retrying_instance)
    assert not refused.passed and not metadata.exists()
    assert f"{KEY}: blocking check parse_failure_rate failed" in (refused.description or "")


@pytest.mark.slow
def test_materialising_shards_alone_does_not_bypass_a_failed_check(
    sample_project: Path, retrying_instance: dg.DagsterInstance
) -> None:
    metadata = _built_and_published(sample_project, retrying_instance)
    lines = _source(sample_project).read_bytes().splitlines(keepends=True)
    with _source(sample_project).open("ab") as handle:
        handle.writelines(lines[:10])  # 10 duplicate ids: 4.8%, above 2%
    built = materialize(sample_project, retrying_instance, KEY)
    failed = {e.check_name for e in built.get_asset_check_evaluations() if not e.passed}
    assert failed == {checks.DUPLICATE_ID_RATE}
    run = retrying_instance.get_run_by_id(built.run_id)
    assert run is not None and run.tags.get(WILL_RETRY) == "false"
    package = sample_project.parent / "package"
    before = sorted(p.relative_to(package) for p in package.rglob("*") if p.is_file())
    # The UI's Materialize on `shards` alone, for this partition.
    alone = dg.materialize(
        STAGE_ASSETS,
        selection=[shards],
        partition_key=KEY,
        instance=retrying_instance,
        resources={"pipeline": PipelineResource(config_path=str(sample_project))},
        raise_on_error=False,
    )
    assert not alone.success and not alone.get_asset_materialization_events()
    (error,) = _step_errors(alone)
    assert f"{KEY}: blocking check duplicate_id_rate failed" in error
    run = retrying_instance.get_run_by_id(alone.run_id)
    assert run is not None and run.tags.get(WILL_RETRY) == "false"
    after = sorted(p.relative_to(package) for p in package.rglob("*") if p.is_file())
    assert after == before  # no shard moved into the package
    refused = _publish(sample_project, retrying_instance)
    assert not refused.passed and not metadata.exists()
    assert "duplicate_id_rate" in (refused.description or "")


def test_a_failed_shards_verified_and_a_refused_package_are_not_retried(
    sample_project: Path, retrying_instance: dg.DagsterInstance
) -> None:
    """A retry of the shards step alone finds its staged shards moved in ("gone"), and the
    same package is refused again: neither run is retried; the next full run repairs."""
    _built_and_published(sample_project, retrying_instance)
    shard = sorted((sample_project.parent / "package").rglob("cpt-train-*.jsonl.zst"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the same size, one byte flipped
    shard.write_bytes(bytes(data))
    result = materialize(sample_project, retrying_instance, KEY)
    assert not result.success
    run = retrying_instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags.get(WILL_RETRY) == "false"
    refused = materialize(sample_project, retrying_instance, None)
    run = retrying_instance.get_run_by_id(refused.run_id)
    assert run is not None and run.tags.get(WILL_RETRY) == "false"


def test_the_empty_partition_description_counts_in_words() -> None:
    empty_partition_check = checks.empty_partition_check
    assert empty_partition_check(1, 0).description == "1 source file, but no record was written"
    assert empty_partition_check(2, 1).description == "1 record written from 2 source files"
    assert empty_partition_check(0, 0).passed
