"""run.py `run_tree`, the process tree `run.py ui` runs `dagster dev` in, with a stand-in for
`dagster dev`: a leader that exits on SIGINT and a member of its group that ignores SIGINT and
SIGTERM (a daemon slow to stop). Ctrl-C twice still leaves no process of the group: before, the
second Ctrl-C cut the clean-up short and the slow member outlived `run.py ui`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SLOW_MEMBER = "jsonl_assets_run_tree_slow_member"


def _members(tag: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if tag.encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def test_a_second_ctrl_c_still_stops_the_whole_group(tmp_path: Path) -> None:
    tag = f"{SLOW_MEMBER}_{os.getpid()}"
    leader = tmp_path / "fake_dev.sh"
    leader.write_text(
        "#!/bin/bash\n"
        f"bash -c 'trap \"\" INT TERM; exec -a {tag} sleep 600' &\n"
        "trap 'exit 0' INT TERM\n"
        "while :; do sleep 0.1; done\n"
    )
    leader.chmod(0o755)
    driver = textwrap.dedent(f"""
        import importlib.util, os, signal, sys
        from pathlib import Path
        signal.signal(signal.SIGINT, signal.default_int_handler)
        spec = importlib.util.spec_from_file_location("run_py", {str(REPO / "run.py")!r})
        run_py = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(run_py)
        sys.exit(run_py.run_tree([{str(leader)!r}], dict(os.environ), Path({str(tmp_path)!r}), ()))
    """)
    proc = subprocess.Popen([sys.executable, "-c", driver], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _members(tag):
            assert time.monotonic() < deadline, "the stand-in never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        time.sleep(1)
        proc.send_signal(signal.SIGINT)  # again, while the rest of the group is being stopped
        assert proc.wait(timeout=30) == 130
        assert _members(tag) == []
    finally:
        for pid in _members(tag):
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
