"""Jobs: build one partition's four stages, and publish the manifest."""

import dagster as dg

from jsonl_assets.assets import STAGE_ASSETS, manifest
from jsonl_assets.partitions import PARTITIONS

# The stages of one partition run one after another in one process: a process per step would
# cost more than most steps. Partitions run in parallel as separate runs (see dagster.yaml).
build_partition_job = dg.define_asset_job(
    "build_partition",
    selection=dg.AssetSelection.assets(*STAGE_ASSETS),
    partitions_def=PARTITIONS,
    executor_def=dg.in_process_executor,
    description="extracted -> transformed -> validated -> shards for one objective|split.",
)

publish_manifest_job = dg.define_asset_job(
    "publish_manifest",
    selection=dg.AssetSelection.assets(manifest),
    executor_def=dg.in_process_executor,
    description="Assemble, verify and publish metadata.json from the partitions' shard lists.",
)
