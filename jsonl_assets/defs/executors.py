"""The executor of the chunk job, chosen by run config, not by code: Dagster's own
`in_process`, `multiprocess` or `celery` (dagster-celery) executor, under one selector.

    execution:
      config:
        celery:   # or in_process: {} / multiprocess: {max_concurrent: 4}
          broker: redis://127.0.0.1:6379/0
          backend: redis://127.0.0.1:6379/1

On Kubernetes, dagster-k8s's `k8s_job_executor` places each step in its own pod (README,
"Executors"); it is not installed here.
"""

from __future__ import annotations

from typing import Any, Final

import dagster as dg
from dagster_celery import celery_executor

EXECUTORS: Final[dict[str, dg.ExecutorDefinition]] = {
    "in_process": dg.in_process_executor,
    "multiprocess": dg.multiprocess_executor,
    "celery": celery_executor,
}


def _requirements(config: Any) -> list[Any]:
    mode = next(iter(config), "in_process")
    return [] if mode == "in_process" else list(dg.multiple_process_executor_requirements())


@dg.executor(
    name="chunks_executor",
    config_schema=dg.Field(
        dg.Selector({name: e.config_schema.as_field() for name, e in EXECUTORS.items()}),
        default_value={"in_process": {}},
    ),
    requirements=_requirements,
)
def chunks_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """The executor named by the run config's one key, built with the config under it."""
    ((mode, config),) = init_context.executor_config.items()
    chosen = EXECUTORS[mode]
    return chosen.executor_creation_fn(  # type: ignore[misc]
        dg.InitExecutorContext(
            job=init_context.job,
            executor_def=chosen,
            executor_config=config or {},  # type: ignore[arg-type]
            instance=init_context.instance,
        )
    )
