"""`jsonl-assets verify ... | head`: a closed stdout ends the command quietly with 141 (the
build's own case, which must also stop its workers, is in test_signals.py)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from jsonl_assets_tests import test_restart as restart


def test_a_closed_stdout_ends_verify_quietly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [str(restart.CLI), "verify", str(tmp_path)],  # no metadata.json: an error is printed
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGPIPE and b"Traceback" not in err, err


def _to_dev_full(cmd: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    with open("/dev/full", "w") as full:  # ENOSPC on every write
        done = subprocess.run(
            cmd, stdout=full, stderr=subprocess.PIPE, text=True, timeout=300, env=env
        )
    return done.returncode, done.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_stdout_that_fails_ends_verify_and_build_with_one_line(sample_project: Path) -> None:
    """stdout on a full disk (`> /dev/full`): handled as a closed pipe (exit 141) with one
    line on stderr saying why, no traceback, no "Exception ignored"; a build so stopped
    resumes."""
    env = {**os.environ, "DAGSTER_HOME": str(sample_project.parent / "dagster_home")}
    build = [str(restart.CLI), "build", "--config", str(sample_project), "--workers", "1"]
    build += ["--partition", "cpt|train"]
    code, err = _to_dev_full(build, env)
    assert code == 128 + signal.SIGPIPE, err
    assert err.splitlines() == [
        "cannot write to stdout: No space left on device",
        "interrupted; rerun to resume",
    ], err
    rerun = subprocess.run(build, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    package = sample_project.parent / "package"
    code, err = _to_dev_full([str(restart.CLI), "verify", str(package)])
    assert code == 128 + signal.SIGPIPE, err
    assert err.splitlines() == ["cannot write to stdout: No space left on device"], err


def test_a_build_started_with_stdout_closed_prints_nothing_and_publishes(
    sample_project: Path,
) -> None:
    """`jsonl-assets build >&-`: no stdout at all is not an error (output is dropped), and
    Dagster's log capture, whose `tail`s write to stdout, says nothing on stderr."""
    env = {**os.environ, "DAGSTER_HOME": str(sample_project.parent / "dagster_home")}
    cmd = [str(restart.CLI), "build", "--config", str(sample_project), "--workers", "2"]
    cmd += ["--partition", "cpt|train"]
    done = subprocess.run(
        cmd,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        preexec_fn=lambda: os.close(1),
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert (sample_project.parent / "package" / "metadata.json").is_file()


def test_stdout_and_stderr_on_one_closed_pipe_stop_the_build_with_141(
    sample_project: Path,
) -> None:
    """`jsonl-assets build 2>&1 | head -1`: the line `interrupted; rerun to resume` cannot
    be written either; the build still exits 141 (it exited 1, the code of a failed build,
    with a traceback nobody could read), and the rerun publishes."""
    env = {**os.environ, "DAGSTER_HOME": str(sample_project.parent / "dagster_home")}
    cmd = [str(restart.CLI), "build", "--config", str(sample_project), "--workers", "1"]
    cmd += ["--partition", "cpt|train"]
    read, write = os.pipe()
    proc = subprocess.Popen(cmd, env=env, stdout=write, stderr=write)
    os.close(write)
    with os.fdopen(read, "rb") as out:
        assert out.readline().startswith(b"building ")
    assert proc.wait(timeout=120) == 128 + signal.SIGPIPE
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert (sample_project.parent / "package" / "metadata.json").is_file()
