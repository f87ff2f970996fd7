"""The code location: assets, checks, jobs, schedules, sensors and the pipeline resource."""

import dagster as dg

from jsonl_assets.defs.assets import ALL_ASSETS
from jsonl_assets.defs.jobs import build_partition_job, publish_manifest_job
from jsonl_assets.defs.observations import raw_sources
from jsonl_assets.defs.resources import PipelineResource
from jsonl_assets.defs.schedules import package_rebuild
from jsonl_assets.defs.sensors import publish_after_batch, raw_sources_changed

defs = dg.Definitions(
    assets=[raw_sources, *ALL_ASSETS],
    jobs=[build_partition_job, publish_manifest_job],
    schedules=[package_rebuild],
    sensors=[raw_sources_changed, publish_after_batch],
    resources={"pipeline": PipelineResource()},
    executor=dg.in_process_executor,
)
