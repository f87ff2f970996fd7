"""The code location: assets, checks, jobs, schedules, sensors and the pipeline resource."""

import dagster as dg

from jsonl_assets.assets import ALL_ASSETS
from jsonl_assets.jobs import build_partition_job, publish_manifest_job
from jsonl_assets.observations import raw_sources
from jsonl_assets.resources import PipelineResource
from jsonl_assets.schedules import package_rebuild
from jsonl_assets.sensors import publish_after_batch, raw_sources_changed

defs = dg.Definitions(
    assets=[raw_sources, *ALL_ASSETS],
    jobs=[build_partition_job, publish_manifest_job],
    schedules=[package_rebuild],
    sensors=[raw_sources_changed, publish_after_batch],
    resources={"pipeline": PipelineResource()},
    executor=dg.in_process_executor,
)
