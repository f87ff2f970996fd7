"""The Celery settings of this project's workers and of the `celery` executor, one source for
both: a chunk job's Celery worker reads them from its `dagster_celery_config` module
(`from jsonl_assets.defs.celery_settings import *`, see the README's Celery quick start) and
`defs/executors.py` puts them under the executor's `config_source`.

dagster-celery's own defaults ack a task when a worker takes it: a worker killed mid-step takes
its task with it, nobody runs it again and the run waits for its result forever. Acked late
instead, and rejected back to the queue when the process running it dies, the task goes to a
live worker; a chunk step is idempotent (a chunk with its marker is reused, one without is
redone from scratch), so the run ends as if nothing happened.
"""

from __future__ import annotations

from typing import Final

__all__ = ["task_acks_late", "task_reject_on_worker_lost"]

task_acks_late: Final = True
"""A task is acked when its step has ended, not when a worker takes it."""

task_reject_on_worker_lost: Final = True
"""A task whose worker process died is put back in the queue (not failed, not lost)."""

CELERY_SETTINGS: Final[dict[str, object]] = {
    "task_acks_late": task_acks_late,
    "task_reject_on_worker_lost": task_reject_on_worker_lost,
}
"""The settings above, as the executor's `config_source`."""
