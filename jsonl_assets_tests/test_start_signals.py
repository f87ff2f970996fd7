"""A signal while the CLI imports its modules (the first 0.3-2 s): one line and exit 128 +
the signal, as later on. A Ctrl-C there printed a KeyboardInterrupt traceback and a SIGTERM
or SIGHUP killed the process without a word. The signal is sent as soon as the process
catches SIGTERM (`/proc/<pid>/status`), that is right after `start_signals` is imported,
long before the command runs; a signal ignored at start stays ignored."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from jsonl_assets.start_signals import interrupt_line
from jsonl_assets_tests import test_restart as restart


def _catches_sigterm(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (signal.SIGTERM - 1) & 1)


def _signalled_at_start(
    args: list[str], sig: signal.Signals, ignore: signal.Signals | None = None
) -> subprocess.CompletedProcess[str]:
    def preexec() -> None:
        if ignore is not None:
            signal.signal(ignore, signal.SIG_IGN)

    child = subprocess.Popen(
        [str(restart.CLI), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,
    )
    deadline = time.monotonic() + 60
    while not _catches_sigterm(child.pid):
        assert child.poll() is None, "the CLI ended before it caught SIGTERM"
        assert time.monotonic() < deadline
        time.sleep(0.001)
    child.send_signal(sig)
    out, err = child.communicate(timeout=120)
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


@pytest.mark.parametrize(
    ("args", "sig", "line"),
    [
        (["verify", "/nonexistent"], signal.SIGINT, "interrupted"),
        (["report", "--config", "/nonexistent.yaml"], signal.SIGTERM, "interrupted"),
        (["build", "--config", "/nonexistent.yaml"], signal.SIGHUP, "interrupted; rerun to resume"),
        (["verify", "build"], signal.SIGTERM, "interrupted"),  # a package folder named build
    ],
)
def test_a_signal_while_the_cli_starts_is_one_line(
    args: list[str], sig: signal.Signals, line: str
) -> None:
    done = _signalled_at_start(args, sig)
    assert done.returncode == 128 + sig, done.stderr
    assert done.stderr == f"{line}\n"


def test_a_signal_ignored_at_start_stays_ignored() -> None:
    """`nohup jsonl-assets verify ...`: its SIGHUP changes nothing; the command runs."""
    done = _signalled_at_start(["verify", "/nonexistent"], signal.SIGHUP, ignore=signal.SIGHUP)
    assert done.returncode == 1, done.stderr
    assert "interrupted" not in done.stderr and "/nonexistent" in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["build"], "interrupted; rerun to resume"),
        (["build", "--config", "verify.yaml"], "interrupted; rerun to resume"),
        (["verify", "build"], "interrupted"),  # before: any argument `build` made it a build
        (["report", "--config", "build"], "interrupted"),
        (["verify", "--warnings", "build"], "interrupted"),
        ([], "interrupted"),
    ],
)
def test_the_line_is_the_build_s_only_for_the_build_command(args: list[str], line: str) -> None:
    assert interrupt_line(args) == line
