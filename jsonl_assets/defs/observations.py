"""`raw_sources`: the configured raw files as an observable source asset, one partition per
objective|split, whose data version is the fingerprint of the sources that feed it.

`extracted` depends on it, so a materialisation records the source version it was built
from; when a later observation of a partition carries another version, the UI marks that
partition's `extracted` stale and leaves the other partitions fresh. Observations come from the
`raw_sources_changed` sensor (every tick that sees a change, and its first tick), from
"Observe" in the UI, and from `record_observations` for callers outside a run.
"""

import warnings
from collections.abc import Iterable, Iterator
from typing import Any, Final

import dagster as dg

from jsonl_assets.core.file_names import key_text
from jsonl_assets.core.source_fingerprints import (
    FINGERPRINTS_FILE,
    SourcesSnapshot,
    all_partition_key_strings,
    partition_snapshot,
    take_snapshot,
)
from jsonl_assets.core.store.work_owner import claim_work_dir
from jsonl_assets.defs.ownership import DEFAULT_TEAM, team_owner, team_tags
from jsonl_assets.defs.partitions import PARTITIONS
from jsonl_assets.defs.resources import PipelineResource
from jsonl_assets.defs.ui_metadata import table
from jsonl_assets.defs.user_errors import user_errors_said

RAW_SOURCES_KEY: Final = dg.AssetKey("raw_sources")
GROUP: Final = "llm_training_data"  # the stage assets' group (assets.GROUP)
DATA_VERSION_TAG: Final = "dagster/data_version"  # dagster's tag for an event's data version
FINGERPRINTS: Final = "fingerprints"  # metadata key: the file of the stats and sha256s


def partition_metadata(snapshot: SourcesSnapshot, key: str) -> dict[str, "dg.RawMetadataValue"]:
    sources = snapshot.sources_for(key)
    # Sources in config order, each one's files in its order: the table shows the first
    # MAX_TABLE_ROWS (ui_metadata.table); file_count and bytes count them all.
    rows = [
        [s.name, key_text(name), size, sha[:12]] for s in sources for name, sha, size in s.files
    ]
    return {
        "sources": dg.MetadataValue.text(", ".join(s.name for s in sources) or "-"),
        "file_count": dg.MetadataValue.int(len(rows)),
        "files_hashed": dg.MetadataValue.int(snapshot.hashed_for(key)),
        "bytes (B)": dg.MetadataValue.int(sum(r[2] for r in rows)),
        "files": dg.MetadataValue.md(
            table(["source", "file", "bytes", "sha256"], rows)
            if rows
            else "_no source feeds this partition_"
        ),
    }


def observation_events(
    snapshot: SourcesSnapshot,
    keys: Iterable[str] | None = None,
    extra: dict[str, "dg.RawMetadataValue"] | None = None,
) -> list[dg.AssetObservation]:
    """One observation of `raw_sources` per partition key (all twelve by default), carrying
    the partition's data version and a table of its files."""
    versions = snapshot.partition_versions()
    return [
        dg.AssetObservation(
            asset_key=RAW_SOURCES_KEY,
            partition=key,
            tags={DATA_VERSION_TAG: versions[key]},
            metadata={**partition_metadata(snapshot, key), **(extra or {})},
        )
        for key in (all_partition_key_strings() if keys is None else keys)
    ]


def record_observations(
    instance: dg.DagsterInstance, snapshot: SourcesSnapshot, keys: Iterable[str] | None = None
) -> int:
    """Write observations straight to an instance (for callers that run no sensor, e.g. a
    build started from the command line). Returns how many were written."""
    events = observation_events(snapshot, keys)
    for event in events:
        instance.report_runless_asset_event(event)
    return len(events)


def _observe(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> Iterator[Any]:
    cfg = pipeline.load()
    # A run for one partition observes (and hashes the files of) that partition only;
    # "Observe" without a partition, all twelve.
    if context.has_partition_key:
        key = str(context.partition_key)
        dirs = pipeline.dirs(cfg, key)
        # Its record goes to the work dir: never to another package's (refused, as the stages).
        claim_work_dir(cfg.path, cfg.output.work_dir, cfg.output.dir)
        # This snapshot holds exactly this partition's files: the next look at the partition
        # (this run's extracted stage, the next run) re-hashes only those whose stat changed.
        # The stats and hashes go to a file beside the partition's work files; the
        # observation names it.
        snapshot = partition_snapshot(cfg, dirs)
        path = dirs.file(FINGERPRINTS_FILE)
        metadata = {
            **partition_metadata(snapshot, key),
            FINGERPRINTS: dg.MetadataValue.path(str(path)),
        }
        # The run's own partition: the result is the observation (and lets the stages run).
        yield dg.ObserveResult(
            asset_key=RAW_SOURCES_KEY,
            metadata=metadata,
            data_version=dg.DataVersion(snapshot.partition_versions()[key]),
        )
        return
    # "Observe" without a partition: all twelve, each logged with its partition, version and
    # file table.
    for event in observation_events(take_snapshot(cfg), None):
        context.log_event(event)


# A multi-observable source asset (beta in dagster 1.13, its warning silenced on purpose) is the
# only kind of observable source asset that takes an AssetSpec, and so owners and kinds.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    _decorate = dg.multi_observable_source_asset(
        name="raw_sources",
        partitions_def=PARTITIONS,
        specs=[
            dg.AssetSpec(
                RAW_SOURCES_KEY,
                group_name=GROUP,
                skippable=True,
                kinds={"file"},
                owners=[team_owner(DEFAULT_TEAM)],
                tags=team_tags(DEFAULT_TEAM),
                description=(
                    "The raw files the config's sources match, per objective|split. Data version: "
                    "the sha256 of each feeding source's config entry, the global settings that "
                    "decide its records and its file contents, in config order (a `split: "
                    "auto` source feeds the three splits of its objective). A new version marks the "
                    "partition's `extracted` stale."
                ),
            )
        ],
    )
raw_sources = _decorate(user_errors_said(_observe))
