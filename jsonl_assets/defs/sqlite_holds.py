"""Keep the instance's SQLite files open while a run executes.

Dagster's SQLite storages open and close a connection for every event. A connection that is
the last one to close a WAL database checkpoints it (writes, syncs and deletes the WAL): 5 to
20 ms per event on a busy disk, a hundred times per run. One idle connection per file, held
for the run, makes every other close a plain close; the WAL is checkpointed once, when the
hold ends. Other storages (Postgres ...) are left alone.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage

SQLITE_PREFIX = "sqlite:///"
INDEX_SHARD = "index"  # SqliteEventLogStorage's cross-run index (INDEX_SHARD_NAME)


def shared_files(instance: dg.DagsterInstance) -> list[str]:
    """The SQLite files every run of `instance` writes to: the event index and the runs."""
    files = []
    events = instance.event_log_storage
    if isinstance(events, SqliteEventLogStorage):
        files.append(events.path_for_shard(INDEX_SHARD))
    runs = instance.run_storage
    conn_string = getattr(runs, "_conn_string", "")
    if isinstance(runs, SqliteRunStorage) and conn_string.startswith(SQLITE_PREFIX):
        files.append(conn_string.removeprefix(SQLITE_PREFIX))
    return files


def run_files(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The run's own event log file (SQLite event storage only)."""
    events = instance.event_log_storage
    return [events.path_for_shard(run_id)] if isinstance(events, SqliteEventLogStorage) else []


@contextlib.contextmanager
def held_open(files: Iterable[str]) -> Iterator[None]:
    """Hold an idle connection to each existing file of `files` meanwhile."""
    holds: list[sqlite3.Connection] = []
    try:
        for path in files:
            if not os.path.isfile(path):
                continue
            with contextlib.suppress(sqlite3.Error):
                conn = sqlite3.connect(path, timeout=5.0)
                holds.append(conn)
                conn.execute("PRAGMA schema_version").fetchall()  # opens its WAL index
        yield
    finally:
        for conn in holds:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
