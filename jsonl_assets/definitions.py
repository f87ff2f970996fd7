"""The code location: assets, checks, jobs, schedules, sensors and the pipeline resource."""

import dagster as dg

from jsonl_assets.assets import ALL_ASSETS
from jsonl_assets.jobs import build_partition_job, publish_manifest_job
from jsonl_assets.resources import PipelineResource

defs = dg.Definitions(
    assets=ALL_ASSETS,
    jobs=[build_partition_job, publish_manifest_job],
    resources={"pipeline": PipelineResource()},
    executor=dg.in_process_executor,
)
