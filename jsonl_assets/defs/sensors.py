"""Two sensors: rebuild what a source change reaches, and publish the manifest after a batch.

`raw_sources_changed` fingerprints every configured source file (stat first; the content
sha256 only when the stat moved), and for the partitions whose version changed (a source's
content, its config entry or the global settings that decide its records, the sources'
order; a threshold edit for those a blocking check stopped or fails:
`core/source_fingerprints.py`) it requests one `build_partition` run each, as one batch, and records
an observation of `raw_sources` for them (that is what marks them stale in the UI). Its
cursor (kept by the Dagster instance, so it survives restarts) is short: counts and the name
of the fingerprint snapshot it wrote under `<work_dir>/sensor/`. Its first tick (no cursor yet) only records the baseline and observes all twelve
partitions; a tick that sees no content change requests nothing.

`publish_after_batch` runs the `publish_manifest` job once every run of a batch (from this
sensor or from the `package_rebuild` schedule) has succeeded. A batch with a failed run
publishes nothing: metadata.json stays as it was, as with `jsonl-assets build`. A tick goes
through every finished run Dagster hands it (those that publish nothing return None, since a
run-status sensor's tick ends at the first run that returns something), and the run that
publishes also publishes every other batch completed by a run that succeeded after it (Dagster
hands a tick at most 5 runs), so a batch publishes within about one tick of its last run.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Final

import dagster as dg

from jsonl_assets.core.config import ConfigError, load_config, resolve_config_path
from jsonl_assets.core.sensor_cursor import dump_cursor, load_cursor, snapshot_folder
from jsonl_assets.core.source_fingerprints import (
    changed_partitions,
    changed_sources,
    take_snapshot,
)
from jsonl_assets.core.store.work_owner import claim_work_dir
from jsonl_assets.defs.jobs import build_partition_job, publish_manifest_job
from jsonl_assets.defs.observations import observation_events
from jsonl_assets.defs.schedules import (
    BATCH_SIZE_TAG,
    BATCH_TAG,
    TRIGGER_TAG,
    batch_run_requests,
)
from jsonl_assets.defs.tick_logs import note
from jsonl_assets.defs.user_errors import USER_ERRORS, said

SOURCES_SENSOR_NAME: Final = "raw_sources_changed"
PUBLISH_SENSOR_NAME: Final = "publish_after_batch"
PUBLISH_INTERVAL_SECONDS: Final = 15
CHANGED_SOURCES_TAG: Final = "jsonl-assets/changed-sources"
PARTITION_TAG: Final = "dagster/partition"
MAX_TAG_CHARS: Final = 200
MAX_LATER_RUNS: Final = 1000  # runs that succeeded after the one a tick is handed


def _short(names: list[str]) -> str:
    text = ",".join(names)
    return text if len(text) <= MAX_TAG_CHARS else text[: MAX_TAG_CHARS - 3] + "..."


def evaluate_sources(cursor: str | None) -> dg.SensorResult:
    """One tick of `raw_sources_changed`, given the previous cursor (pure apart from reading
    the config and the source files)."""
    try:
        cfg = load_config(resolve_config_path())
        # Its snapshots live in the work dir: never in another package's (its sensor's).
        claim_work_dir(cfg.path, cfg.output.work_dir, cfg.output.dir, record=False)
    except (ConfigError, OSError) as exc:
        # The cursor is left as it was: the next valid config is compared with the last one.
        return dg.SensorResult(skip_reason=f"config error, nothing launched: {exc}")
    folder = snapshot_folder(cfg)
    previous = load_cursor(cursor, folder)
    snapshot = take_snapshot(cfg, previous.snapshot.files if previous else None)
    if previous is None:
        return dg.SensorResult(
            skip_reason=(
                f"baseline: fingerprinted {len(snapshot.files)} files of "
                f"{len(snapshot.sources)} sources; later changes will be rebuilt"
            ),
            cursor=dump_cursor(snapshot, secrets.token_hex(4), 0, folder),
            asset_events=observation_events(snapshot),
        )
    kept = previous.snapshot_file
    keys = changed_partitions(previous.snapshot, snapshot)
    if not keys:
        return dg.SensorResult(
            skip_reason=(
                f"no source changed ({len(snapshot.files)} files; "
                f"{len(snapshot.hashed)} re-hashed with the same content)"
            ),
            cursor=dump_cursor(snapshot, previous.epoch, previous.generation, folder, kept),
        )
    generation = previous.generation + 1
    names = changed_sources(previous.snapshot, snapshot)
    batch = f"{SOURCES_SENSOR_NAME}:{previous.epoch}.{generation}"
    requests = batch_run_requests(
        keys, SOURCES_SENSOR_NAME, batch, cfg.path, {CHANGED_SOURCES_TAG: _short(names)}
    )
    return dg.SensorResult(
        run_requests=requests,
        cursor=dump_cursor(snapshot, previous.epoch, generation, folder, kept),
        asset_events=observation_events(snapshot, keys),
    )


def build_sources_sensor(interval_seconds: int) -> dg.SensorDefinition:
    @dg.sensor(
        name=SOURCES_SENSOR_NAME,
        job=build_partition_job,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Every {interval_seconds} s (`sensor.interval_seconds`): fingerprints the "
            "configured source files (size, mtime, then sha256 when those moved) and rebuilds "
            "only the partitions whose inputs changed (a source's content, its config entry, "
            "the global settings that decide its records, the order of their sources); "
            "publish_after_batch then publishes the manifest. The first tick records a baseline."
        ),
    )
    def raw_sources_changed(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        try:
            return evaluate_sources(context.cursor)
        except USER_ERRORS as exc:  # a source unreadable, the storage: one line, cursor kept
            return dg.SensorResult(skip_reason=f"nothing launched: {said(exc)}")

    return raw_sources_changed


def latest_runs_by_partition(instance: dg.DagsterInstance, batch: str) -> dict[str, dg.DagsterRun]:
    """The newest `build_partition` run of each partition of a batch (a retried run's retry
    carries the same tags and is newer than the run it retries)."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=build_partition_job.name, tags={BATCH_TAG: batch})
    )
    latest: dict[str, dg.DagsterRun] = {}
    for run in runs:  # newest first
        latest.setdefault(run.tags.get(PARTITION_TAG, ""), run)
    return latest


