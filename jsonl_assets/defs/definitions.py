"""The code location: assets, checks, jobs, schedules, sensors and the pipeline resource.

Importing this module reads no file: `defs` is built when Dagster loads the code location
(`@dg.definitions`), which is when the schedule's cron and the sensor's interval are read from
the config. `run_definitions()` is the part that runs need, with no config at all.
"""

from __future__ import annotations

import functools

import dagster as dg

from jsonl_assets.defs.assets import ALL_ASSETS
from jsonl_assets.defs.chunk_job import build_chunks
from jsonl_assets.defs.dead_runs import dead_runs_sensor
from jsonl_assets.defs.jobs import build_partition_job, publish_manifest_job
from jsonl_assets.defs.observations import raw_sources
from jsonl_assets.defs.ownership import with_team
from jsonl_assets.defs.resources import PipelineResource
from jsonl_assets.defs.schedules import build_rebuild_schedule, configured_automation
from jsonl_assets.defs.sensors import build_sources_sensor, publish_after_batch


@functools.cache
def run_definitions() -> dg.Definitions:
    """Assets, checks, jobs and the resource: what a run executes (built once per process)."""
    return dg.Definitions(
        assets=[raw_sources, *ALL_ASSETS],
        jobs=[build_partition_job, publish_manifest_job, build_chunks],
        resources={"pipeline": PipelineResource()},
        executor=dg.in_process_executor,
    )


def build_defs(config_path: str | None = None) -> dg.Definitions:
    """The whole code location, its schedule and sensor set from the config at `config_path`
    (default: $JSONL_ASSETS_CONFIG, else data/pipeline.yaml)."""
    cron, interval_seconds, team = configured_automation(config_path)
    automation = dg.Definitions(
        schedules=[build_rebuild_schedule(cron)],
        sensors=[build_sources_sensor(interval_seconds), publish_after_batch, dead_runs_sensor],
    )
    return with_team(dg.Definitions.merge(run_definitions(), automation), team)


@dg.definitions
def defs() -> dg.Definitions:
    return build_defs()
