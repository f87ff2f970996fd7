"""A failure of Dagster's own storage (the run and event-log SQLite files under
$DAGSTER_HOME): a full disk, `ulimit -f`, too many open files. The build cannot record its
runs, so it stops; the user is told, in one line, which storage failed and why, not shown
SQLAlchemy's two-level traceback. Nothing is published by a run that could not be recorded;
a rerun resumes. A $DAGSTER_HOME that cannot be opened (a file, an unparsable or invalid
dagster.yaml) is said the same way, in one line (`instance_errors`)."""

from __future__ import annotations

import contextlib
import os
import resource
import sqlite3
from collections.abc import Iterator
from typing import Final

import yaml
from dagster import DagsterError
from sqlalchemy.exc import SQLAlchemyError

from jsonl_assets.core.build_workers import BuildStopped
from jsonl_assets.core.store.atomic_files import limit_hint

_FROM_STORAGE = ("sqlalchemy.", "sqlite3.")


class StorageFailed(BuildStopped):
    """Dagster's storage could not be read or written."""


def storage_message(reason: str) -> str:
    home = os.environ.get("DAGSTER_HOME", "(DAGSTER_HOME unset)")
    return f"Dagster's storage in {home} (DAGSTER_HOME) failed: {reason}; rerun to resume"


def instance_message(reason: str) -> str:
    home = os.environ.get("DAGSTER_HOME", "(DAGSTER_HOME unset)")
    return f"Dagster's instance in {home} (DAGSTER_HOME) cannot be opened: {reason}"


CWD_GONE: Final = (
    "the current directory no longer exists (it was deleted or moved away): cd to an "
    "existing folder and rerun"
)
# SQLite's word for an open() that failed, EMFILE included (its errno is not kept).
_UNOPENED: Final = "unable to open database file"
# Below this many open files, an unopened SQLite file is likely the limit's doing.
_LOW_FILE_LIMIT: Final = 256


def cwd_gone() -> bool:
    """Whether this process's current directory was deleted (Dagster asks for it)."""
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    return False


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}{limit_hint(exc)}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}{limit_hint(exc)}"
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy's wrapper holds sqlite's error
    text = str(cause).strip().splitlines()
    said = text[0] if text else type(cause).__name__
    return said + _open_limit_hint(said)


def _open_limit_hint(said: str) -> str:
    """For SQLite's "unable to open database file" under a low `ulimit -n`, the likely cause."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if _UNOPENED not in said or soft == resource.RLIM_INFINITY or soft >= _LOW_FILE_LIMIT:
        return ""
    return f" (Too many open files? this process may hold {soft} open files: raise `ulimit -n`)"


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """An error of Dagster's storage raised in the block is a `StorageFailed` naming it. Use
    it only around Dagster's own work (opening the instance, recording a run): a step's
    errors are the step's, never raised out of a run."""
    try:
        yield
    except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
        if isinstance(exc, OSError) and cwd_gone():  # os.getcwd() for the run's origin
            raise BuildStopped(CWD_GONE) from None
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
    except BuildStopped:  # StorageFailed, or the current directory gone
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
    return storage_message((said or first) + _open_limit_hint(said or first))
