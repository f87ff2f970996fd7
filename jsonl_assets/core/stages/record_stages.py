"""Stages 1-3 (extracted, transformed, validated) of a partition, the only way they run:
its chunk plan (chunks/plan.py), every chunk read, adapted and validated on its own by a
chunk runner (in this process, a process pool, or Dagster's executor: chunks/chunk_worker.py),
then the deterministic merge (chunks/merge.py) that finds duplicate ids across chunks, packs
the accepted lines into shards staged in the work dir, and commits the stages in order.

A stage whose marker matches its inputs is reused: its committed outputs are kept and its
report returned with `reused`. A finished chunk is never redone. Nothing of a stage is
visible before its marker; a build killed midway leaves `.partial` files, unfinished chunk
folders and a staging folder, which the rerun replaces.

A trace names its file's sha256: a whole-file chunk hashes its file before reading it; a
byte range knows it from the plan. A record is judged against the toolsets its chunk's
adapters derived so far; if a record was rejected for naming a toolset that some chunk
derives (or called tools through a `defaults.toolset_id` not derived yet), its chunk runs again with every derived toolset known (rare; the same steps, so the
same bytes as if it had been known from the start).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, Final

import orjson

from jsonl_assets.core.chunks.chunk_lock import ChunkBusyError, chunk_index_of, chunk_lock
from jsonl_assets.core.chunks.chunk_worker import ChunkDone, ChunkTask, report_of
from jsonl_assets.core.chunks.merge import merge_chunks
from jsonl_assets.core.chunks.plan import CHUNKS_DIR, PLAN, plan_chunks
from jsonl_assets.core.chunks.runners import ChunkRunner, run_in_process
from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.config.dir_kinds import check_object_dirs
from jsonl_assets.core.gc_pause import gc_paused
from jsonl_assets.core.stage_report import StageError, StageReport
from jsonl_assets.core.stages.extract_stage import MARKER as EXTRACT_MARKER
from jsonl_assets.core.stages.extract_stage import extract_fingerprint, extract_settings
from jsonl_assets.core.stages.shard_stage import shard_fingerprint, shards_ready
from jsonl_assets.core.stages.transform_stage import MARKER as TRANSFORM_MARKER
from jsonl_assets.core.stages.transform_stage import transform_fingerprint
from jsonl_assets.core.stages.validate_stage import MARKER as VALIDATE_MARKER
from jsonl_assets.core.stages.validate_stage import validate_fingerprint
from jsonl_assets.core.store.base import SourceChangedError, read_bytes, store_for
from jsonl_assets.core.store.package_files import check_ours
from jsonl_assets.core.store.work_files import PartitionDirs, read_marker

# gate(extract_report, transform_report): whether the stages after extracted may commit. The
# transformed report is the pass's, not yet committed (or the stage's, run on its own).
Gate = Callable[[StageReport, StageReport], bool]


def _always(_: StageReport, __: StageReport) -> bool:
    return True


@gc_paused()
def run_record_stages(
    cfg: PipelineConfig,
    dirs: PartitionDirs,
    *,
    force: bool = False,
    gate: Gate = _always,
    helper_thread: bool = True,
    runner: ChunkRunner = run_in_process,
    replace_other_dataset: bool = False,
) -> list[StageReport]:
    """Reports of extracted, transformed and validated, in order; only extracted's when
    `gate` refuses it. Stages whose inputs are unchanged are reused. `helper_thread`: the
    merge compresses its shards on a second thread (worth it with a core to spare);
    `runner` runs the chunks (in this process by default). A pass that would stage shards
    is refused, before its chunks and again before its merge stages a shard, by what the
    shards step would refuse about the package dir (`check_ours`: files not ours, another
    dataset's package unless `replace_other_dataset`): on object storage the staging is in
    the package dir, and a refused build adds nothing there."""
    started = time.perf_counter()
    fps = stage_fingerprints(cfg, dirs)
    kept: dict[str, StageReport] = {}
    for stage, marker in () if force else STAGE_MARKERS.items():
        cached = read_marker(dirs.file(marker), fps[stage])
        if cached is None:
            break
        kept[stage] = StageReport.reused_from(cached, started)
    # Validated vouches for shards the shards stage can still adopt (or has adopted).
    if "validated" in kept and not shards_ready(dirs, fps["shards"]):
        del kept["validated"]
    if len(kept) == len(STAGE_MARKERS):
        _clear_chunks(dirs)  # a build killed after its merge committed left them
        reports = list(kept.values())
        return reports if gate(reports[0], reports[1]) else reports[:1]
    try:
        return _chunked(
            cfg, dirs, fps, kept, gate, helper_thread, runner, force, replace_other_dataset
        )
    except SourceChangedError as exc:  # from the plan, or a chunk in any process
        raise StageError(
            f"{dirs.key}: {exc}; nothing of this partition was written, build it "
            "again once the file is no longer being modified"
        ) from exc


def stage_fingerprints(cfg: PipelineConfig, dirs: PartitionDirs) -> dict[str, str]:
    """The fingerprints of the partition's stages (extracted ... shards) for its inputs now."""
    return _chain(cfg, dirs, extract_fingerprint(cfg, dirs))


def recorded_fingerprints(cfg: PipelineConfig, dirs: PartitionDirs) -> dict[str, str] | None:
    """The stage fingerprints that follow the partition's last committed extraction under the
    current config (None before any, or when that extraction was made under other extraction
    settings: read options, formats, the files a glob matches, `max_record_bytes`): what its
    committed later stages must carry to be that extraction's, judged by today's settings.
    Sources are not stat'ed again: a file touched since (same bytes, new time) does not make
    the built stages someone else's."""
    try:
        marker = orjson.loads(read_bytes(dirs.file(EXTRACT_MARKER)))
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    if type(marker) is not dict or marker.get("settings") != extract_settings(cfg, dirs):
        return None
    extracted = marker.get("fingerprint")
    return _chain(cfg, dirs, extracted) if type(extracted) is str else None


def _chain(cfg: PipelineConfig, dirs: PartitionDirs, extracted: str) -> dict[str, str]:
    fps = {"extracted": extracted}
    fps["transformed"] = transform_fingerprint(cfg, dirs, fps["extracted"])
    fps["validated"] = validate_fingerprint(cfg, dirs, fps["transformed"])
    fps["shards"] = shard_fingerprint(cfg, dirs, fps["validated"])
    return fps


STAGE_MARKERS: Final = {
    "extracted": EXTRACT_MARKER,
    "transformed": TRANSFORM_MARKER,
    "validated": VALIDATE_MARKER,
}


def _chunked(
    cfg: PipelineConfig,
    dirs: PartitionDirs,
    fps: dict[str, str],
    kept: dict[str, StageReport],
    gate: Gate,
    helper_thread: bool,
    runner: ChunkRunner,
    force: bool,
    replace_other_dataset: bool,
) -> list[StageReport]:
    _check_package_dir(cfg, dirs, replace_other_dataset)  # before any work
    if force:
        _clear_chunks(dirs, keep=())
    plan = plan_chunks(cfg, dirs, fps["extracted"])
    tasks = [ChunkTask(dirs.key, c.index) for c in plan.chunks]
    done = runner(cfg, dirs, plan, fps["validated"], tasks)
    # A record rejected for a toolset that some chunk derives: its chunk again, all known.
    if any(d.unresolved for d in done):
        derived = _derived_toolsets(done)
        again = [d.index for d in done if set(d.unresolved) & set(derived)]
        if again:
            known = tuple(derived[k] for k in sorted(derived))
            redo = [ChunkTask(dirs.key, i, known) for i in again]
            for task, d in zip(redo, runner(cfg, dirs, plan, fps["validated"], redo), strict=True):
                done[task.index] = d
    # Again right before the merge stages its shards: the chunks may have taken hours.
    _check_package_dir(cfg, dirs, replace_other_dataset)
    result = merge_chunks(cfg, dirs, done, fps, kept, gate, helper_thread)
    # Merged (committed, or stopped by the gate): the chunks' copies are no longer needed. A
    # merge that failed keeps them, so that the rerun does not redo them.
    _clear_chunks(dirs)
    return result


def _check_package_dir(cfg: PipelineConfig, dirs: PartitionDirs, replace_other: bool) -> None:
    """The shards step's refusal of the package dir (`check_ours`), asked before staging, and
    of object-storage output dirs holding another kind of output (`check_object_dirs`)."""
    check_object_dirs(cfg.output.dir, cfg.output.quarantine_dir)
    check_ours(dirs.package, cfg.output.work_dir, cfg.dataset.name, replace_other)


def _derived_toolsets(done: list[ChunkDone]) -> dict[str, dict[str, Any]]:
    """Every toolset the chunks derived, by id (the first chunk's), read from their markers."""
    derived: dict[str, dict[str, Any]] = {}
    for d in done:
        for toolset in report_of(d)["transform"]["toolsets"]:
            derived.setdefault(toolset["id"], toolset)
    return derived


def _clear_chunks(dirs: PartitionDirs, keep: tuple[str, ...] = (PLAN,)) -> None:
    """Remove everything under the partition's chunks folder but `keep` (the plan: the record
    of how the partition was cut): this build's chunks and id buckets, and those of earlier
    builds with other fingerprints (killed before their merge, or chunks run again for
    toolsets). A chunk another build's runner holds (chunk_lock.py) is left to it."""
    folder = dirs.work / CHUNKS_DIR
    store = store_for(folder)
    for entry in store.list(folder):
        if entry.name in keep:
            continue
        index = chunk_index_of(entry.name)
        if index is None:
            store.remove(folder / entry.name, recursive=entry.is_dir)
            continue
        with contextlib.suppress(ChunkBusyError), chunk_lock(dirs, index, timeout=0):
            store.remove(folder / entry.name, recursive=entry.is_dir)
