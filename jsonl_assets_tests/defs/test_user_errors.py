"""A user error in a step (config, sources, dirs, storage) fails it with a one-line dg.Failure:
the UI's step and run error is the message, with no chained cause and no frame of ours but
the boundary's `raise`; a run failing for a cause a retry cannot fix tags itself so that the
instance's run retries leave it, a transient cause is retried. Before, a bad config launched
from the UI failed as "DagsterExecutionStepExecutionError: Error occurred while executing op
"raw_sources"" over Dagster's stack, the ConfigError only in the chained cause, and the daemon
retried the run for nothing. Every run of a partition carries the `objective` and `split` tags,
however launched (before: only the schedule's, the sensor's and the CLI's)."""

import ast
import errno
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._daemon.auto_run_reexecution.auto_run_reexecution import should_retry

from jsonl_assets.core.config import ConfigError
from jsonl_assets.core.store.base import SourceChangedError
from jsonl_assets.defs import runs
from jsonl_assets.defs.assets import STAGE_ASSETS
from jsonl_assets.defs.checks import RETRY_ON_FAILURE_TAG
from jsonl_assets.defs.definitions import run_definitions
from jsonl_assets.defs.partitions import PARTITIONS
from jsonl_assets.defs.resources import PipelineResource
from jsonl_assets.defs.user_errors import STACK, user_errors_said

FAILURE = f"{dg.Failure.__module__}.{dg.Failure.__qualname__}: "
KEY = "sft|train"
FAILURES = (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE)


@pytest.fixture
def retrying() -> Iterator[dg.DagsterInstance]:
    """An instance whose failed runs are retried once, as dagster.yaml's."""
    overrides = {"run_retries": {"enabled": True, "max_retries": 1}}
    with dg.instance_for_test(overrides=overrides) as inst:
        yield inst


def _bad_configs(tmp_path: Path, sample: Path) -> dict[str, tuple[Path, str]]:
    undescribed = yaml.safe_load(sample.read_text(encoding="utf-8"))
    del undescribed["dataset"]["description"]
    (tmp_path / "undescribed.yaml").write_text(yaml.safe_dump(undescribed), encoding="utf-8")
    return {
        "missing": (tmp_path / "missing.yaml", "config file not found"),
        "undescribed": (tmp_path / "undescribed.yaml", "dataset.description"),
        "a directory": (tmp_path, "not a regular file"),
    }


def _failures(instance: dg.DagsterInstance, run_id: str) -> list[dg.DagsterEvent]:
    """The run's step and run failures, as the UI reads them: from the instance's event log."""
    events = [e.dagster_event for e in instance.all_logs(run_id)]
    return [e for e in events if e is not None and e.event_type in FAILURES]


def _assert_said_in_one_line(event: dg.DagsterEvent, expected: str) -> str:
    error = event.event_specific_data.error
    assert error.cls_name == "Failure", error.message
    assert error.message.startswith(FAILURE), error.message
    said = error.message[len(FAILURE) :].rstrip("\n")
    assert "\n" not in said and expected in said, said
    assert error.cause is None  # the reason is the message, not a chained cause
    ours = [f for f in error.stack if "jsonl_assets" in f]
    assert len(ours) <= 1 and all("user_errors.py" in f for f in ours), ours
    return said


def test_a_bad_config_fails_the_ui_run_in_one_line_and_is_not_retried(
    tmp_path: Path, sample_project: Path, retrying: dg.DagsterInstance
) -> None:
    job = run_definitions().resolve_job_def("build_partition")
    for name, (config, expected) in _bad_configs(tmp_path, sample_project).items():
        run_config = {"resources": {"pipeline": {"config": {"config_path": str(config)}}}}
        result = job.execute_in_process(
            run_config=run_config, partition_key=KEY, instance=retrying, raise_on_error=False
        )
        assert not result.success, name
        events = _failures(retrying, result.run_id)
        assert [e.event_type for e in events] == list(FAILURES), name
        for event in events:
            said = _assert_said_in_one_line(event, expected)
            assert said.startswith(f"{KEY}: config error: "), said
        run = retrying.get_run_by_id(result.run_id)
        assert run is not None
        assert run.tags[RETRY_ON_FAILURE_TAG] == "false", name
        assert not should_retry(run, retrying), name


@dg.asset(partitions_def=PARTITIONS)
@user_errors_said
def source_rewritten(context: dg.AssetExecutionContext) -> None:
    raise SourceChangedError("raw/a.jsonl changed while it was read")


@dg.asset
@user_errors_said
def refused_dir(context: dg.AssetExecutionContext) -> None:
    raise PermissionError(errno.EACCES, "Permission denied", "/work/out")


def test_a_transient_user_error_is_said_in_one_line_and_retried(
    retrying: dg.DagsterInstance,
) -> None:
    result = dg.materialize(
        [source_rewritten], partition_key=KEY, instance=retrying, raise_on_error=False
    )
    events = _failures(retrying, result.run_id)
    assert [e.event_type for e in events] == list(FAILURES)
    for event in events:
        said = _assert_said_in_one_line(event, "changed while it was read")
        assert said == f"{KEY}: raw/a.jsonl changed while it was read"
    run = retrying.get_run_by_id(result.run_id)
    assert run is not None and RETRY_ON_FAILURE_TAG not in run.tags
    assert should_retry(run, retrying)


