"""A stderr that cannot be written (its pipe closed, a full disk, closed at start) changes
no exit code and prints no traceback: stderr only explains. A config error with stderr on a
closed pipe exited 1 (a traceback into the closed pipe) instead of 2; with stderr closed
(`2>&-`) its line went to stdout."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from jsonl_assets_tests import test_restart as restart


def _closed_pipe() -> int:
    read, write = os.pipe()
    os.close(read)
    return write


def _closed_fd() -> None:
    os.close(2)


@pytest.mark.parametrize("stderr", ["closed pipe", "full disk", "closed fd"])
@pytest.mark.parametrize("command", ["build", "report"])
def test_a_config_error_exits_2_whatever_becomes_of_stderr(
    tmp_path: Path, stderr: str, command: str
) -> None:
    if stderr == "full disk" and not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    config = tmp_path / "pipeline.yaml"
    config.write_text("dataset: {name: t\n")  # not valid YAML
    target: int | None = None
    preexec: Callable[[], None] | None = None
    if stderr == "closed pipe":
        target = _closed_pipe()
    elif stderr == "full disk":
        target = os.open("/dev/full", os.O_WRONLY)
    else:
        preexec = _closed_fd
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    try:
        done = subprocess.run(
            [str(restart.CLI), command, "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=target,
            preexec_fn=preexec,
            env=env,
            timeout=120,
        )
    finally:
        if target is not None:
            os.close(target)
    assert (done.returncode, done.stdout) == (2, b"")
