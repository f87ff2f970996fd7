"""A blocking check that fails a step is said in one line, `<partition>: blocking check <name>
failed: <why>`, with no frame of ours but the boundary's `raise`, whichever check and step:
before, only the parse check's stop of the record stages had its own line (and with a frame of
record_stages under it), `invalid_rate`, `adapter_reject_rate`, `duplicate_id_rate`,
`shards_verified` and `package_valid` failed the step with Dagster's generic
DagsterAssetCheckFailedError ("1 blocking asset check failed with ERROR severity: manifest:
package_valid") over Dagster's stack, naming neither the partition nor why, and the chunk
job's merge raised its own Failure from its frame."""

import inspect
import json
from pathlib import Path

import dagster as dg
from dagster._daemon.auto_run_reexecution.auto_run_reexecution import should_retry

from jsonl_assets.defs.checks import RETRY_ON_FAILURE_TAG
from jsonl_assets.defs.chunk_job import build_chunks
from jsonl_assets.defs.definitions import run_definitions
from jsonl_assets.defs.partitions import PARTITIONS
from jsonl_assets.defs.user_errors import user_errors_said
from jsonl_assets_tests.conftest import write_config
from jsonl_assets_tests.defs.test_user_errors import FAILURES, _assert_said_in_one_line, _failures

KEY = "sft|train"
RETRIES = {"run_retries": {"enabled": True, "max_retries": 1}}


def _checks(*names: str, blocking: bool = True) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(n, asset="judged", blocking=blocking) for n in names]


@dg.asset(
    name="judged",
    partitions_def=PARTITIONS,
    check_specs=[*_checks("refusing", "warning"), *_checks("advisory", blocking=False)],
)
@user_errors_said
def judged(context: dg.AssetExecutionContext):  # type: ignore[no-untyped-def]
    refuse = context.partition_key == KEY
    yield dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name="refusing", passed=not refuse, description="12 of 40\nABOVE 5%"
            ),
            dg.AssetCheckResult(
                check_name="warning", passed=False, severity=dg.AssetCheckSeverity.WARN
            ),
            dg.AssetCheckResult(check_name="advisory", passed=False, description="not blocking"),
        ]
    )


def test_a_failed_blocking_check_fails_its_step_in_one_line_and_is_not_retried() -> None:
    with dg.instance_for_test(overrides=RETRIES) as instance:
        result = dg.materialize(
            [judged], partition_key=KEY, instance=instance, raise_on_error=False
        )
        events = _failures(instance, result.run_id)
        assert [e.event_type for e in events] == list(FAILURES)
        for event in events:
            said = _assert_said_in_one_line(event, "")
            assert said == f"{KEY}: blocking check refusing failed: 12 of 40 ABOVE 5%"
        # The check evaluations are recorded before the step fails.
        evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert evaluations == {"refusing": False, "warning": False, "advisory": False}
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.tags.get(RETRY_ON_FAILURE_TAG) == "false"
        assert not should_retry(run, instance)
        # A warning or a non-blocking check failing does not fail the step.
        assert dg.materialize([judged], partition_key="sft|test", instance=instance).success


def test_every_step_with_blocking_checks_is_a_generator() -> None:
    """Only a generator's results are recorded before the boundary fails the step on them."""
    steps = 0
    for assets_def in run_definitions().resolve_asset_graph().assets_defs:
        if any(spec.blocking for spec in assets_def.check_specs):
            steps += 1
            assert inspect.isgeneratorfunction(assets_def.op.compute_fn.decorated_fn), assets_def
    assert steps == 3  # record_stages, shards, manifest


