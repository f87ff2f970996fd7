"""A failure of Dagster's own storage (the run and event-log SQLite files under
$DAGSTER_HOME): a full disk, `ulimit -f`, too many open files. The build cannot record its
runs, so it stops; the user is told, in one line, which storage failed and why, not shown
SQLAlchemy's two-level traceback. Nothing is published by a run that could not be recorded;
a rerun resumes. A $DAGSTER_HOME that cannot be opened (a file, an unparsable or invalid
dagster.yaml) is said the same way, in one line (`instance_errors`)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator

import yaml
from dagster import DagsterError
from sqlalchemy.exc import SQLAlchemyError

from jsonl_assets.core.build_workers import BuildStopped

_FROM_STORAGE = ("sqlalchemy.", "sqlite3.")


class StorageFailed(BuildStopped):
    """Dagster's storage could not be read or written."""


def storage_message(reason: str) -> str:
    home = os.environ.get("DAGSTER_HOME", "(DAGSTER_HOME unset)")
    return f"Dagster's storage in {home} (DAGSTER_HOME) failed: {reason}; rerun to resume"


def instance_message(reason: str) -> str:
    home = os.environ.get("DAGSTER_HOME", "(DAGSTER_HOME unset)")
    return f"Dagster's instance in {home} (DAGSTER_HOME) cannot be opened: {reason}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy's wrapper holds sqlite's error
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """An error of Dagster's storage raised in the block is a `StorageFailed` naming it. Use
    it only around Dagster's own work (opening the instance, recording a run): a step's
    errors are the step's, never raised out of a run."""
    try:
        yield
    except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
        raise StorageFailed(storage_message(_reason(exc))) from None


@contextlib.contextmanager
def instance_errors() -> Iterator[None]:
    """Around opening the instance ($DAGSTER_HOME made ready, `DagsterInstance.get()`): its
    storage's errors as in `storage_errors`; any other error (an unparsable dagster.yaml, one
    Dagster refuses, or one it fails on: `storage: 3` is a TypeError inside Dagster) is a
    `StorageFailed` too, its reason on one line."""
    try:
        with storage_errors():
            yield
    except StorageFailed:
        raise
    except Exception as exc:
        said = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        named = isinstance(exc, (yaml.YAMLError, DagsterError))
        reason = said if named and said else f"{type(exc).__name__}: {said}".rstrip(": ")
        raise StorageFailed(instance_message(reason)) from None


def step_error(message: str) -> str | None:
    """A step's failure message said as a storage failure, when the storage raised it (a
    step that reads the instance: `sqlalchemy.exc.OperationalError: (sqlite3.Operational
    Error) unable to open database file`); else None."""
    if not message.startswith(_FROM_STORAGE):
        return None
    first = message.splitlines()[0]
    _, _, said = first.partition(": ")
    if said.startswith("(") and ") " in said:  # "(sqlite3.OperationalError) disk I/O error"
        said = said.split(") ", 1)[1]
    return storage_message(said or first)
