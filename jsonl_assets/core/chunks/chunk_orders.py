"""A chunk sent to another process: an order of a few names and fingerprints, whatever the
number of chunks and files of its partition.

The worker finds the rest where the Dagster chunk steps find it (defs/chunk_job.py): the
chunk plan recorded in the work dir (`recorded_chunk_plan`) and the config without its
listed files (the plan names them). The config is recorded next to the plan
(`chunks/config.json`, under its fingerprint) by the process that sends the orders, so an
edit of the config file during the build changes nothing: the worker runs the config the
build started with. Each worker process keeps the last (config, plan) it loaded, so a pool
reads them once per partition, not once per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from jsonl_assets.core.chunks.chunk_worker import ChunkDone, ChunkTask, done_of, run_chunk
from jsonl_assets.core.chunks.plan import CHUNKS_DIR, ChunkPlan, recorded_chunk_plan
from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.config.loading import load_config, parse_config
from jsonl_assets.core.store.base import SourceChangedError
from jsonl_assets.core.store.work_files import PartitionDirs, read_marker, write_marker

CONFIG: Final = "config.json"

# The last (config path, config fingerprint, work dir, plan fingerprint) loaded in this
# process, and what it gave: one slot, so a long-lived worker holds one partition's plan.
_last: list[tuple[tuple[str, str, str, str], PipelineConfig, ChunkPlan]] = []


@dataclass(frozen=True, slots=True)
class ChunkOrder:
    """One chunk to run, as sent to a worker: O(1) in the partition's chunks and files."""

    config_path: str
    config_fp: str
    dirs: PartitionDirs
    plan_fp: str
    chunk_fp: str
    task: ChunkTask


def record_config(cfg: PipelineConfig, dirs: PartitionDirs) -> str:
    """Record the config (its document, no listed file) beside the partition's plan for the
    workers; its fingerprint."""
    config_fp = cfg.fingerprint()
    path = dirs.work / CHUNKS_DIR / CONFIG
    if read_marker(path, config_fp) is None:
        write_marker(path, config_fp, {"document": cfg.raw})
    return config_fp


def order_for(
    cfg: PipelineConfig, dirs: PartitionDirs, plan: ChunkPlan, chunk_fp: str, task: ChunkTask
) -> ChunkOrder:
    """The order of one chunk (the config recorded first: `record_config`)."""
    return ChunkOrder(str(cfg.path), cfg.fingerprint(), dirs, plan.fingerprint, chunk_fp, task)


def run_order(order: ChunkOrder) -> ChunkDone:
    """In a worker: run the ordered chunk (`run_chunk`) with the recorded config and plan."""
    cfg, plan = _loaded(order)
    report = run_chunk(cfg, order.dirs, plan, order.chunk_fp, order.task)
    return done_of(order.dirs, order.chunk_fp, report)


def _loaded(order: ChunkOrder) -> tuple[PipelineConfig, ChunkPlan]:
    key = (order.config_path, order.config_fp, str(order.dirs.work), order.plan_fp)
    if _last and _last[0][0] == key:
        return _last[0][1], _last[0][2]
    cfg = _config(order)
    plan = recorded_chunk_plan(order.dirs, order.plan_fp)
    if plan is None:
        raise SourceChangedError(
            f"{order.dirs.key}: the chunk plan {order.plan_fp[:16]} is gone (another build "
            "replaced it); rerun the build"
        )
    _last[:] = [(key, cfg, plan)]
    return cfg, plan


def _config(order: ChunkOrder) -> PipelineConfig:
    """The config of the order's fingerprint, without its listed files: the recorded one, or
    (another build of the partition recorded its own since) the config file if unchanged."""
    path = Path(order.config_path)
    recorded = read_marker(order.dirs.work / CHUNKS_DIR / CONFIG, order.config_fp)
    if recorded is not None:
        cfg = parse_config(recorded["document"], path, list_files=False)
    else:
        cfg = load_config(path, list_files=False)
    if cfg.fingerprint() != order.config_fp:
        raise SourceChangedError(f"{path} changed during the build; rerun the build")
    return cfg