def test_a_refused_dir_is_said_with_its_path_and_not_retried(
    retrying: dg.DagsterInstance,
) -> None:
    result = dg.materialize([refused_dir], instance=retrying, raise_on_error=False)
    for event in _failures(retrying, result.run_id):
        assert _assert_said_in_one_line(event, "") == "/work/out: Permission denied"
    run = retrying.get_run_by_id(result.run_id)
    assert run is not None and not should_retry(run, retrying)


def test_every_run_of_a_partition_has_the_objective_and_split_tags(
    sample_project: Path, instance: dg.DagsterInstance
) -> None:
    # The build_partition job: the UI's Launchpad and backfills of the job ask it for the
    # partition's tags, as the schedule, the sensor and the CLI do.
    job = run_definitions().resolve_job_def("build_partition")
    tags = job.get_tags_for_partition_key("cpt|test", None)
    assert (tags["objective"], tags["split"]) == ("cpt", "test")
    # The assets materialised without the job (a UI backfill of the assets, Materialize).
    result = dg.materialize(
        STAGE_ASSETS,
        partition_key="cpt|test",
        instance=instance,
        resources={"pipeline": PipelineResource(config_path=str(sample_project))},
    )
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    assert (run.tags.get("objective"), run.tags.get("split")) == ("cpt", "test")
    assert instance.get_runs(filters=dg.RunsFilter(tags={"objective": "cpt"}))


def _internal_bug() -> None:
    open("/nonexistent/internal-bug-path")  # noqa: SIM115  # a code mistake: an OSError


def _source_changed() -> None:
    raise SourceChangedError("raw/a.jsonl changed while it was read")


def _config_refused() -> None:
    raise ConfigError("/p/pipeline.yaml", "sources[0]", "bad")


@pytest.mark.parametrize("raiser", [_internal_bug, _source_changed, _config_refused])
def test_the_stack_of_an_error_said_in_one_line_is_kept(raiser, tmp_path: Path) -> None:
    """Any error the wrapper says in one line (an OSError from a bug of ours as well as a
    user's) keeps its stack: in the step failure's metadata, in a debug event of the run's
    log, and under its line with `--verbose` (runs._errors); the line itself is unchanged."""

    @dg.asset(name=f"fails_{raiser.__name__.strip('_')}")
    @user_errors_said
    def fails(context: dg.AssetExecutionContext) -> None:
        raiser()

    with dg.instance_for_test() as instance:
        result = dg.materialize([fails], instance=instance, raise_on_error=False)
        frame = f"in {raiser.__name__}"
        step = _failures(instance, result.run_id)[0]
        said = _assert_said_in_one_line(step, "")
        stack = step.event_specific_data.user_failure_data.metadata[STACK].value
        assert frame in stack and stack.splitlines()[0].startswith("Traceback"), stack
        debug = [r.user_message for r in instance.all_logs(result.run_id) if r.level == 10]
        assert any(frame in m and said in m for m in debug), debug
    quiet, verbose = runs._errors(result), runs._errors(result, verbose=True)
    assert quiet == [verbose[0]] and verbose[0].endswith(said)
    assert any(frame in line for line in verbose[1:]), verbose


def test_a_shards_refusal_is_said_in_one_line_and_not_retried(
    tmp_path: Path, retrying: dg.DagsterInstance
) -> None:
    """`shards` alone on a partition whose parse check failed: its refusal (ChecksFailed) is
    one line, like every user error (before: a dg.Failure raised from the ChecksFailed inside
    the step's own handler, so the UI showed the ChecksFailed as a chained cause under a stack
    of the step's frames)."""
    from jsonl_assets.core.build import build_partition
    from jsonl_assets.core.config import load_config
    from jsonl_assets.defs.assets import shards
    from jsonl_assets_tests.defs.test_manifest_metadata import _rft

    config = _rft(tmp_path)
    build_partition(load_config(config), "rft|train")
    result = dg.materialize(
        [shards],
        partition_key="rft|train",
        instance=retrying,
        resources={"pipeline": PipelineResource(config_path=str(config))},
        raise_on_error=False,
    )
    events = _failures(retrying, result.run_id)
    assert [e.event_type for e in events] == list(FAILURES)
    for event in events:
        said = _assert_said_in_one_line(event, "blocking check parse_failure_rate failed")
        assert said.startswith("rft|train: blocking check parse_failure_rate failed: 20 of 100")
    run = retrying.get_run_by_id(result.run_id)
    assert run is not None and run.tags.get(RETRY_ON_FAILURE_TAG) == "false"
    assert not should_retry(run, retrying)


def _raises_from_a_handler(function: ast.AST) -> list[int]:
    """Lines of `raise` statements in `function` with an explicit cause or inside an except
    handler (the raised error would carry the caught one as its cause or context)."""
    lines = [n.lineno for n in ast.walk(function) if isinstance(n, ast.Raise) and n.cause]
    for handler in (n for n in ast.walk(function) if isinstance(n, ast.ExceptHandler)):
        lines += [n.lineno for n in ast.walk(handler) if isinstance(n, ast.Raise) and n.exc]
    return sorted(set(lines))


def test_no_step_raises_a_failure_from_a_caught_error() -> None:
    """Every step of the Dagster layer (a compute function under `user_errors_said`) leaves
    the caught user errors to it: none raises from within a handler of its own."""
    import jsonl_assets.defs

    steps = 0
    for module in sorted(Path(jsonl_assets.defs.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef):
                continue
            names = {ast.unparse(d) for d in node.decorator_list}
            if "user_errors_said" in names:
                steps += 1
                assert not _raises_from_a_handler(node), (module.name, node.name)
    assert steps >= 5  # record_stages, shards, manifest, chunk, merge...
