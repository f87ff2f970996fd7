"""A writer killed before its rename leaves a temporary of its own (`.<name>.<pid>-<tag>
.partial`) that no other writer ever reuses: the next write of that file clears it, so a work
dir does not grow with every kill (a plan step killed while recording the sources'
fingerprints left one forever, through reruns and `--force`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from jsonl_assets.core.store.base import write_bytes


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_write_clears_a_dead_writers_temporary(tmp_path: Path) -> None:
    target = tmp_path / "raw_sources.fingerprints.json"
    dead = tmp_path / f".{target.name}.{_dead_pid()}-0badc0de.partial"
    live = tmp_path / f".{target.name}.1-0badc0de.partial"  # pid 1 lives: not ours to judge
    other = tmp_path / f".extracted.json.{_dead_pid()}-0badc0de.partial"
    for path in (dead, live, other):
        path.write_bytes(b"{")
    write_bytes(target, b"{}", shared=True)
    assert target.read_bytes() == b"{}"
    assert not dead.exists()
    assert live.exists() and other.exists()  # a live writer's, and another file's


def test_a_pid_past_the_c_long_is_a_dead_writer(tmp_path: Path) -> None:
    """`os.kill` raised OverflowError out of the build on every rerun, naming no file."""
    target = tmp_path / "validated.json"
    huge = tmp_path / f".{target.name}.99999999999999999999-abcdef01.partial"
    huge.write_bytes(b"{")
    write_bytes(target, b"{}", shared=True)
    assert not huge.exists() and target.read_bytes() == b"{}"
