"""`raw_sources`: the configured raw files as an observable source asset, one partition per
objective|split, whose data version is the fingerprint of the sources that feed it.

`extracted` depends on it, so a materialisation records the source version it was built
from; when a later observation of a partition carries another version, the UI marks that
partition's `extracted` stale and leaves the other partitions fresh. Observations come from the
`raw_sources_changed` sensor (every tick that sees a change, and its first tick), from
"Observe" in the UI, and from `record_observations` for callers outside a run.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Final

import dagster as dg

from jsonl_assets.core.source_fingerprints import (
    FileFingerprint,
    SourcesSnapshot,
    all_partition_key_strings,
    fingerprints_from_json,
    fingerprints_to_json,
    sources_feeding,
    take_snapshot,
)
from jsonl_assets.defs.partitions import PARTITIONS
from jsonl_assets.defs.resources import PipelineResource
from jsonl_assets.defs.ui_metadata import table

RAW_SOURCES_KEY: Final = dg.AssetKey("raw_sources")
GROUP: Final = "llm_training_data"  # the stage assets' group (assets.GROUP)
DATA_VERSION_TAG: Final = "dagster/data_version"  # dagster's tag for an event's data version
FINGERPRINTS: Final = "fingerprints"  # metadata key: the files' stat and sha256 at observation


def partition_metadata(snapshot: SourcesSnapshot, key: str) -> dict[str, dg.RawMetadataValue]:
    sources = snapshot.sources_for(key)
    rows = [[s.name, rel, size, sha[:12]] for s in sources for rel, sha, size in s.files]
    return {
        "sources": dg.MetadataValue.text(", ".join(s.name for s in sources) or "-"),
        "file_count": len(rows),
        "files_hashed": len(snapshot.hashed),
        "bytes": sum(r[2] for r in rows),
        "files": dg.MetadataValue.md(
            table(["source", "file", "bytes", "sha256"], rows)
            if rows
            else "_no source feeds this partition_"
        ),
    }


def observation_events(
    snapshot: SourcesSnapshot,
    keys: Iterable[str] | None = None,
    extra: dict[str, dg.RawMetadataValue] | None = None,
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


def _previous_fingerprints(instance: dg.DagsterInstance, key: str) -> dict[str, FileFingerprint]:
    """The fingerprints the partition's last in-run observation recorded, if any."""
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=RAW_SOURCES_KEY, asset_partitions=[key]), limit=1
    ).records
    if not records or records[0].asset_observation is None:
        return {}
    value = records[0].asset_observation.metadata.get(FINGERPRINTS)
    try:
        return fingerprints_from_json(value.value) if value is not None else {}
    except (TypeError, ValueError, AttributeError):
        return {}


def _observe(
    context: dg.OpExecutionContext, pipeline: PipelineResource
) -> dg.DataVersionsByPartition:
    cfg = pipeline.load()
    # A run for one partition observes (and hashes the files of) that partition only;
    # "Observe" without a partition, all twelve.
    if context.has_partition_key:
        key = str(context.partition_key)
        previous = _previous_fingerprints(context.instance, key)
        snapshot = take_snapshot(cfg, previous, only=sources_feeding(cfg, key))
        # This snapshot holds exactly this partition's files: the next run of the partition
        # re-hashes only those whose stat changed.
        fingerprints = dg.MetadataValue.json(fingerprints_to_json(snapshot.files))
        events = observation_events(snapshot, [key], {FINGERPRINTS: fingerprints})
    else:
        events = observation_events(take_snapshot(cfg), None)
    # Logged here rather than returned, so that each observation carries its file table.
    for event in events:
        context.log_event(event)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.DataVersionsByPartition({})


# Partitioned observable source assets are "beta" in dagster 1.13; the warning says nothing
# to our users, so it is not printed at every import.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    raw_sources = dg.observable_source_asset(
        key=RAW_SOURCES_KEY,
        partitions_def=PARTITIONS,
        group_name=GROUP,
        description=(
            "The raw files the config's sources match, per objective|split. Data version: the "
            "sha256 of each feeding source's config entry and file contents (a `split: auto` "
            "source feeds the three splits of its objective). A new version marks the "
            "partition's `extracted` stale."
        ),
    )(_observe)
