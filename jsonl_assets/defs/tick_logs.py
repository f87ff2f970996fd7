"""What our sensors and schedules note on a tick goes to the tick's log (the UI: the
instigator's tick, *View logs*), never to the console of `dagster dev` (`run.py ui`).

Dagster gives a tick's `context.log` two outlets: the tick's captured log, which keeps every
record whatever its level, and a console logger of its own at INFO, in the process that
evaluates the tick (the code server, whose output is the console of `dagster dev`). That
console logger ignores `--log-level warning` (which `run.py ui` passes to keep Dagster's INFO
lines off the console) and `python_logs`, so an INFO note there printed a line on every tick.
A routine note is therefore a DEBUG record: kept in the tick's log (shown with its level),
dropped by the console. Warnings and errors (a dead run marked) still reach both."""

from __future__ import annotations

import logging


def note(log: logging.Logger, message: str) -> None:
    """A tick's routine line (why a sensor requested nothing, say): in the tick's log only."""
    log.debug(message)
