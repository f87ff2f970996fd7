"""What a user can fix (the config, a source, a dir, Dagster's storage) said in one line, at
the boundary of every step, sensor and schedule of the Dagster layer.

A step that raises such an error fails with a `dg.Failure` carrying its one-line message (the
UI's step and run error, with no traceback of ours under it), not with Dagster's "Error
occurred while executing op" and the error only in the chained cause. When a retry cannot fix
the cause (a config error, a refused dir, a permission), the run also tags itself
`dagster/retry_on_asset_or_op_failure=false`, so the instance's run retries (dagster.yaml)
do not run it again for nothing; a transient one (a source changed while read, a busy
partition, a full disk, the storage) is retried as any failed run, as are crashes. The step
also tags its run with its partition's `objective` and `split` when the launcher did not (a
backfill of the assets, the UI's Materialize).

A blocking check that a step reports failed is said the same way, `<partition>: blocking check
<name> failed: <why>` (check_refusals.py), not with Dagster's generic
DagsterAssetCheckFailedError.

The one line is for the user; the error's stack is kept for a developer (an OSError may as well
come from a bug of ours): in the Failure's metadata (`stack`, on the step's failure in the UI
and the event log), in a debug event of the step's log, and printed by `jsonl-assets build
--verbose` under the error's line (defs/runs.py)."""

from __future__ import annotations

import contextlib
import errno
import functools
import inspect
import sqlite3
import traceback
from collections.abc import Callable, Iterator
from typing import Any, Final, TypeVar

import dagster as dg
from sqlalchemy.exc import SQLAlchemyError

from jsonl_assets.core.build_workers import BuildStopped
from jsonl_assets.core.config import ConfigError
from jsonl_assets.core.config.output_dirs import DirProblem
from jsonl_assets.core.options import OptionsError
from jsonl_assets.core.partition_gate import ChecksFailed
from jsonl_assets.core.rules.quality_policy import PolicyError
from jsonl_assets.core.shard_families import TooManyShards
from jsonl_assets.core.shard_writer import ShardWriteError
from jsonl_assets.core.stage_report import StageError
from jsonl_assets.core.store.base import SourceChangedError
from jsonl_assets.core.store.package_files import ForeignFilesError, OtherDatasetError
from jsonl_assets.core.store.package_lock import PackageBusyError
from jsonl_assets.core.store.partition_lock import PartitionBusyError
from jsonl_assets.core.store.work_files import UnknownPartitionError
from jsonl_assets.defs.check_refusals import blocking_checks, refusals
from jsonl_assets.defs.checks import no_run_retry
from jsonl_assets.defs.ownership import partition_tags
from jsonl_assets.defs.storage_errors import storage_message

F = TypeVar("F", bound=Callable[..., Any])
# The Failure's metadata key holding the stack of the error it stands for.
STACK: Final = "stack"
_CONTEXTS: Final = (dg.OpExecutionContext, dg.AssetExecutionContext)

_CONFIG: Final = (ConfigError, DirProblem, PolicyError, OptionsError)
_STORAGE: Final = (SQLAlchemyError, sqlite3.Error)
USER_ERRORS: Final = (
    *_CONFIG,
    *_STORAGE,
    OSError,
    StageError,
    SourceChangedError,
    PartitionBusyError,
    PackageBusyError,
    BuildStopped,
    ShardWriteError,
    UnknownPartitionError,
)
# Refused whatever the moment: the same run fails the same way again.
_DETERMINISTIC: Final = (
    *_CONFIG,
    ChecksFailed,
    ForeignFilesError,
    OtherDatasetError,
    TooManyShards,
    UnknownPartitionError,
)
_DETERMINISTIC_ERRNOS: Final = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EROFS,
        errno.ENAMETOOLONG,
        errno.ELOOP,
    }
)


def one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def said(exc: BaseException) -> str:
    """A user error's one-line message (as the CLI says it)."""
    if isinstance(exc, _CONFIG):
        return one_line(f"config error: {exc}")
    if isinstance(exc, _STORAGE):
        cause = getattr(exc, "orig", None) or exc  # SQLAlchemy's wrapper holds sqlite's error
        return one_line(storage_message(one_line(str(cause)) or type(cause).__name__))
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return one_line(f"{exc.filename}: {exc.strerror}")
    return one_line(str(exc)) or type(exc).__name__


