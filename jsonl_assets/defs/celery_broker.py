"""The `celery` executor, its broker and result backend checked: dagster-celery's own, but a run
first connects once to the URLs of `execution.config.celery.broker` and `.backend` (about
half a second when refused) and fails in one line naming the key and the URL (its password
masked) before a step is submitted. Unchecked, an unreachable Redis failed the run after 20 s
with "Retry limit exceeded while trying to reconnect to the Celery result store backend" over
four chained stacks, naming neither.

A broker or backend lost mid-run is said the same way, with what a rerun does: the chunks
that finished are kept (each has its marker), so a rerun resumes. The error's stack goes to
an event of the run's log (its `stack`), not under the line. An error of the loop while both
URLs still answer is not a connection loss: it is raised as it came.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from typing import Any, Final

import dagster as dg
from dagster._core.errors import DagsterUserCodeProcessError
from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData
from dagster._core.execution.retries import RetryMode
from dagster._utils.error import SerializableErrorInfo
from dagster_celery.executor import CeleryExecutor
from kombu import Connection
from kombu.transport import TRANSPORT_ALIASES
from kombu.utils.url import maybe_sanitize_url

KEY: Final = "execution.config.celery"
# Seconds to wait for a connection; one retry (a refused port answers at once).
CONNECT_TIMEOUT: Final = 5.0
RESUMES: Final = "the chunks that finished are kept: a rerun resumes"


class BrokerUnreachable(DagsterUserCodeProcessError):
    """The run's failure, said in one line: Dagster shows the error info it carries (no stack)
    as the run's error, not a stack of the executor."""

    def __init__(self, line: str) -> None:
        info = SerializableErrorInfo(message=line, stack=[], cls_name=type(self).__name__)
        super().__init__(line, user_code_process_error_infos=[info])


def _probe(url: str) -> str | None:
    """Why `url` cannot be connected to, or None when it answers (or is not a transport kombu
    can open: an `rpc://` backend goes through the broker, a `db+...` one is not checked)."""
    scheme = url.partition("://")[0].partition("+")[0]
    if scheme not in TRANSPORT_ALIASES:
        return None
    options = {"socket_connect_timeout": CONNECT_TIMEOUT}  # Redis's
    try:
        with Connection(
            url, connect_timeout=CONNECT_TIMEOUT, transport_options=options
        ) as connection:
            connection.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=CONNECT_TIMEOUT
            )
    except Exception as exc:  # whatever the transport raises, it is the reason
        return str(exc).replace(url, maybe_sanitize_url(url)) or type(exc).__name__
    return None


def unreachable(broker: str, backend: str) -> str | None:
    """`<key>: cannot connect to <url> (<reason>)` for each URL that does not answer (a URL of
    both keys said once, `<key>.broker and .backend`), or None when both answer."""
    keys: dict[str, list[str]] = {}
    for name, url in (("broker", broker), ("backend", backend)):
        keys.setdefault(url, []).append(name)
    said = []
    for url, names in keys.items():
        reason = _probe(url)
        if reason is not None:
            named = " and .".join(names)
            said.append(f"{KEY}.{named}: cannot connect to {maybe_sanitize_url(url)} ({reason})")
    return "; ".join(said) or None


def _is_engine_error(event: DagsterEvent) -> bool:
    return event.event_type == DagsterEventType.ENGINE_EVENT and bool(
        getattr(event.event_specific_data, "error", None)
    )


class CheckedCeleryExecutor(CeleryExecutor):
    """dagster-celery's executor, its broker and backend checked before and during the run."""

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[DagsterEvent]:
        down = unreachable(self.broker, self.backend)
        if down is not None:
            raise BrokerUnreachable(f"{down}; no step was submitted")
        held: list[DagsterEvent] = []  # an error event, said again if the broker answers
        try:
            for event in super().execute(plan_context, execution_plan):
                if _is_engine_error(event):
                    held.append(event)
                    continue
                yield from held
                held.clear()
                yield event
        except Exception:
            stack = traceback.format_exc()
            down = unreachable(self.broker, self.backend)
            if down is None:
                yield from held
                raise
            yield DagsterEvent.engine_event(
                plan_context,
                "The Celery broker or backend was lost mid-run; the error's stack",
                EngineEventData(metadata={"stack": dg.MetadataValue.text(stack)}),
            )
            raise BrokerUnreachable(f"{down}, lost mid-run; {RESUMES}") from None
        yield from held


def checked_celery_executor(config: dict[str, Any]) -> CheckedCeleryExecutor:
    """The executor dagster-celery's `celery_executor` builds from `config`, checked."""
    return CheckedCeleryExecutor(
        retries=RetryMode.from_config(config["retries"]),
        broker=config.get("broker"),
        backend=config.get("backend"),
        include=config.get("include"),
        config_source=config.get("config_source"),
    )
