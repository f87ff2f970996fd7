"""A tick's routine lines go to its log, not to the console of `dagster dev`: the console
logger Dagster gives every sensor's and schedule's `context.log` prints INFO whatever
`--log-level` says (`publish_after_batch` printed a line per finished run)."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.instigation_logger import (
    InstigationLogger,
    get_instigation_log_records,
)

from jsonl_assets.defs.tick_logs import note

DEFS = Path(__file__).resolve().parents[2] / "jsonl_assets" / "defs"
TICK_CONTEXTS = ("SensorEvaluationContext", "RunStatusSensorContext", "ScheduleEvaluationContext")


def test_a_note_is_in_the_tick_log_and_not_on_the_console(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with dg.instance_for_test() as instance:
        key = ["ticks", "a_sensor", "1"]
        with InstigationLogger(key, instance, "__repository__", "a_sensor") as log:
            note(log, "nothing to publish: batch b waits for sft|test")
            log.warning("a warning reaches both")
        records = get_instigation_log_records(instance, key)
    console = capfd.readouterr().err
    assert [r["msg"].split(" - ")[-1] for r in records] == [  # after repository - sensor -
        "nothing to publish: batch b waits for sft|test",
        "a warning reaches both",
    ]
    assert records[0]["levelno"] == logging.DEBUG
    assert "nothing to publish" not in console
    assert "a warning reaches both" in console


def _instigators() -> list[tuple[str, ast.FunctionDef]]:
    """Every function of defs/ that a sensor or schedule tick calls with its context."""
    found = []
    for module in sorted(DEFS.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any(
                a.annotation is not None and ast.unparse(a.annotation).endswith(TICK_CONTEXTS)
                for a in node.args.args
            ):
                found.append((module.name, node))
    return found


def test_no_sensor_or_schedule_logs_info_on_its_tick_context() -> None:
    instigators = _instigators()
    names = {node.name for _, node in instigators}
    assert {"publish_after_batch", "raw_sources_changed", "dead_runs_sensor"} <= names
    for module, node in instigators:
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
                said = ast.unparse(call.func)
                assert not said.endswith(".log.info"), f"{module}: {node.name}: {said}: use note"
