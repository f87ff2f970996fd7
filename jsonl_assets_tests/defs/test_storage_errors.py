"""A failure of Dagster's storage (the SQLite files under $DAGSTER_HOME: a full disk, `ulimit
-f`, a damaged file) ends `build` with one line naming the storage and the reason, exit 1, no
traceback (it was SQLAlchemy's two-level traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jsonl_assets.core.build_workers import BuildStopped
from jsonl_assets.defs.storage_errors import CWD_GONE, StorageFailed, step_error, storage_errors
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


def test_a_deleted_current_directory_is_not_blamed_on_the_storage(tmp_path: Path) -> None:
    """Dagster asks for the current directory when it records a run: from a deleted one that
    is said as such, not as a failure of the storage in DAGSTER_HOME ("rerun to resume")."""
    gone = tmp_path / "gone"
    gone.mkdir()
    here = os.getcwd()
    os.chdir(gone)
    gone.rmdir()
    try:
        with pytest.raises(BuildStopped) as caught, storage_errors():
            os.getcwd()
    finally:
        os.chdir(here)
    assert not isinstance(caught.value, StorageFailed)
    assert str(caught.value) == CWD_GONE


EMFILE_SCRIPT = """
import resource, sqlite3, sys
from jsonl_assets.defs.storage_errors import StorageFailed, storage_errors
resource.setrlimit(resource.RLIMIT_NOFILE, (40, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
held = []
try:
    with storage_errors():
        for i in range(100):
            held.append(sqlite3.connect(f"{sys.argv[1]}/{i}.db"))
except StorageFailed as exc:
    print(exc)
"""


def test_a_storage_out_of_file_descriptors_says_so(tmp_path: Path) -> None:
    """SQLite says only "unable to open database file" when open() fails with EMFILE: under a
    low `ulimit -n` the line names the likely cause and what to do."""
    done = subprocess.run(
        [sys.executable, "-c", EMFILE_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "unable to open database file (Too many open files? this process may hold 40 " in (
        done.stdout
    ), done.stdout
    assert "raise `ulimit -n`)" in done.stdout
