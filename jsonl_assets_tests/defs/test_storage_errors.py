"""A failure of Dagster's storage (the SQLite files under $DAGSTER_HOME: a full disk, `ulimit
-f`, a damaged file) ends `build` with one line naming the storage and the reason, exit 1, no
traceback (it was SQLAlchemy's two-level traceback)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jsonl_assets.defs.storage_errors import step_error
from jsonl_assets_tests.test_dangerous_dirs import build_cpt_train

_build = build_cpt_train


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


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("a file", "failed: {home}: File exists; rerun to resume"),
        ("dagster.yaml unparsable", "cannot be opened: while parsing a flow"),
        ("dagster.yaml refused", "cannot be opened: "),
    ],
)
def test_a_dagster_home_that_cannot_be_opened_is_one_line(
    sample_project: Path, damage: str, said: str
) -> None:
    """$DAGSTER_HOME a file, or its dagster.yaml unparsable or not Dagster's schema: one line
    naming it and why, exit 1, no traceback (it was FileExistsError's, yaml's, Dagster's)."""
    home = sample_project.parent / "dagster_home"
    if damage == "a file":
        home.write_text("not a dir")
    else:
        home.mkdir()
        bad = "storage:\n  sqlite: [\n" if damage == "dagster.yaml unparsable" else "storage: 3\n"
        (home / "dagster.yaml").write_text(bad)
    done = _build(sample_project, home)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(
        f"Dagster's {'storage' if damage == 'a file' else 'instance'} in {home} (DAGSTER_HOME) "
    ), lines
    assert said.format(home=home) in lines[0], lines
    assert not (sample_project.parent / "package" / "metadata.json").exists()


def test_a_relative_dagster_home_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dagster refuses a relative $DAGSTER_HOME: the build resolves it from the current folder
    (for its own instance and its workers') instead of ending with Dagster's traceback."""
    import dagster as dg

    from jsonl_assets.defs.runs import ensure_dagster_home

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", "relative/home")
    assert ensure_dagster_home() == tmp_path / "relative" / "home"
    assert os.environ["DAGSTER_HOME"] == str(tmp_path / "relative" / "home")
    with dg.DagsterInstance.get() as instance:
        assert instance.root_directory == str(tmp_path / "relative" / "home")


def test_a_step_failed_by_the_storage_says_so() -> None:
    """A step that reads the instance (too many open files: sqlite cannot open its file)."""
    said = step_error(
        "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) unable to open database "
        "file\n(Background on this error at: https://sqlalche.me/e/21/e3q8)"
    )
    assert said is not None and said.startswith("Dagster's storage in ")
    assert said.endswith("failed: unable to open database file; rerun to resume"), said
    assert step_error("OSError: [Errno 28] cannot write /w/x: No space left on device") is None
