"""The Dagster runs behind `jsonl-assets build`: the project's instance, one `build_partition`
run per partition key that needs one, and the `publish_manifest` run, each summarised as a
plain dict (the CLI prints them; the runs happen in its forked workers).

Each run is created with the code location's origin (location `jsonl_assets`, as in
workspace.yaml) and executed in-process: the UI lists it on the Overview timeline, the job
page and the asset pages like a run it launched. `execute_in_process` records no origin, so
`_execute` is its few steps with the origin added (Dagster's internal API, pinned 1.13.27)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Final

import dagster as dg
from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.execution.api import (
    ExecuteRunWithPlanIterable,
    create_execution_plan,
    job_execution_iterator,
)
from dagster._core.execution.context_creation_job import (
    PlanOrchestrationContextManager,
    orchestration_context_event_generator,
)
from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from jsonl_assets.core import build_summary
from jsonl_assets.core.build import dirs_for, read_marker_any
from jsonl_assets.core.config import load_config
from jsonl_assets.core.stages.shard_stage import MARKER as SHARDS_MARKER
from jsonl_assets.core.stages.validate_stage import MARKER as VALIDATE_MARKER
from jsonl_assets.core.store.work_files import PartitionDirs
from jsonl_assets.defs.dead_runs import STARTED_MESSAGE, mark_dead_runs, worker_metadata
from jsonl_assets.defs.definitions import run_definitions
from jsonl_assets.defs.ownership import partition_tags
from jsonl_assets.defs.partitions import all_partition_keys
from jsonl_assets.defs.sqlite_holds import held_open, run_files, shared_files
from jsonl_assets.defs.stage_metadata import REUSED
from jsonl_assets.defs.storage_errors import instance_errors, step_error, storage_errors
from jsonl_assets.defs.user_errors import STACK

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODULE: Final = "jsonl_assets.defs.definitions"  # workspace.yaml's code location
LOCATION: Final = "jsonl_assets"
REPOSITORY: Final = "__repository__"  # the name Dagster gives a module's Definitions
CLI_TAGS = {"jsonl-assets/cli": "build"}
# How a step's dg.Failure is named before its message: "dagster._core.definitions.events.Failure".
_FAILURE: Final = f"{dg.Failure.__module__}.{dg.Failure.__qualname__}"
__all__ = [
    "all_partition_keys",
    "build_partition",
    "ensure_dagster_home",
    "free_dead_runs",
    "prepare",
    "publish",
]


def ensure_dagster_home() -> Path:
    """$DAGSTER_HOME, or the project-local `.dagster_home/` in the current folder (created on
        first use, with the project's `dagster.yaml`: the current folder's, else the one beside
        this package, else a minimal one with telemetry off). A relative $DAGSTER_HOME is made
    absolute (from the current folder)."""
    home = os.environ.get("DAGSTER_HOME")
    path = Path(home or Path.cwd() / ".dagster_home").resolve()
    # Absolute for Dagster too (it refuses a relative one), as for this process's workers.
    os.environ["DAGSTER_HOME"] = str(path)
    path.mkdir(parents=True, exist_ok=True)
    instance_yaml = path / "dagster.yaml"
    if not instance_yaml.exists():
        for candidate in (Path.cwd() / "dagster.yaml", PROJECT_ROOT / "dagster.yaml"):
            if candidate.is_file():
                shutil.copyfile(candidate, instance_yaml)
                break
        else:
            instance_yaml.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    return path


_prepared: dict[str, dg.DagsterInstance] = {}  # the instance `prepare` opened, by its home


def prepare() -> None:
    """Open the instance (creating its storage) and resolve the jobs, in the CLI process,
    before it forks its workers: they share both instead of each building them again
    (`DagsterInstance.get()` opens a new one on every call; its storages connect per use, so
    the forked workers can use the parent's)."""
    run_definitions().resolve_job_def("build_partition")
    run_definitions().resolve_job_def("publish_manifest")
    _prepared.clear()
    # A home that is a file or a dagster.yaml Dagster cannot read: one line, no traceback.
    with instance_errors():
        home = str(ensure_dagster_home())
        _prepared[home] = dg.DagsterInstance.get()


def _instance(instance: dg.DagsterInstance | None) -> dg.DagsterInstance:
    """`instance`, else the one `prepare` opened for $DAGSTER_HOME, else a new one."""
    if instance is not None:
        return instance
    home = os.environ.get("DAGSTER_HOME")
    prepared = _prepared.get(str(Path(home).resolve())) if home else None
    return prepared or dg.DagsterInstance.get()


def free_dead_runs(instance: dg.DagsterInstance | None = None) -> list[str]:
    """Mark failed the runs on this machine whose worker process is gone (a build or
    `dagster dev` killed earlier: defs/dead_runs.py), one line each. Not retried by Dagster:
    this build runs again what needs it."""
    with storage_errors():
        return mark_dead_runs(_instance(instance), "jsonl-assets build", retry=False)


def _run_config(
    config_path: str,
    force: bool,
    helper_thread: bool = True,
    verbose: bool = False,
    chunk_workers: int = 1,
    replace_other_dataset: bool = False,
) -> dict[str, Any]:
    pipeline = {
        "config_path": config_path,
        "force": force,
        "helper_thread": helper_thread,
        "chunk_workers": chunk_workers,
        "replace_other_dataset": replace_other_dataset,
    }
    return {
        "resources": {"pipeline": {"config": pipeline}},
        # The CLI prints its own progress and its own account of a failure (build_summary.py);
        # Dagster's errors with stack traces only with --verbose. The event log holds them all.
        "loggers": {"console": {"config": {"log_level": "WARNING" if verbose else "CRITICAL"}}},
    }


def remote_job_origin(job_name: str) -> RemoteJobOrigin:
    """The origin the webserver gives this job of the code location in workspace.yaml."""
    target = LoadableTargetOrigin(
        executable_path=sys.executable, module_name=MODULE, working_directory=os.getcwd()
    )
    location = ManagedGrpcPythonEnvCodeLocationOrigin(target, LOCATION)
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, REPOSITORY), job_name)