def manifest_requested(instance: dg.DagsterInstance, batch: str) -> bool:
    """Whether a `publish_manifest` run of `batch` exists (requested by an earlier tick)."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=publish_manifest_job.name, tags={BATCH_TAG: batch}),
        limit=1,
    )
    return bool(runs)


def publish_decision(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dg.RunRequest | str:
    """Publish when every partition of `run`'s batch has a successful newest run and the
    batch's manifest run was not requested yet; otherwise why not (a message to log)."""
    batch = run.tags.get(BATCH_TAG)
    if not batch:
        return f"run {run.run_id} is not part of a batch"
    size = int(run.tags.get(BATCH_SIZE_TAG, "0"))
    latest = latest_runs_by_partition(instance, batch)
    waiting = sorted(k for k, r in latest.items() if r.status != dg.DagsterRunStatus.SUCCESS)
    if len(latest) < size or waiting:
        return (
            f"batch {batch}: {len(latest) - len(waiting)} of {size} partitions succeeded; "
            f"waiting for {', '.join(waiting) or 'runs not yet created'}"
        )
    if manifest_requested(instance, batch):
        return f"batch {batch}: its manifest run was already requested"
    return dg.RunRequest(
        run_key=f"{batch}:manifest",
        job_name=publish_manifest_job.name,
        run_config={"resources": run.run_config.get("resources", {})},
        tags={BATCH_TAG: batch, TRIGGER_TAG: run.tags.get(TRIGGER_TAG, "")},
    )


def publish_requests(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[dg.RunRequest]:
    """The publish requests due when `run` succeeded: for its batch and for every other batch
    with a run that succeeded since, each once complete and not yet requested. Dagster hands
    a run-status sensor at most 5 runs a tick (DAGSTER_RUN_STATUS_SENSOR_PROCESS_LIMIT), so
    the runs queued behind `run` are looked at now rather than ticks later."""
    record = instance.get_run_record_by_id(run.run_id)
    since = record.update_timestamp - dt.timedelta(seconds=1) if record else None
    later = instance.get_runs(
        filters=dg.RunsFilter(
            job_name=build_partition_job.name,
            statuses=[dg.DagsterRunStatus.SUCCESS],
            updated_after=since,
        ),
        limit=MAX_LATER_RUNS,
    )
    first_of_batch: dict[str, dg.DagsterRun] = {}
    for each in [run, *later]:
        batch = each.tags.get(BATCH_TAG)
        if batch:
            first_of_batch.setdefault(batch, each)
    decisions = [publish_decision(instance, each) for each in first_of_batch.values()]
    return [d for d in decisions if isinstance(d, dg.RunRequest)]


@dg.run_status_sensor(
    name=PUBLISH_SENSOR_NAME,
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[build_partition_job],
    request_job=publish_manifest_job,
    minimum_interval_seconds=PUBLISH_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "When a build_partition run of a batch (package_rebuild or raw_sources_changed) "
        "succeeds and every other partition of that batch has succeeded too, runs "
        "publish_manifest once for the batch. A batch with a failed run publishes nothing."
    ),
)
def publish_after_batch(context: dg.RunStatusSensorContext) -> list[dg.RunRequest] | None:
    # Dagster ends a tick at the first run for which this returns something other than None:
    # a run that publishes nothing returns None (its reason goes to the tick's log, not to the
    # console: tick_logs), so one tick works through every finished run it is handed; the
    # first one that publishes also publishes every batch that a run queued behind it
    # completed.
    requests = publish_requests(context.instance, context.dagster_run)
    if not requests:
        note(context.log, str(publish_decision(context.instance, context.dagster_run)))
    return requests or None
