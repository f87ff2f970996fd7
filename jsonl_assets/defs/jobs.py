"""Jobs: build one partition's four stages, and publish the manifest."""

import dagster as dg

from jsonl_assets.defs.assets import STAGE_ASSETS, manifest
from jsonl_assets.defs.observations import RAW_SOURCES_KEY
from jsonl_assets.defs.ownership import partition_tags
from jsonl_assets.defs.partitions import PARTITIONS

# The stages of one partition run one after another in one process: a process per step would
# cost more than most steps. Partitions run in parallel as separate runs (see dagster.yaml).
# The run first observes its partition's sources (hashing only them), so every build records
# the source version it was made from and a later change marks it stale.
build_partition_job = dg.define_asset_job(
    "build_partition",
    selection=dg.AssetSelection.assets(RAW_SOURCES_KEY, *STAGE_ASSETS),
    partitions_def=PARTITIONS,
    # Every run of a partition is tagged `objective` and `split` by Dagster itself, however it
    # is launched (the Launchpad, a backfill of the job, the schedule, a sensor, the CLI); a
    # run of the assets without this job tags itself (user_errors.tag_partition_run).
    config=dg.PartitionedConfig(
        partitions_def=PARTITIONS,
        run_config_for_partition_key_fn=lambda _key: {},
        tags_for_partition_key_fn=partition_tags,
    ),
    executor_def=dg.in_process_executor,
    description="observe raw_sources, then extracted -> transformed -> validated -> shards for one objective|split.",
)

publish_manifest_job = dg.define_asset_job(
    "publish_manifest",
    selection=dg.AssetSelection.assets(manifest),
    executor_def=dg.in_process_executor,
    description="Assemble, verify and publish metadata.json from the partitions' shard lists.",
)
