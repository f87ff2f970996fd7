"""The `build_chunks` job refuses a `partition` (ops.plan.config) that is not one of the
twelve: its plan step fails at once with a one-line dg.Failure naming the key and the twelve,
and nothing is written. Before, `bogus|train` ran to success building `<work_dir>/bogus/train/`,
`../../escaped|train` wrote its stage files outside the work dir, and `cpt|bogus` or `cpt`
failed the step with a raw KeyError or ValueError and its stack."""

from pathlib import Path

import dagster as dg
import pytest

from jsonl_assets.core.store.work_files import PARTITION_KEYS
from jsonl_assets.defs.checks import RETRY_ON_FAILURE_TAG
from jsonl_assets.defs.chunk_job import build_chunks
from jsonl_assets_tests.conftest import notes_config


def _config(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    raw = proj / "raw" / "n.txt"
    raw.parent.mkdir(parents=True)
    raw.write_text("hello world\nsecond\n", encoding="utf-8")
    output = {"dir": str(proj / "package"), "work_dir": str(proj / "work"),
              "quarantine_dir": str(proj / "quarantine")}  # fmt: skip
    return notes_config(proj / "p.yaml", [str(raw)], output)


def _run(tmp_path: Path, config: Path, key: str) -> tuple[dg.JobExecutionResult, dict[str, str]]:
    """The run's result and its tags."""
    run_config = {
        "ops": {"plan": {"config": {"partition": key}}},
        "resources": {"pipeline": {"config": {"config_path": str(config)}}},
        "execution": {"config": {"in_process": {}}},
    }
    (tmp_path / "dagster").mkdir(exist_ok=True)
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        result = dg.execute_job(
            dg.reconstructable(build_chunks),
            instance=instance,
            run_config=run_config,
            raise_on_error=False,
        )
        run = instance.get_run_by_id(result.run_id)
        assert run is not None
        return result, dict(run.tags)


BAD_KEYS = ["bogus|train", "../../escaped|train", "cpt|bogus", "cpt"]


def _said(key: str) -> str:
    return f"unknown partition {key!r}: a partition is objective|split, one of " + ", ".join(
        PARTITION_KEYS
    )


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_partition_of_none_of_the_twelve_fails_the_plan_in_one_line(
    tmp_path: Path, key: str
) -> None:
    config = _config(tmp_path)
    result, tags = _run(tmp_path, config, key)
    assert not result.success
    assert tags.get(RETRY_ON_FAILURE_TAG) == "false"  # a retry would fail the same way
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["plan"]
    error = failures[0].step_failure_data.error
    assert error is not None and error.cause is None  # no raw exception chained under it
    message = error.message.split(": ", 1)[1].strip()  # after Failure's class path
    assert message == _said(key)
    # Nothing written: no work dir, nothing beside the project.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dagster", "proj"]
    assert sorted(p.name for p in (tmp_path / "proj").iterdir()) == ["p.yaml", "raw"]


def test_one_of_the_twelve_still_builds(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert _run(tmp_path, config, "cpt|train")[0].success
    assert (tmp_path / "proj" / "work" / "cpt" / "train" / "shards.json").is_file()