def _execute(
    job_name: str,
    run_config: dict[str, Any],
    instance: dg.DagsterInstance,
    tags: dict[str, str],
    partition_key: str | None = None,
) -> dg.ExecuteInProcessResult:
    """`JobDefinition.execute_in_process`, but the run carries the code location's origin. A
    failure of Dagster's storage (recording the run or its events) is a `StorageFailed`."""
    with storage_errors():
        return _execute_recorded(job_name, run_config, instance, tags, partition_key)


def _execute_recorded(
    job_name: str,
    run_config: dict[str, Any],
    instance: dg.DagsterInstance,
    tags: dict[str, str],
    partition_key: str | None,
) -> dg.ExecuteInProcessResult:
    job_def = run_definitions().resolve_job_def(job_name)
    if partition_key is not None:
        tags = {**tags, **job_def.get_tags_for_partition_key(partition_key, None)}
        tags.update(partition_tags(partition_key))
    job = InMemoryJob(job_def)
    plan = create_execution_plan(job, run_config=run_config, instance_ref=instance.get_ref())
    with contextlib.ExitStack() as holds:
        # Dagster's per-event SQLite connections close without a checkpoint meanwhile.
        holds.enter_context(held_open(shared_files(instance)))
        run = instance.create_run_for_job(
            job_def=job_def,
            run_config=run_config,
            tags={**job_def.run_tags, **tags},
            execution_plan=plan,
            remote_job_origin=remote_job_origin(job_name),
            job_code_origin=JobPythonOrigin(
                job_name,
                RepositoryPythonOrigin(
                    sys.executable, ModuleCodePointer(MODULE, "defs", os.getcwd())
                ),
            ),
        )
        holds.enter_context(held_open(run_files(instance, run.run_id)))
        # Which process runs it, as Dagster records for the runs it launches: a run whose
        # process is killed is then marked failed (defs/dead_runs.py) instead of staying STARTED.
        instance.report_engine_event(
            STARTED_MESSAGE.format(pid=os.getpid()), run, worker_metadata(os.getpid())
        )
        output_capture: dict[Any, Any] = {}
        events = list(
            ExecuteRunWithPlanIterable(
                execution_plan=plan,
                iterator=job_execution_iterator,
                execution_context_manager=PlanOrchestrationContextManager(
                    context_event_generator=orchestration_context_event_generator,
                    job=job,
                    execution_plan=plan,
                    dagster_run=run,
                    instance=instance,
                    run_config=run_config,
                    executor_defs=None,
                    output_capture=output_capture,
                    raise_on_error=False,
                ),
            )
        )
    return dg.ExecuteInProcessResult(
        job_def=job_def,
        event_list=events,
        dagster_run=instance.get_run_by_id(run.run_id) or run,
        output_capture=output_capture,
    )


def _failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        f"{e.asset_key.to_user_string()}.{e.check_name}: {e.description or 'failed'}"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]


