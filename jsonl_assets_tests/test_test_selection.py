"""Which tests run: a bare `pytest` leaves out the `slow`, `crash` and `webserver` tests;
`python3 run.py test` (what CI runs) runs every test, and fails when none is collected."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import run
from jsonl_assets_tests.conftest import REPO
from jsonl_assets_tests.markers import MARKED as MARKED_BY_ID

MARKED = "jsonl_assets_tests/test_signals.py"  # crash tests, one of them also slow
WEB = "jsonl_assets_tests/test_webserver.py"
PLAIN = "jsonl_assets_tests/test_dagster_layer.py"  # no marker

pytestmark = pytest.mark.slow  # each test collects the suite again in a subprocess


def _collected(*args: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
    )
    assert out.returncode in (0, 5), out.stdout + out.stderr
    return {line for line in out.stdout.splitlines() if "::" in line}


def test_a_bare_pytest_deselects_slow_crash_and_webserver_tests() -> None:
    default = _collected(MARKED, WEB, PLAIN)
    everything = _collected(MARKED, WEB, PLAIN, "-m", "")
    assert {t.split("::")[0] for t in default} == {PLAIN}
    assert {t.split("::")[0] for t in everything} == {MARKED, WEB, PLAIN}
    assert default < everything


def test_run_py_test_runs_the_marked_tests_too(capfd) -> None:  # type: ignore[no-untyped-def]
    """`run.py test` passes `-m ""` before the caller's arguments: nothing is deselected,
    unless the caller gives its own `-m` (later on the line, so it wins)."""
    given = run.pytest_args(["-x", "-m", "crash"])
    assert given[-3:] == ["-x", "-m", "crash"] and given.index("") < len(given) - 3
    code = run.test([MARKED, "--collect-only"])
    listed = {line for line in capfd.readouterr().out.splitlines() if "::" in line}
    assert code == 0
    assert listed == _collected(MARKED, "-m", "")


def test_run_py_test_fails_when_no_test_is_collected() -> None:
    assert run.test([MARKED, "-k", "no_test_has_this_name"]) == 1


def test_every_marker_entry_of_conftest_names_a_test() -> None:
    """A renamed test would silently lose its marker (and slow the quick run down)."""
    everything = {t.removeprefix("jsonl_assets_tests/") for t in _collected("-m", "")}
    assert [p for p in MARKED_BY_ID if not any(t.startswith(p) for t in everything)] == []
