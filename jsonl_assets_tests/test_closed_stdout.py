"""`jsonl-assets verify ... | head`: a closed stdout ends the command quietly with 141 (the
build's own case, which must also stop its workers, is in test_signals.py)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

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
