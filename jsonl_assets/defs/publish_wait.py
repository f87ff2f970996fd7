"""A publication never refused because a partition is being built at that moment.

A build of a partition commits its stages one after another (extracted, transformed,
validated, then the shards step moves the shards in), so while a run builds it the partition's
persisted stages are not one chain for a moment, and the publication (`core/build.py
publish`, which reads them) refuses it. So the manifest step publishes at once when it can;
when a problem names a partition that a run of this instance is building (STARTING, STARTED or
CANCELING: `build_partition`, `build_chunks`, a materialisation of its stage assets), it waits
for that run to end and publishes again. A queued run of that partition (a retry, the next
batch's) is waited for up to the resource's `lock_timeout_seconds` in all: the publication
holds one of the instance's run slots, which two publications waiting for queued runs could
both hold. Not waited for: a run whose worker process is gone (defs/dead_runs.py), and
anything when the publication is that of the `jsonl-assets build` holding the package (its
own runs are done; another's shards step waits for that lock behind it). A partition that
is stale and that no run builds is refused as before, at once.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from typing import Final

import dagster as dg

from jsonl_assets.core.build import Publication, problem_partition
from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.store.package_lock import held_by_this_build
from jsonl_assets.defs.dead_runs import dead_runs

POLL_SECONDS: Final = 1.0
IN_PROGRESS: Final = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
# Created or waiting for a run slot: waited for, but not for ever (the publication holds a
# slot: two publications waiting for queued runs could hold both of dagster.yaml's).
QUEUED: Final = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.QUEUED]
STAGE_KEYS: Final = frozenset(
    dg.AssetKey(name) for name in ("extracted", "transformed", "validated", "shards")
)
BUILD_JOBS: Final = frozenset({"build_partition", "build_chunks"})
PARTITION_TAG: Final = "dagster/partition"
ALL: Final = "*"  # a run building partitions it does not name (a range): any of them


def built_partitions(run: dg.DagsterRun) -> set[str]:
    """The partitions `run` builds (ALL when it does not say which); none when it builds no
    stage (a publication: two publications never wait for each other)."""
    selection = run.asset_selection
    if run.job_name not in BUILD_JOBS and not (selection and selection & STAGE_KEYS):
        return set()
    if key := run.tags.get(PARTITION_TAG):
        return {key}
    if run.job_name == "build_chunks":
        plan = (run.run_config.get("ops") or {}).get("plan") or {}
        key = (plan.get("config") or {}).get("partition")
        if isinstance(key, str):
            return {key}
    return {ALL}


def builders(
    instance: dg.DagsterInstance,
    own_run_id: str,
    keys: Iterable[str],
    since: dt.datetime,
    queued: bool,
) -> list[dg.DagsterRun]:
    """The runs (other than ours) that build one of the partitions `keys` and are in progress,
    queued (if `queued`) or ended after `since` (while the publication read the partitions)."""
    wanted = set(keys)
    statuses = IN_PROGRESS + (QUEUED if queued else [])
    runs = [
        *instance.get_runs(filters=dg.RunsFilter(statuses=statuses)),
        *instance.get_runs(filters=dg.RunsFilter(updated_after=since)),
    ]
    found = {
        run.run_id: run
        for run in runs
        if run.run_id != own_run_id and ((parts := built_partitions(run)) & wanted or ALL in parts)
    }
    return list(found.values())


def refused_partitions(publication: Publication) -> set[str]:
    """The partitions the problems that stopped the publication name."""
    return {k for p in publication.problems if (k := problem_partition(p)) is not None}


def publish_when_built(
    cfg: PipelineConfig,
    instance: dg.DagsterInstance,
    own_run_id: str,
    publish: Callable[[], Publication],
    log: Callable[[str], None],
    queue_timeout: float,
) -> Publication:
    """`publish()`, again after every run building a partition it was refused for has ended
    (a queued one waited for `queue_timeout` seconds at most, in all: see the module's
    docstring); the last publication."""
    deadline: float | None = None
    while True:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        publication = publish()
        keys = refused_partitions(publication)
        if not keys or held_by_this_build(cfg.output.dir):
            return publication
        deadline = deadline or time.monotonic() + queue_timeout
        queued = time.monotonic() < deadline
        runs = _live(instance, builders(instance, own_run_id, keys, since, queued))
        if not runs:
            return publication
        named = ", ".join(
            f"{r.run_id[:8]} ({', '.join(sorted(built_partitions(r)))}, {r.status.value})"
            for r in runs
        )
        log(
            f"{', '.join(sorted(keys))}: being built by run(s) {named}; the publication waits "
            "for them to end, then publishes again"
        )
        waiting = {r.run_id for r in runs}
        while waiting:
            time.sleep(POLL_SECONDS)
            runs = instance.get_runs(filters=dg.RunsFilter(run_ids=list(waiting)))
            queued = time.monotonic() < deadline
            waiting = {
                r.run_id
                for r in _live(instance, runs)
                if r.status in IN_PROGRESS or (queued and r.status in QUEUED)
            }


def _live(instance: dg.DagsterInstance, runs: list[dg.DagsterRun]) -> list[dg.DagsterRun]:
    """`runs` but those in progress whose worker process is gone (defs/dead_runs.py: the
    `dead_runs` sensor marks them failed; without the daemon no one would)."""
    if not any(r.status in IN_PROGRESS for r in runs):
        return runs
    dead = {run.run_id for run, _ in dead_runs(instance)}
    return [r for r in runs if r.run_id not in dead]
