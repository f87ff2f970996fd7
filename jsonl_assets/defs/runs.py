"""The Dagster runs behind `jsonl-assets build`: the project's instance, one `build_partition`
run per partition key and the `publish_manifest` run, each summarised as a plain dict (the
CLI prints them; the runs happen in its forked workers)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import dagster as dg

from jsonl_assets.core import build_summary
from jsonl_assets.core.config import load_config
from jsonl_assets.defs.definitions import run_definitions
from jsonl_assets.defs.partitions import all_partition_keys

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLI_TAGS = {"jsonl-assets/cli": "build"}
__all__ = ["all_partition_keys", "build_partition", "ensure_dagster_home", "prepare", "publish"]


def ensure_dagster_home() -> Path:
    """$DAGSTER_HOME, or the project-local `.dagster_home/` in the current folder (created on
    first use, with the project's `dagster.yaml`: the current folder's, else the one beside
    this package, else a minimal one with telemetry off)."""
    if home := os.environ.get("DAGSTER_HOME"):
        path = Path(home).resolve()
    else:
        path = (Path.cwd() / ".dagster_home").resolve()
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


def prepare() -> None:
    """Open the instance (creating its storage) and resolve the jobs, in the CLI process,
    before it forks its workers: they share both instead of each building them again."""
    ensure_dagster_home()
    run_definitions().resolve_job_def("build_partition")
    dg.DagsterInstance.get()


def _run_config(
    config_path: str, force: bool, helper_thread: bool = True, verbose: bool = False
) -> dict[str, Any]:
    pipeline = {"config_path": config_path, "force": force, "helper_thread": helper_thread}
    return {
        "resources": {"pipeline": {"config": pipeline}},
        # The CLI prints its own progress and its own account of a failure (build_summary.py);
        # Dagster's errors with stack traces only with --verbose. The event log holds them all.
        "loggers": {"console": {"config": {"log_level": "WARNING" if verbose else "CRITICAL"}}},
    }


def _failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        f"{e.asset_key.to_user_string()}.{e.check_name}: {e.description or 'failed'}"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]


def _errors(result: dg.ExecuteInProcessResult) -> list[str]:
    out = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            # Dagster wraps what the stage raised ("Error occurred while executing op ..."):
            # show the stage's own error, which says what is wrong.
            while (
                error is not None
                and error.cause is not None
                and error.cls_name.startswith("Dagster")
            ):
                error = error.cause
            message = error.message.strip() if error else "failed"
            # Our own errors say what is wrong; their module path only hides it.
            cls, sep, said = message.partition(": ")
            if sep and cls.startswith("jsonl_assets."):
                message = said
            out.append(f"{event.step_key}: {message}")
    return out


def build_partition(
    key: str,
    config_path: str,
    force: bool,
    instance: dg.DagsterInstance | None = None,
    helper_thread: bool = True,
    verbose: bool = False,
) -> dict[str, Any]:
    """Run the `build_partition` job for one key; return a summary (runs in a worker process)."""
    started = time.perf_counter()
    result = (
        run_definitions()
        .resolve_job_def("build_partition")
        .execute_in_process(
            run_config=_run_config(config_path, force, helper_thread, verbose),
            instance=instance or dg.DagsterInstance.get(),
            partition_key=key,
            raise_on_error=False,
            tags=CLI_TAGS,
        )
    )
    summary: dict[str, Any] = {
        "key": key,
        "success": result.success,
        "failed_checks": _failed_checks(result),
        "errors": _errors(result),
        "seconds": time.perf_counter() - started,
        "run_id": result.run_id,
        **build_summary.collect(result, load_config(Path(config_path)), key),
    }
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        meta = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
        stage = mat.asset_key.to_user_string()
        if stage == "extracted":
            summary["files"] = meta.get("source_files", 0)
        if stage == "validated":
            summary["warned"] = meta.get("quality_warned") or {}
        if stage == "shards":
            summary.update(
                read=meta["records_read"],
                written=meta["records_written"],
                quarantined=meta["records_quarantined"],
                shards=meta["shard_count"],
                bytes=meta["bytes_out"],
                reused=meta.get("reused", False),
            )
    return summary


def publish(
    config_path: str, instance: dg.DagsterInstance | None = None, verbose: bool = False
) -> dict[str, Any]:
    """Run the `publish_manifest` job; return its outcome and the manifest's metadata."""
    result = (
        run_definitions()
        .resolve_job_def("publish_manifest")
        .execute_in_process(
            run_config=_run_config(config_path, False, verbose=verbose),
            instance=instance or dg.DagsterInstance.get(),
            raise_on_error=False,
            tags=CLI_TAGS,
        )
    )
    meta: dict[str, Any] = {}
    for event in result.get_asset_materialization_events():
        meta = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
    return {
        "success": result.success,
        "failed_checks": _failed_checks(result),
        "errors": _errors(result),
        "meta": meta,
    }
