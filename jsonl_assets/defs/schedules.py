"""`package_rebuild`: on the config's cron, one `build_partition` run per partition.

The twelve runs form a *batch* (tags `jsonl-assets/batch` and `jsonl-assets/batch-size`);
the `publish_after_batch` sensor publishes the manifest once every run of the batch has
succeeded, so metadata.json is never assembled from half-built partitions. Run keys are
`package_rebuild:<scheduled time>:<partition>`: a tick evaluated twice launches nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import dagster as dg
from dagster._utils.schedules import cron_string_iterator, is_valid_cron_string

from jsonl_assets.core.config import ConfigError, load_config, resolve_config_path
from jsonl_assets.defs.jobs import build_partition_job
from jsonl_assets.defs.ownership import DEFAULT_TEAM, partition_tags
from jsonl_assets.defs.partitions import all_partition_keys
from jsonl_assets.defs.user_errors import USER_ERRORS, said

SCHEDULE_NAME: Final = "package_rebuild"
DEFAULT_CRON: Final = "0 3 * * *"
DEFAULT_INTERVAL_SECONDS: Final = 60  # of the raw_sources_changed sensor
TIMEZONE: Final = "UTC"
BATCH_TAG: Final = "jsonl-assets/batch"
BATCH_SIZE_TAG: Final = "jsonl-assets/batch-size"
TRIGGER_TAG: Final = "jsonl-assets/trigger"


def pipeline_run_config(config_path: Path | str) -> dict:
    """Run config that pins the pipeline resource to the config the trigger looked at."""
    return {"resources": {"pipeline": {"config": {"config_path": str(config_path)}}}}


def batch_run_requests(
    keys: Sequence[str],
    trigger: str,
    batch: str,
    config_path: Path | str,
    extra_tags: dict[str, str] | None = None,
) -> list[dg.RunRequest]:
    """One `build_partition` RunRequest per key, all tagged as one batch of len(keys) runs;
    the run key is `<batch>:<partition>`."""
    tags = {
        BATCH_TAG: batch,
        BATCH_SIZE_TAG: str(len(keys)),
        TRIGGER_TAG: trigger,
        **(extra_tags or {}),
    }
    return [
        dg.RunRequest(
            run_key=f"{batch}:{key}",
            job_name=build_partition_job.name,
            partition_key=key,
            run_config=pipeline_run_config(config_path),
            tags={**tags, **partition_tags(key)},
        )
        for key in keys
    ]


def schedulable_cron(cron: str) -> str:
    """`cron` if Dagster accepts it and it has a next tick, else the default cron. The config
    refuses such a cron already (`core/config/cron.py` mirrors Dagster's rule); this is the
    last line, so that a cron the two ever disagree on cannot keep the code location from
    loading, nor fail the scheduler on every tick."""
    if not is_valid_cron_string(cron):
        return _fallback(cron, "Dagster refuses it")
    try:
        next(
            cron_string_iterator(dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp(), cron, TIMEZONE)
        )
    except (ValueError, StopIteration):  # CroniterBadDateError is a ValueError
        return _fallback(cron, "Dagster's scheduler finds no tick for it")
    return cron


def _fallback(cron: str, why: str) -> str:
    dg.get_dagster_logger().warning(
        f"schedule.cron {cron!r}: {why}; package_rebuild runs on {DEFAULT_CRON!r} instead"
    )
    return DEFAULT_CRON


def configured_automation(config_path: str | None = None) -> tuple[str, int, str]:
    """(`schedule.cron`, `sensor.interval_seconds`, `ui.team`) of the config, read once when
    the code location loads; the defaults when the config is missing or invalid (the code
    location must load anyway, and the runs then report the config error). The sources'
    globs are not listed: a slow object store must not hold up the code location's load."""
    try:
        cfg = load_config(config_path, list_files=False)
    except (ConfigError, OSError):
        return DEFAULT_CRON, DEFAULT_INTERVAL_SECONDS, DEFAULT_TEAM
    return schedulable_cron(cfg.schedule_cron), cfg.sensor_interval_seconds, cfg.team


def configured_cron(config_path: str | None = None) -> str:
    return configured_automation(config_path)[0]


def tick_id(context: dg.ScheduleEvaluationContext) -> str:
    """The tick's scheduled time (UTC, ISO 8601); a manual evaluation without one uses now."""
    when = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def build_rebuild_schedule(cron: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=SCHEDULE_NAME,
        cron_schedule=cron,
        execution_timezone=TIMEZONE,
        job=build_partition_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"Rebuilds all twelve partitions ({cron}, {TIMEZONE}; `schedule.cron` in the "
            "config); the publish_after_batch sensor then publishes the manifest. Stages reuse "
            "work whose inputs did not change, so an unchanged partition is quick."
        ),
    )
    def package_rebuild(
        context: dg.ScheduleEvaluationContext,
    ) -> list[dg.RunRequest] | dg.SkipReason:
        try:
            path = resolve_config_path()
            load_config(path)
        except USER_ERRORS as exc:  # one line, as a run's failure (user_errors.py)
            return dg.SkipReason(f"nothing launched: {said(exc)}")
        batch = f"{SCHEDULE_NAME}:{tick_id(context)}"
        return batch_run_requests(all_partition_keys(), SCHEDULE_NAME, batch, path)

    return package_rebuild
