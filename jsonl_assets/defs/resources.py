"""The one resource: where the pipeline config lives, plus run-time switches."""

from __future__ import annotations

import dagster as dg

from jsonl_assets.core.config import PipelineConfig, load_config, resolve_config_path
from jsonl_assets.core.store.work_files import PartitionDirs, partition_dirs
from jsonl_assets.defs.partitions import split_key


class PipelineResource(dg.ConfigurableResource):
    """Loads the pipeline config: `config_path`, else $JSONL_ASSETS_CONFIG, else data/pipeline.yaml."""

    config_path: str | None = None
    force: bool = False
    # Replace a package of another dataset found in output.dir (`jsonl-assets build
    # --replace-other-dataset`; core/store/package_files.py check_dataset).
    replace_other_dataset: bool = False
    lock_timeout_seconds: float = 600.0
    # The one-pass build compresses its shards on a helper thread. Off when every core already
    # builds a partition (`jsonl-assets build --workers` as many as the cores): the threads
    # would only contend. The bytes are the same either way.
    helper_thread: bool = True
    # Processes that run a partition's chunks, and that measure the shards and draw the charts
    # of the report (`jsonl-assets build --workers`); 1: in the step.
    chunk_workers: int = 1

    def load(self, *, list_files: bool = True) -> PipelineConfig:
        """The config; without `list_files` its sources' globs are not expanded."""
        path = resolve_config_path(
            self.config_path, given_as="resources.pipeline.config.config_path"
        )
        return load_config(path, list_files=list_files)

    def dirs(self, cfg: PipelineConfig, key: str | dg.MultiPartitionKey) -> PartitionDirs:
        objective, split = split_key(key)
        out = cfg.output
        return partition_dirs(out.work_dir, out.quarantine_dir, out.dir, objective, split)
