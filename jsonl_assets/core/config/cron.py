"""`schedule.cron`: accepted only if Dagster accepts it and it ever fires.

Dagster checks a schedule's cron when the code location loads (`is_valid_cron_string` in
`dagster._utils.schedules`): croniter (the copy Dagster vendors) must call it valid, it must
expand to five fields (no seconds, no year), and it must not name only February 30 or 31.
The same rule is applied here with the croniter this project installs, which is newer than
Dagster's copy: what the newer croniter added (the nearest-weekday `W` of the day field) is
refused, since Dagster's copy refuses it and the code location would not load. Non-ASCII
digits, which Dagster's copy takes and ours does not, are refused too (the safe side).

Dagster's rule lets through expressions that name no date at all (`0 0 31 4 *`, `0 0 30,31 2
*`): the scheduler then fails on every tick. So an expression must also have a next fire time
from a fixed start (croniter looks 50 years ahead, which covers every leap year cycle), and a
day of its day field must exist in a month of its month field: Dagster's scheduler asks that
whatever the weekday field says (`0 0 31 4 mon` fires on Mondays for croniter, never there).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

FIELDS_MESSAGE: Final = "must be a valid five-field cron expression (minute hour day month weekday)"
SEARCH_START: Final = dt.datetime(2000, 1, 1)  # fixed: the answer does not depend on today
DAY_FIELD: Final = 2
_MONTH_DAYS: Final = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # a leap year's


def _a_listed_day_exists(fields: list[list[object]]) -> bool:
    """Whether some day of the day field exists in some month of the month field (both
    restricted). `L` (the last day) always does."""
    days, months = fields[2], fields[3]
    return any(
        not isinstance(day, int) or day <= _MONTH_DAYS[month - 1]
        for day in days
        for month in months
        if isinstance(month, int)
    )


def cron_problem(value: str) -> str | None:
    """Why `value` cannot be the schedule's cron (Dagster would refuse it, or it never fires),
    or None."""
    from croniter import CroniterBadDateError, croniter  # only a schedule pays for the import

    if not value.isascii() or not croniter.is_valid(value):
        return FIELDS_MESSAGE
    fields = croniter.expand(value)[0]
    if len(fields) != 5:
        return "must have five fields (minute hour day month weekday), not seconds"
    if fields[3] == [2] and len(fields[2]) == 1 and fields[2][0] in (30, 31):
        return "names a day February never has"
    if fields[2] != ["*"] and fields[3] != ["*"] and not _a_listed_day_exists(fields):
        # Dagster's scheduler needs a day of the month that exists in a listed month, whatever
        # the weekday field says (`0 0 31 4 mon` never ticks there, though croniter's
        # day-or-weekday reading fires on Mondays).
        return "never fires: no day of its day field exists in its months, for Dagster's scheduler"
    words = value.split()
    if len(words) == 5 and "w" in words[DAY_FIELD].lower():
        return "uses the nearest-weekday W, which Dagster's cron does not support"
    try:
        croniter(value, SEARCH_START).get_next(dt.datetime)
    except CroniterBadDateError:
        return "never fires: no date matches it"
    return None
