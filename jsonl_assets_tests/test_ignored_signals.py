"""`jsonl-assets build` started with signals ignored (`nohup`, a supervisor that ignores
SIGTERM) finishes, returns its output to the end and leaves no process behind."""

from __future__ import annotations

import signal
from pathlib import Path

from jsonl_assets_tests.test_dangerous_dirs import build_cpt_train, notes_project


def test_a_build_started_with_sigterm_and_sighup_ignored_returns_and_leaves_no_process(
    tmp_path: Path,
) -> None:
    # Dagster stops its compute-log `tail`s with SIGTERM: when they inherited an ignored
    # SIGTERM they outlived the build holding its stdout, and this call never returned.
    home = tmp_path / "home"
    done = build_cpt_train(notes_project(tmp_path), home, ignored=(signal.SIGTERM, signal.SIGHUP))
    assert done.returncode == 0, done.stderr
    assert "published" in done.stdout + done.stderr
    assert _processes_naming(home) == []


def _processes_naming(path: Path) -> list[str]:
    """The command lines of the running processes that name `path` (a `tail -F` of a log)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        if str(path) in args:
            found.append(args.replace("\0", " "))
    return found
