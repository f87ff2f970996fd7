"""A failure of Dagster's storage (the SQLite files under $DAGSTER_HOME: a full disk, `ulimit
-f`, a damaged file) ends `build` with one line naming the storage and the reason, exit 1, no
traceback (it was SQLAlchemy's two-level traceback)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from jsonl_assets.defs.storage_errors import step_error
from jsonl_assets_tests.test_restart import CLI


def _build(config: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "build", "--config", str(config), "--partition", "cpt|train", "--workers", "1"],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=config.parent,
    )


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("runs.db not a database", "file is not a database"),
        ("history/runs a file", "history/runs: File exists"),
    ],
)
def test_a_failing_dagster_storage_is_one_line_naming_it(
    sample_project: Path, damage: str, reason: str
) -> None:
    home = sample_project.parent / "dagster_home"
    (home / "history").mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    if damage == "runs.db not a database":
        (home / "history" / "runs.db").write_bytes(b"not SQLite " * 1000)
    else:
        (home / "history" / "runs").write_text("x")
    done = _build(sample_project, home)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"Dagster's storage in {home} (DAGSTER_HOME) failed: "), lines
    assert reason in lines[0] and lines[0].endswith("; rerun to resume"), lines
    assert not (sample_project.parent / "package" / "metadata.json").exists()


def test_a_step_failed_by_the_storage_says_so() -> None:
    """A step that reads the instance (too many open files: sqlite cannot open its file)."""
    said = step_error(
        "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) unable to open database "
        "file\n(Background on this error at: https://sqlalche.me/e/21/e3q8)"
    )
    assert said is not None and said.startswith("Dagster's storage in ")
    assert said.endswith("failed: unable to open database file; rerun to resume"), said
    assert step_error("OSError: [Errno 28] cannot write /w/x: No space left on device") is None
