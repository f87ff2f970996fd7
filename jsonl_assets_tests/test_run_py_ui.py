"""`python3 run.py ui` for real (`dagster dev` on a loopback port, a DAGSTER_HOME in tmp_path):
no process of the UI outlives it, whatever ends it (Ctrl-C, kill -9 of `dagster dev`), and one
instance has one UI (a second `run.py ui` on it is refused)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jsonl_assets.core.config import CONFIG_ENV_VAR
from jsonl_assets.defs.dead_runs import proc_stat

REPO = Path(__file__).resolve().parents[1]
RUN_PY = [sys.executable, str(REPO / "run.py"), "ui"]
STARTUP_SECONDS = 90.0
GONE_SECONDS = 15.0  # run.py's GROUP_STOP_SECONDS (5) and slack for a loaded machine


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a live pid, or None."""
    fields = proc_stat(pid)
    return None if fields is None else (fields[0], int(fields[1]))


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def descendants(root: int) -> dict[int, str]:
    """Every live process below `root`: pid -> command line."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(stat[1], []).append(int(entry.name))
    found, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = _cmdline(child)
            todo.append(child)
    return found


def alive(pids: dict[int, str]) -> dict[int, str]:
    """Those of `pids` still running the same command (not zombies)."""
    out = {}
    for pid, cmd in pids.items():
        stat = _stat(pid)
        if stat is not None and stat[0] not in ("Z", "X") and _cmdline(pid) == cmd:
            out[pid] = cmd
    return out


@dataclass
class Ui:
    proc: subprocess.Popen[bytes]
    log: Path
    home: Path
    env: dict[str, str]
    port: int
    seen: dict[int, str]  # every process of the UI seen, for the clean-up

    def tree(self) -> dict[int, str]:
        tree = descendants(self.proc.pid)
        self.seen.update(tree)
        return tree

    def ready(self) -> bool:
        """Whether the webserver serves the loaded code location and every daemon runs
        (has sent a heartbeat): a process still importing would print a KeyboardInterrupt traceback
        on Ctrl-C, as it would with a terminal's Ctrl-C then."""
        query = (
            "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } }"
            " instance { daemonHealth { allDaemonStatuses { lastHeartbeatTime required } } } }"
        )
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                data = json.loads(response.read())["data"]
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, ValueError):
            return False
        entries = data["workspaceOrError"].get("locationEntries") or []
        daemons = data["instance"]["daemonHealth"]["allDaemonStatuses"]
        return (
            bool(entries)
            and all(e["loadStatus"] == "LOADED" for e in entries)
            and all(d["lastHeartbeatTime"] for d in daemons if d["required"])
        )

    def wait_until_up(self) -> dict[int, str]:
        """The UI's processes, once its webserver serves and its daemons run."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            if self.ready():
                tree = self.tree()
                assert "dagster._daemon" in " | ".join(tree.values()), tree
                return tree
            time.sleep(0.5)
        raise AssertionError(f"run.py ui not up after {STARTUP_SECONDS} s: {self.tree()}")


def start_ui(env: dict[str, str], log: Path, port: int) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        # Its own session, as a terminal's job: a Ctrl-C there goes to this process group.
        return subprocess.Popen(
            [*RUN_PY, "--port", str(port), "--host", "127.0.0.1"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture
def ui(tmp_path: Path, sample_project: Path) -> Iterator[Ui]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    env = {**os.environ, "DAGSTER_HOME": str(home), CONFIG_ENV_VAR: str(sample_project)}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    log = tmp_path / "ui.log"
    port = free_port()
    proc = start_ui(env, log, port)
    ui = Ui(proc, log, home, env, port, {})
    try:
        yield ui
    finally:
        seen = {**ui.seen, **ui.tree()}
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in alive(seen):  # what the test left (a failure): not for the next test
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def wait_gone(pids: dict[int, str]) -> dict[int, str]:
    deadline = time.monotonic() + GONE_SECONDS
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(pids)


def _second_ui_is_refused(ui: Ui, tree: dict[int, str]) -> None:
    """A second `run.py ui` on the instance of the running `ui` exits at once, naming it."""
    second = subprocess.Popen(
        [*RUN_PY, "--port", str(free_port())],
        env=ui.env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = second.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # it started a second UI: stop all of it
        for pid in [second.pid, *descendants(second.pid)]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        second.wait()
        raise AssertionError("a second run.py ui on one instance was not refused") from None
    assert second.returncode == 1, out + err
    assert out == ""  # no dagster dev started
    (line,) = err.splitlines()
    assert f"pid {ui.proc.pid}" in line and str(ui.home) in line and "DAGSTER_HOME" in line
    assert alive(tree) == tree  # the first UI is untouched


def test_a_second_ui_is_refused_and_kill_9_of_dagster_dev_leaves_no_process(ui: Ui) -> None:
    tree = ui.wait_until_up()
    _second_ui_is_refused(ui, tree)
    (dev,) = [pid for pid, cmd in tree.items() if " -m dagster dev " in cmd]
    started = time.monotonic()
    os.kill(dev, signal.SIGKILL)  # as the OOM killer would: the daemon must not live on
    left = wait_gone(tree)
    assert not left, f"{time.monotonic() - started:.1f} s after kill -9 of dagster dev: {left}"
    assert ui.proc.wait(timeout=10) == 128 + signal.SIGKILL  # how dagster dev ended, as a shell


def test_ctrl_c_stops_the_whole_ui_cleanly(ui: Ui) -> None:
    tree = ui.wait_until_up()
    os.killpg(ui.proc.pid, signal.SIGINT)  # a terminal's Ctrl-C: run.py's process group
    assert ui.proc.wait(timeout=60) == 130
    assert not wait_gone(tree)
    assert "Traceback" not in ui.log.read_text(), ui.log.read_text()[-3000:]


def test_kill_9_of_run_py_stops_dagster_dev_and_its_daemon(ui: Ui) -> None:
    tree = ui.wait_until_up()
    services = {pid: cmd for pid, cmd in tree.items() if " dagster dev " in cmd or "_daemon" in cmd}
    assert len(services) == 2, tree
    ui.proc.kill()  # dagster dev gets SIGTERM from the kernel and stops its services
    ui.proc.wait()
    deadline = time.monotonic() + STARTUP_SECONDS
    while alive(services) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not alive(services)
