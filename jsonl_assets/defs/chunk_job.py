"""The `build_chunks` job: one partition's chunks as dynamic steps, so that the executor of
the run config (defs/executors.py: in-process, multiprocess, Celery) places each chunk
anywhere, then the merge and the shards in one step.

plan -> chunk (one step per chunk, `.map`) -> merge (`.collect`, with the key). Steps hand each other only
the partition key, a chunk's index and the fingerprints of the plan, of the partition's
validated stage and of the config: the records go through the work dir (the store), never
through Dagster's IO manager. A chunk step reads the recorded plan, which names the files (an
object with its listed ETag), so it lists no bucket and stats no file, and runs the config
the plan step recorded beside it (chunk_orders.py), as a pool's worker does: an edit of the
config file during the run changes no chunk. A chunk step whose chunk is finished
does nothing; the merge step finds every chunk finished and merges
(core/stages/record_stages.py), under the partition's lock, then moves the shards into the
package (core/build.py). A package dir of another dataset is refused before the merge stages
a shard, unless the resource's `replace_other_dataset` (package_files.py `check_ours`).
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from jsonl_assets.core.build import build_partition, dirs_for
from jsonl_assets.core.chunks.chunk_orders import ChunkOrder, record_config, run_order
from jsonl_assets.core.chunks.chunk_worker import ChunkTask, chunk_fingerprint
from jsonl_assets.core.chunks.plan import plan_chunks, recorded_chunk_plan
from jsonl_assets.core.config import check_buckets
from jsonl_assets.core.malloc_tuning import tune_malloc
from jsonl_assets.core.partition_gate import ChecksFailed
from jsonl_assets.core.rules.rate_checks import failure_text
from jsonl_assets.core.stage_report import StageError
from jsonl_assets.core.stages.record_stages import stage_fingerprints
from jsonl_assets.core.store.work_files import split_partition_key
from jsonl_assets.defs.executors import chunks_executor
from jsonl_assets.defs.progress_logs import chunk_progress_logged
from jsonl_assets.defs.resources import PipelineResource
from jsonl_assets.defs.user_errors import user_errors_said

_SEP = "#"
_TASK_FIELDS = 5  # key, chunk index, plan, validated and config fingerprints


class ChunkBuildConfig(dg.Config):
    """The partition to build, `objective|split` (e.g. `sft|train`): one of the twelve, else
    the plan step fails at once, in one line naming them (work_files.split_partition_key)."""

    partition: str


@dg.op(out={"key": dg.Out(str), "chunks": dg.DynamicOut(str)})
@user_errors_said
def plan(
    context: dg.OpExecutionContext, config: ChunkBuildConfig, pipeline: PipelineResource
) -> Iterator[dg.Output[str] | dg.DynamicOutput[str]]:
    """The partition's chunk plan (in the step's metadata); one output per chunk, and the
    partition's key on its own (a partition no source feeds has no chunk, and the merge
    still builds it: empty, or clearing what an earlier build left)."""
    split_partition_key(config.partition)  # a key that is none of the twelve: one line, first
    cfg = pipeline.load()
    check_buckets(cfg)  # before any source is read
    dirs = dirs_for(cfg, config.partition)
    fps = stage_fingerprints(cfg, dirs)
    chunk_plan = plan_chunks(cfg, dirs, fps["extracted"])
    config_fp = record_config(cfg, dirs) if chunk_plan.chunks else ""
    context.log.info(
        f"{config.partition}: {len(chunk_plan.chunks)} chunk(s) of "
        f"{cfg.output.chunk_bytes} bytes over {chunk_plan.files} file(s)"
    )
    yield dg.Output(config.partition, output_name="key")
    for chunk in chunk_plan.chunks:
        task = [
            config.partition,
            str(chunk.index),
            chunk_plan.fingerprint,
            fps["validated"],
            config_fp,
        ]
        yield dg.DynamicOutput(
            _SEP.join(task),
            output_name="chunks",
            mapping_key=f"chunk_{chunk.index}",
            metadata={
                "file_index": chunk.file_index,
                "files": chunk.files,
                "bytes": chunk.size,
                "first_line": chunk.first_line + 1,
            },
        )


@dg.op
@user_errors_said
def chunk(context: dg.OpExecutionContext, pipeline: PipelineResource, task: str) -> str:
    """Read, adapt and validate one chunk into the work dir (nothing if it is finished)."""
    fields = task.split(_SEP)
    if len(fields) != _TASK_FIELDS:  # a run of an older version, re-executed from failure
        raise StageError(
            f"{fields[0]}: this chunk step's task was made by another version of jsonl-assets "
            "(its plan step); launch build_chunks again rather than re-executing that run"
        )
    key, index, plan_fp, validated_fp, config_fp = fields
    cfg = pipeline.load(list_files=False)  # where the work dir is; the plan names the files
    dirs = dirs_for(cfg, key)
    chunk_plan = recorded_chunk_plan(dirs, plan_fp)
    if chunk_plan is None:
        raise StageError(f"{key}: the chunk plan {plan_fp[:16]} is gone; run the job again")
    chunk_task = ChunkTask(key, int(index))
    chunk_fp = chunk_fingerprint(validated_fp, chunk_plan, chunk_task)
    if cfg.uses_object_storage():
        tune_malloc()
    # The config the plan step recorded (the file's, if it is still that one): never the
    # file as edited since, whose chunks would be filed under the recorded fingerprints.
    done = run_order(ChunkOrder(str(cfg.path), config_fp, dirs, plan_fp, chunk_fp, chunk_task))
    context.add_output_metadata(
        {
            "ran": done.ran,
            "lines": done.lines,
            "accepted": done.accepted,
            "bytes_in": done.bytes_in,
            "seconds": round(done.seconds, 3),
        }
    )
    return task


@dg.op
@user_errors_said
def merge(
    context: dg.OpExecutionContext, pipeline: PipelineResource, key: str, tasks: list[str]
) -> None:
    """Merge the finished chunks (`tasks`, none for a partition no source feeds) and move the
    shards into the package."""
    cfg = pipeline.load()
    with chunk_progress_logged(context.log):  # gated by the blocking rate checks (RateGate)
        result = build_partition(
            cfg,
            key,
            lock_timeout=pipeline.lock_timeout_seconds,
            replace_other_dataset=pipeline.replace_other_dataset,
        )
    meta: dict[str, Any] = {"stages": [s.stage for s in result.stages]}
    if result.shards is not None:
        meta["records_written"] = result.shards.records_out
        meta["shards_verified"] = bool(result.verification and result.verification["passed"])
    context.add_output_metadata(meta)
    if result.shards is None:
        # Said in one line by user_errors_said, as every refusal of a blocking check.
        failed = [failure_text(e) for e in result.evaluations.values() if not e.passed]
        raise ChecksFailed([*failed, "no shards were written"])


@dg.job(
    executor_def=chunks_executor,
    resource_defs={"pipeline": PipelineResource()},
    description="One partition's chunks as dynamic steps on the configured executor, then "
    "the merge and its shards.",
)
def build_chunks() -> None:
    key, chunks = plan()
    merge(key, chunks.map(chunk).collect())
