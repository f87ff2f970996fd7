"""The executor of the chunk job, chosen by run config, not by code: Dagster's own
`in_process`, `multiprocess`, `celery` (dagster-celery) or `k8s` (dagster-k8s's
`k8s_job_executor`, each step in its own pod), under one selector:

    execution:
      config:
        celery:   # or in_process: {} / multiprocess: {max_concurrent: 4} / k8s: {...}
          broker: redis://127.0.0.1:6379/0
          backend: redis://127.0.0.1:6379/1

A `celery` run first connects to its broker and backend and fails in one line naming the key and
the URL when one does not answer (defs/celery_broker.py).

dagster-k8s is imported only when a run chooses `k8s` (its import takes about 1.5 s), so its
config is checked against its own schema when the run starts, not in the Launchpad.
"""

from __future__ import annotations

from typing import Any, Final

import dagster as dg
from dagster._config import process_config
from dagster_celery import celery_executor

from .celery_broker import checked_celery_executor
from .celery_settings import CELERY_SETTINGS

EXECUTORS: Final[dict[str, dg.ExecutorDefinition]] = {
    "in_process": dg.in_process_executor,
    "multiprocess": dg.multiprocess_executor,
    "celery": celery_executor,  # its workers read defs/celery_settings.py too (README)
}


K8S: Final = "k8s"
K8S_EXTRA: Final = "pip install 'jsonl-assets[k8s]'"


def k8s_executor() -> dg.ExecutorDefinition:
    """dagster-k8s's `k8s_job_executor`, imported now (the `k8s` extra)."""
    try:
        from dagster_k8s import k8s_job_executor
    except ImportError as exc:
        raise dg.Failure(f"the k8s executor needs dagster-k8s, not installed: {K8S_EXTRA}") from exc
    return k8s_job_executor


def _k8s_config(executor: dg.ExecutorDefinition, config: Any) -> dict[str, Any]:
    """`config` checked against dagster-k8s's schema, its defaults filled in."""
    assert executor.config_schema is not None
    result = process_config(executor.config_schema.config_type, config or {})
    if not result.success:
        errors = "; ".join(e.message for e in result.errors or [])
        raise dg.Failure(f"execution.config.{K8S}: {errors}")
    return result.value  # type: ignore[return-value]


CELERY: Final = "celery"


def _celery_config(config: Any) -> dict[str, Any]:
    """`config` with this project's Celery settings under `config_source` (the run's win)."""
    config = dict(config or {})
    config["config_source"] = {**CELERY_SETTINGS, **(config.get("config_source") or {})}
    return config


def _requirements(config: Any) -> list[Any]:
    mode = next(iter(config), "in_process")
    return [] if mode == "in_process" else list(dg.multiple_process_executor_requirements())


@dg.executor(
    name="chunks_executor",
    config_schema=dg.Field(
        dg.Selector(
            {
                **{name: e.config_schema.as_field() for name, e in EXECUTORS.items()},
                K8S: dg.Field(
                    dg.Permissive(),
                    description="dagster-k8s's k8s_job_executor config (checked when the run "
                    f"starts; needs `{K8S_EXTRA}`)",
                ),
            }
        ),
        default_value={"in_process": {}},
    ),
    requirements=_requirements,
)
def chunks_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """The executor named by the run config's one key, built with the config under it."""
    ((mode, config),) = init_context.executor_config.items()
    if mode == K8S:
        chosen = k8s_executor()
        config = _k8s_config(chosen, config)
    elif mode == CELERY:  # its broker and backend checked when the run starts (celery_broker.py)
        return checked_celery_executor(_celery_config(config))
    else:
        chosen = EXECUTORS[mode]
    return chosen.executor_creation_fn(  # type: ignore[misc]
        dg.InitExecutorContext(
            job=init_context.job,
            executor_def=chosen,
            executor_config=config or {},  # type: ignore[arg-type]
            instance=init_context.instance,
        )
    )