def _refused_project(tmp_path: Path) -> Path:
    """cpt|train: every record breaks the spec (no `messages`: invalid_rate); cpt|test: a
    third of the lines are broken JSON (parse_failure_rate)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    notes = [json.dumps({"text": f"note {i}"}) for i in range(30)]
    (raw / "invalid.jsonl").write_text("\n".join(notes) + "\n")
    broken = [n if i % 3 else '{"text": broken' for i, n in enumerate(notes)]
    (raw / "broken.jsonl").write_text("\n".join(broken) + "\n")
    source = {"objective": "cpt", "adapter": "native", "license": "CC0-1.0"}
    return write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "d", "license": "CC0-1.0"},
            "sources": [
                {**source, "name": "invalid", "paths": ["raw/invalid.jsonl"], "split": "train"},
                {**source, "name": "broken", "paths": ["raw/broken.jsonl"], "split": "test"},
            ],
        },
    )


def _said(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    events = _failures(instance, run_id)
    assert [e.event_type for e in events] == list(FAILURES)
    return [_assert_said_in_one_line(e, "blocking check") for e in events]


def test_every_blocking_check_refusal_of_a_run_is_said_in_one_line(tmp_path: Path) -> None:
    config = _refused_project(tmp_path)
    run_config = {"resources": {"pipeline": {"config": {"config_path": str(config)}}}}
    defs = run_definitions()
    build, publish = (defs.resolve_job_def(n) for n in ("build_partition", "publish_manifest"))
    expected = {
        "cpt|train": "cpt|train: blocking check invalid_rate failed: 30 of 30",
        "cpt|test": "cpt|test: blocking check parse_failure_rate failed: 10 of 30",
    }
    with dg.instance_for_test() as instance:
        for key, start in expected.items():
            result = build.execute_in_process(
                run_config=run_config, partition_key=key, instance=instance, raise_on_error=False
            )
            assert all(s.startswith(start) for s in _said(instance, result.run_id))
        result = publish.execute_in_process(
            run_config=run_config, instance=instance, raise_on_error=False
        )
        for said in _said(instance, result.run_id):
            assert said.startswith("blocking check package_valid failed: "), said
            assert all(start in said for start in expected.values()), said
        chunks = build_chunks.execute_in_process(
            run_config={
                **run_config,
                "ops": {"plan": {"config": {"partition": "cpt|test"}}},
                "execution": {"config": {"in_process": {}}},
            },
            instance=instance,
            raise_on_error=False,
        )
        for said in _said(instance, chunks.run_id):
            assert said.startswith(expected["cpt|test"]), said
            assert said.endswith("; no shards were written"), said


def test_a_manifest_refusal_in_a_partitioned_run_names_the_partitions_that_stopped_it(
    sample_project: Path,
) -> None:
    """Every asset materialised for `cpt|test`, whose checks pass, while `sft|train` holds too
    many rejects: the manifest's one line names `sft|train`, and is not prefixed with the
    run's partition (the manifest is the whole package's, not `cpt|test`'s)."""
    from jsonl_assets.core.build import build_partition
    from jsonl_assets.core.config import load_config
    from jsonl_assets.defs.assets import ALL_ASSETS
    from jsonl_assets.defs.observations import raw_sources
    from jsonl_assets.defs.resources import PipelineResource

    config = sample_project
    bad = config.parent / "raw" / "sft" / "bad.jsonl"
    bad.write_text(
        "".join(json.dumps({"id": f"b{i}", "messages": "nope"}) + "\n" for i in range(40))
    )
    cfg = load_config(config)
    for key in ("sft|train", "sft|validation", "sft|test"):
        build_partition(cfg, key)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [raw_sources, *ALL_ASSETS],
            partition_key="cpt|test",
            instance=instance,
            resources={"pipeline": PipelineResource(config_path=str(config))},
            raise_on_error=False,
        )
    [failure] = [
        e.event_specific_data.error.message
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE" and e.step_key == "manifest"
    ]
    line = failure.strip().splitlines()[0]
    assert "blocking check package_valid failed" in line
    assert "sft|train: blocking check adapter_reject_rate failed" in line
    assert "cpt|test:" not in line
