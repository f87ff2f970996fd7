"""`schedule.cron` is accepted exactly when Dagster accepts it and it fires: the core's rule
(no `import dagster` there) checked against Dagster's own on many expressions."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
from dagster._utils.schedules import cron_string_iterator, is_valid_cron_string
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jsonl_assets.core.config.cron import cron_problem
from jsonl_assets.defs.schedules import DEFAULT_CRON, build_rebuild_schedule, schedulable_cron

START = dt.datetime(2026, 12, 5, tzinfo=dt.UTC).timestamp()
ATOMS = [
    "*", "?", "0", "1", "2", "5", "7", "12", "15", "23", "28", "29", "30", "31", "59", "60",
    "L", "W", "15W", "W3", "lw", "1#2", "mon#2", "L5", "5L", "mon", "MON", "jan", "feb", "apr",
    "dec", "sun", "fri-mon", "feb-jan", "1-5", "3-1", "*/5", "*/0", "5/10", "1-5/2", "H",
    "H(0-5)", "1,3", "2,4", "30,31", "-1", "x", "",
]  # fmt: skip
KNOWN = [
    "0 3 * * *", "@daily", "@weekly", "0 0 29 2 *", "0 0 L * *", "0 0 * * L5", "0 0 * * 1#2",
    "0 0 15W * *", "0 0 W3 * *", "0 0 31 4 *", "0 0 31 2,4 *", "0 0 30,31 2 *", "0 0 30 2 *",
    "0 0 31 2 mon", "0 0 31 4,5 *", "*/90 * * * *", "0 0 1 1 * 2030", "* * * * * *",
    "0 0 31 4 mon", "0 0 30,31 2 sat,sun", "0 0 31 11 sat,sun", "*/15 */2 31 2,4 0",
    "0 0 31 apr,jun 1-5", "0 0 31 1,4 mon", "0 0 30 4 fri", "0 0 L 2 mon", "0 0 29 2 mon",
]  # fmt: skip


def dagster_schedules(cron: str) -> bool:
    """Dagster defines the schedule and its scheduler computes a next tick."""
    if not is_valid_cron_string(cron):
        return False
    try:
        next(cron_string_iterator(START, cron, "UTC"))
    except (ValueError, StopIteration):
        return False
    return True


def agrees(cron: str) -> None:
    ours = cron_problem(cron) is None
    assert ours == dagster_schedules(cron), (cron, cron_problem(cron))
    if ours:
        assert build_rebuild_schedule(cron).cron_schedule == cron  # the code location loads


@pytest.mark.parametrize("cron", KNOWN)
def test_known_expressions_agree_with_dagster(cron: str) -> None:
    agrees(cron)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ATOMS), min_size=4, max_size=7))
def test_generated_expressions_agree_with_dagster(words: list[str]) -> None:
    agrees(" ".join(words))


@given(st.text(alphabet="0123456789*/-,#LW? \u0663\uff11", min_size=1, max_size=20))
@settings(max_examples=300, deadline=None)
def test_what_the_config_accepts_dagster_schedules(cron: str) -> None:
    """Over any characters (non-ASCII digits included, which Dagster's croniter reads and the
    config refuses): nothing the config accepts fails in Dagster."""
    if cron_problem(cron) is None:
        assert dagster_schedules(cron), cron


def test_a_cron_that_gets_through_falls_back_to_the_default() -> None:
    """The code location's last line: a cron Dagster refuses or that never fires is replaced by
    the default, so the code location loads and the scheduler ticks."""
    for bad in ("0 0 15W * *", "0 0 31 4 *", "0 0 30,31 2 *"):
        assert schedulable_cron(bad) == DEFAULT_CRON
        assert isinstance(build_rebuild_schedule(schedulable_cron(bad)), dg.ScheduleDefinition)
    assert schedulable_cron("15 1 * * 1") == "15 1 * * 1"