def retry_cannot_fix(exc: BaseException) -> bool:
    if isinstance(exc, _DETERMINISTIC):
        return True
    return isinstance(exc, OSError) and exc.errno in _DETERMINISTIC_ERRNOS


def _context(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    context = kwargs.get("context", args[0] if args else None)
    return context if isinstance(context, _CONTEXTS) else None


def _partition(context: Any) -> str | None:
    if context is None or not context.has_partition_key:
        return None
    return str(context.partition_key)


def tag_partition_run(context: Any) -> None:
    """Tag the run with its partition's `objective` and `split` when it lacks them (a
    build_partition run has them from its launch: jobs.py)."""
    key = _partition(context)
    if key is None:
        return
    wanted = partition_tags(key)
    if any(context.run.tags.get(k) != v for k, v in wanted.items()):
        context.instance.add_run_tags(context.run_id, wanted)


def stack_of(exc: BaseException) -> str:
    """The error's traceback as Python prints it (its chained causes too)."""
    return "".join(traceback.format_exception(exc)).rstrip("\n")


def _step_partition(context: Any) -> str | None:
    """The partition the step's own work is of: none for an unpartitioned asset (the
    manifest, the whole package) even in a run that has a partition key."""
    if context is not None and context.has_assets_def and context.assets_def.partitions_def is None:
        return None
    return _partition(context)


def _partition_said(context: Any, text: str) -> str:
    key = _step_partition(context)
    return f"{key}: {text}" if key and not text.startswith(f"{key}: ") else text


def _failure(context: Any, exc: BaseException) -> dg.Failure:
    message = _partition_said(context, said(exc))
    stack = stack_of(exc)
    deterministic = retry_cannot_fix(exc)
    if context is not None:
        # The storage failing too: the stack stays in the Failure, the run may be retried.
        with contextlib.suppress(*USER_ERRORS):
            context.log.debug(f"{message}\n{stack}")
        if deterministic:
            with contextlib.suppress(*USER_ERRORS):
                no_run_retry(context)
    return dg.Failure(
        description=message,
        allow_retries=not deterministic,
        metadata={STACK: dg.MetadataValue.text(stack)},
    )


def _refused(context: Any, refused: list[str]) -> dg.Failure:
    """The step's failed blocking checks (check_refusals.py): the same inputs fail them again."""
    if context is not None:
        with contextlib.suppress(*USER_ERRORS):
            no_run_retry(context)
    return dg.Failure(description=_partition_said(context, "; ".join(refused)), allow_retries=False)


def user_errors_said(fn: F) -> F:
    """`fn` (a step's compute function, its context first) failing with a one-line
    `dg.Failure` on a user error (module doc); a generator stays a generator, and fails the
    same way, after its results, when they report a blocking check failed
    (check_refusals.py). A step with blocking checks is a generator, so that its results are
    recorded before it fails (`test_every_step_with_blocking_checks_is_a_generator`)."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def steps(*args: Any, **kwargs: Any) -> Iterator[Any]:
            context = _context(args, kwargs)
            try:
                tag_partition_run(context)
                blocking, refused = blocking_checks(context), []
                with contextlib.closing(fn(*args, **kwargs)) as results:
                    for item in results:
                        refused += refusals(item, blocking)
                        yield item
                if not refused:
                    return
                failure = _refused(context, refused)
            except USER_ERRORS as exc:
                failure = _failure(context, exc)
            raise failure  # outside the handler: no chained cause, no frame of ours but this

        return steps  # type: ignore[return-value]

    @functools.wraps(fn)
    def step(*args: Any, **kwargs: Any) -> Any:
        context = _context(args, kwargs)
        try:
            tag_partition_run(context)
            return fn(*args, **kwargs)
        except USER_ERRORS as exc:
            failure = _failure(context, exc)
        raise failure

    return step  # type: ignore[return-value]
