"""Whether a partition needs a build at all: it has no source and no earlier output, or every
stage's persisted result still matches the config, the code and the source files' content
(their sha256s, looked up by stat: `source_fingerprints.partition_snapshot`), its shards are in the package and verified, and its rate checks pass on the
current thresholds. `jsonl-assets build` starts no run for such a partition.

A partition no source feeds any more but that was built before (with a source since removed,
or empty by `--force`, a schedule tick or a backfill) takes the same test: its old output is
rebuilt (empty) once, as the stages' fingerprints no longer match; after that, nothing."""

from __future__ import annotations

from typing import Final

from jsonl_assets.core.build import dirs_for, read_marker_any
from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.partition_gate import record_verdict
from jsonl_assets.core.rules.rate_checks import evaluate_all
from jsonl_assets.core.stages.record_stages import STAGE_MARKERS, stage_fingerprints
from jsonl_assets.core.stages.shard_stage import MARKER as SHARDS_MARKER
from jsonl_assets.core.stages.shard_stage import VERIFIED, shards_ready
from jsonl_assets.core.store.work_files import PartitionDirs, read_marker

BUILD: Final = "build"
NO_SOURCES: Final = "no sources"
UP_TO_DATE: Final = "up to date"


def partition_state(cfg: PipelineConfig, dirs: PartitionDirs) -> str:
    """BUILD, NO_SOURCES (nothing feeds it and nothing was built) or UP_TO_DATE. A file it
    cannot read (a source gone, a marker that is a FIFO or a folder) is BUILD: the build's
    own steps then say which, in one line."""
    try:
        return _state(cfg, dirs)
    except OSError:
        return BUILD


def _state(cfg: PipelineConfig, dirs: PartitionDirs) -> str:
    if (
        not cfg.sources_for(dirs.objective, dirs.split)
        and read_marker_any(dirs, SHARDS_MARKER) is None
    ):
        return NO_SOURCES
    fps = stage_fingerprints(cfg, dirs)
    shards_fp = fps["shards"]
    reports = {}
    for stage, marker in STAGE_MARKERS.items():
        cached = read_marker(dirs.file(marker), fps[stage])
        if cached is None:
            return BUILD
        reports[cached["stage"]] = cached
    shards = read_marker(dirs.file(SHARDS_MARKER), shards_fp)
    verified = read_marker(dirs.file(VERIFIED), shards_fp)
    if shards is None or not verified or not verified.get("passed", False):
        return BUILD
    if not shards_ready(dirs, shards_fp):
        return BUILD
    if not all(e.passed for e in evaluate_all(cfg, dirs.key, reports).values()):
        return BUILD
    return UP_TO_DATE


def held_back(cfg: PipelineConfig, key: str) -> bool:
    """Whether `build` runs partition `key` although its record stages are those of its
    current inputs (extracted at least): a blocking check stopped the pass or fails, or a
    later step is missing. A threshold edit reaches such a partition (the sensor asks)."""
    dirs = dirs_for(cfg, key)
    if partition_state(cfg, dirs) != BUILD:
        return False
    try:
        return "extracted" in record_verdict(cfg, dirs).reports
    except OSError:
        return True