def _errors(result: dg.ExecuteInProcessResult, verbose: bool = False) -> list[str]:
    """A line per failed step; with `verbose`, the stack of the error a step said in one line
    (user_errors.STACK), a line each, under it."""
    out = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            data = event.event_specific_data
            error = data.error
            # Dagster wraps what the stage raised ("Error occurred while executing op ..."):
            # show the stage's own error, which says what is wrong.
            while (
                error is not None
                and error.cause is not None
                and error.cls_name.startswith("Dagster")
            ):
                error = error.cause
            message = error.message.strip() if error else "failed"
            message = step_error(message) or message
            # Our own errors, and the dg.Failure a step raises with our message, say what
            # is wrong; their module path only hides it.
            cls, sep, said = message.partition(": ")
            if sep and (cls.startswith("jsonl_assets.") or cls == _FAILURE):
                message = said
            out.append(f"{event.step_key}: {message}")
            failure = getattr(data, "user_failure_data", None)
            stack = (failure.metadata if failure is not None else {}).get(STACK)
            if verbose and stack is not None:
                out.extend(f"{event.step_key}:   {line}" for line in stack.value.splitlines())
    return out


def build_partition(
    key: str,
    config_path: str,
    force: bool,
    instance: dg.DagsterInstance | None = None,
    helper_thread: bool = True,
    verbose: bool = False,
    chunk_workers: int = 1,
    replace_other_dataset: bool = False,
) -> dict[str, Any]:
    """Run the `build_partition` job for one key; return a summary (runs in a worker process;
    its chunks on up to `chunk_workers` processes)."""
    started = time.perf_counter()
    result = _execute(
        "build_partition",
        _run_config(
            config_path, force, helper_thread, verbose, chunk_workers, replace_other_dataset
        ),
        _instance(instance),
        CLI_TAGS,
        partition_key=key,
    )
    metadata = {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    summary: dict[str, Any] = {
        "key": key,
        "success": result.success,
        "failed_checks": _failed_checks(result),
        "errors": _errors(result, verbose),
        "seconds": time.perf_counter() - started,
        "run_id": result.run_id,
    }
    summary.update(_persisted_summary(result, config_path, key, set(metadata)))
    if "shards" in metadata:
        summary["reused"] = bool(getattr(metadata["shards"].get(REUSED), "value", False))
    return summary


def up_to_date_summary(key: str, config_path: str) -> dict[str, Any]:
    """The summary of a partition that needed no run, from what its stages persisted."""
    summary: dict[str, Any] = {"key": key, "success": True, "failed_checks": [], "errors": []}
    summary.update(seconds=0.0, run_id=None, up_to_date=True, reused=True)
    summary.update(_persisted_summary(None, config_path, key, {"validated", "shards"}))
    return summary


def _persisted_summary(
    result: dg.ExecuteInProcessResult | None, config_path: str, key: str, stages: set[str]
) -> dict[str, Any]:
    """Counts, accounting and warnings of the `stages` that ran (or were up to date), read
    from their persisted results; the failed rate checks of `result`."""
    dirs = dirs_for(load_config(config_path, list_files=False), key)
    shards = _persisted(dirs, SHARDS_MARKER) if "shards" in stages else None
    validated = _persisted(dirs, VALIDATE_MARKER) if "validated" in stages else None
    summary = build_summary.collect(result, shards["extra"] if shards else None)
    if validated:
        summary["warned"] = validated["extra"].get("quality_warned") or {}
    if shards:
        accounting = shards["extra"]["accounting"]
        summary.update(
            files=len(shards["extra"]["files"]),
            read=accounting["read"],
            written=accounting["written"],
            quarantined=accounting["quarantined"],
            shards=len(shards["extra"]["shards"]),
            bytes=shards["bytes_out"],
        )
    return summary


def _persisted(dirs: PartitionDirs, marker: str) -> dict[str, Any] | None:
    """The stage report a stage of this run persisted (its marker's `report`)."""
    data = read_marker_any(dirs, marker)
    return data["report"] if data else None


def publish(
    config_path: str,
    instance: dg.DagsterInstance | None = None,
    verbose: bool = False,
    workers: int = 1,
    replace_other_dataset: bool = False,
) -> dict[str, Any]:
    """Run the `publish_manifest` job (its report on up to `workers` processes);
    return its outcome and the manifest's metadata."""
    result = _execute(
        "publish_manifest",
        _run_config(
            config_path,
            False,
            verbose=verbose,
            chunk_workers=workers,
            replace_other_dataset=replace_other_dataset,
        ),
        _instance(instance),
        CLI_TAGS,
    )
    meta: dict[str, Any] = {}
    for event in result.get_asset_materialization_events():
        meta = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
    return {
        "success": result.success,
        "failed_checks": _failed_checks(result),
        "errors": _errors(result, verbose),
        "meta": meta,
    }
