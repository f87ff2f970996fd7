#!/usr/bin/env python3
"""One-command set-up and tasks, needing only Python 3.11 and pip.

    python3 run.py build   # set up .venv, build the sample package, verify it
    python3 run.py test    # set up .venv, OS packages and Azurite, lint (ruff), run every test
    python3 run.py ui      # set up .venv, start `dagster dev` on the project's instance
                           # (quiet; `run.py ui --verbose` shows Dagster's own logs)

Set-up creates .venv/ and installs the exact versions in requirements.lock plus this project
(editable); it is skipped when the lock file and pyproject.toml have not changed since.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import signal
import subprocess
import sys
import time
import venv
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".setup-stamp"


STOP_SECONDS = 30.0  # how long a Ctrl-C'ed task may take to stop before it is killed


def _run(*cmd: str | os.PathLike[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> int:
    """Run `cmd`; on Ctrl-C the task (which got the SIGINT too) is given time to stop by
    itself, e.g. `dagster dev` stopping its webserver and daemon, and then 130 is returned."""
    print("+", " ".join(str(c) for c in cmd), flush=True)
    proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        try:
            proc.wait(timeout=STOP_SECONDS)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            proc.kill()
            proc.wait()
        return 130


def _check(*cmd: str | os.PathLike[str]) -> None:
    code = _run(*cmd)
    if code != 0:
        sys.exit(code)


def setup() -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"Python 3.11 is required, this is {sys.version.split()[0]}")
    digest = hashlib.sha256(
        (ROOT / "requirements.lock").read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest and (BIN / "jsonl-assets").exists():
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [BIN / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    _check(*pip, "-r", ROOT / "requirements.lock")
    _check(*pip, "--no-deps", "-e", ROOT)
    STAMP.write_text(digest)


OS_PACKAGES: dict[str, str] = {
    "redis-server": "redis-server",  # the Celery broker of the many-worker tests
    "node": "nodejs",  # runs Azurite, the Azure Blob server of the object-storage tests
    "npm": "npm",  # installs Azurite from its lock file
    "chromium": "chromium",  # headless browser for the UI screenshots and webserver tests
}
"""Debian packages the tests need, by the command each provides; installed when missing."""


def os_packages() -> None:
    """Install the missing OS packages with apt-get (as root, or through sudo)."""
    import shutil

    missing = sorted({pkg for cmd, pkg in OS_PACKAGES.items() if shutil.which(cmd) is None})
    if not missing:
        return
    if shutil.which("apt-get") is None:
        sys.exit(f"these OS packages are missing and apt-get is not here: {' '.join(missing)}")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    code = _run(*sudo, "apt-get", "update", "-qq", env=apt_env)
    if code == 0:
        code = _run(*sudo, "apt-get", "install", "-y", "-qq", *missing, env=apt_env)
    if code != 0:
        sys.exit(f"could not install the OS packages {' '.join(missing)} (apt-get exit {code})")


AZURITE_SPEC = ROOT / "jsonl_assets_tests" / "azurite"  # package.json + package-lock.json
AZURITE_DIR = VENV / "azurite"


def azurite() -> None:
    """Install Azurite into .venv/azurite from its lock file (`npm ci`); skipped when that
    lock file is already installed there."""
    spec = [AZURITE_SPEC / "package.json", AZURITE_SPEC / "package-lock.json"]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in spec)).hexdigest()
    stamp = AZURITE_DIR / ".installed"
    installed = (AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob").exists()
    if installed and stamp.exists() and stamp.read_text() == digest:
        return
    AZURITE_DIR.mkdir(parents=True, exist_ok=True)
    for path in spec:
        (AZURITE_DIR / path.name).write_bytes(path.read_bytes())
    code = _run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", cwd=AZURITE_DIR)
    if code != 0:
        sys.exit(f"could not install Azurite (npm ci exit {code})")
    stamp.write_text(digest)


def env() -> dict[str, str]:
    out = dict(os.environ)
    out.setdefault("DAGSTER_HOME", str(ROOT / ".dagster_home"))
    return out


def build(args: list[str]) -> int:
    code = _run(BIN / "jsonl-assets", "build", *args, env=env())
    if code != 0:
        return code
    return _run(BIN / "jsonl-assets", "verify", ROOT / "data" / "package", env=env())


def pytest_args(args: list[str]) -> list[str]:
    """Every test: `-m ""` undoes the default deselection of slow, crash and webserver tests
    (pyproject's addopts), on one pytest-xdist worker per core (`--dist worksteal`: an idle
    worker takes tests queued on a busy one, so the long crash tests do not end the run
    alone); a `-m` or `-n` among `args` comes later and wins (`-n 0`: one process)."""
    return ["-m", "pytest", "-m", "", "-n", "auto", "--dist", "worksteal", *args]


def test(args: list[str]) -> int:
    os_packages()
    azurite()
    for cmd in (("check", "."), ("format", "--check", ".")):
        code = _run(BIN / "ruff", *cmd)
        if code != 0:
            return code
    code = _run(BIN / "python", *pytest_args(args), env=env())
    if code == 5:
        print("pytest collected no tests: failing on purpose", file=sys.stderr)
        return 1
    return code


# `dagster dev` is superseded by `dg dev` (the dagster-dg-cli package, which we do not
# install); it works unchanged in 1.13 and is removed only in 2.0, so its warning is silenced.
# (By message: -W is read before site-packages can be imported, so not by Dagster's class.)
QUIET_SUPERSESSION = "ignore:Function `dev_command` is superseded:FutureWarning"


UI_LOCK = ".run-py-ui.lock"  # in DAGSTER_HOME: held by the one `run.py ui` of an instance
GROUP_STOP_SECONDS = 5.0  # how long what is left of the UI's process group has after SIGTERM
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def lock_home(home: Path) -> int | None:
    """Take the instance's UI lock (a kernel flock, as filelock takes it; run.py has only the
    standard library before set-up) and write our pid in it: the open file, or None when
    another live `run.py ui` holds it (the kernel drops a dead holder's lock)."""
    import fcntl

    fd = os.open(home / UI_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def ui_holder(home: Path) -> str:
    """The pid the holder of the instance's UI lock wrote (it writes it just after locking)."""
    for _ in range(20):
        with contextlib.suppress(OSError):
            pid = (home / UI_LOCK).read_text().strip()
            if pid.isdigit():
                return f"pid {pid}"
        time.sleep(0.05)
    return "pid unknown"


def _die_with(parent: int) -> Callable[[], None]:
    """For preexec_fn: the child gets SIGTERM when `parent` dies (Linux), as `dagster dev`
    stops its webserver and daemon on SIGTERM; a parent already gone: SIGTERM at once."""

    def preexec() -> None:
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to the process group; False when no process is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # only zombies left, or a pid reused: nothing of ours to stop
        return False
    return True


def _end_group(pgid: int) -> None:
    """SIGTERM what is left of the group (its leader has exited), SIGKILL it after a while."""
    deadline = time.monotonic() + GROUP_STOP_SECONDS
    if not _signal_group(pgid, signal.SIGTERM):
        return
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if not _signal_group(pgid, 0):
            return
    _signal_group(pgid, signal.SIGKILL)


def run_tree(
    cmd: list[str | os.PathLike[str]], env: dict[str, str], cwd: Path, pass_fds: tuple[int, ...]
) -> int:
    """Run `cmd` in its own session and process group, tied to this process: whatever ends
    it (Ctrl-C, a crash, kill -9, the OOM killer), the rest of its group (webserver, daemon,
    code server, run workers) is stopped, and if this process dies the child gets SIGTERM.
    Ctrl-C (or SIGTERM) here goes to the whole group, as a terminal's Ctrl-C would; the group
    is given STOP_SECONDS to stop by itself, then killed; 130 is returned. `pass_fds` are
    inherited by the child (not by what it starts: Python closes them)."""
    print("+", " ".join(str(c) for c in cmd), flush=True)
    proc = subprocess.Popen(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        start_new_session=True,
        preexec_fn=_die_with(os.getpid()),
        pass_fds=pass_fds,
    )
    stop = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        try:
            code = proc.wait()
            return 128 - code if code < 0 else code  # killed by signal N: 128 + N, as a shell
        except KeyboardInterrupt:
            _signal_group(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=STOP_SECONDS)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
            return 130
    finally:
        # A second Ctrl-C (or SIGTERM) must not cut the clean-up short: the group's SIGKILL
        # would never be sent, and a slow member would outlive us.
        interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if proc.poll() is None:  # an error of ours: the child must not outlive us
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        _end_group(proc.pid)
        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, stop)


def ui(args: list[str]) -> int:
    """`dagster dev` run from the instance folder (DAGSTER_HOME): the dagster.yaml there is
    the one used, and dagster dev has no other dagster.yaml in sight to warn about. Dagster's
    INFO logs only with --verbose (the runs' DEBUG lines never: dagster.yaml python_logs).
    One UI per instance (the lock UI_LOCK there, held by this process and dagster dev), and
    no process of the UI outlives it (`run_tree`)."""
    run_env = env()
    run_env.setdefault("JSONL_ASSETS_CONFIG", str(ROOT / "data" / "pipeline.yaml"))
    home = Path(run_env["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    lock = lock_home(home)
    if lock is None:
        print(
            f"another `run.py ui` ({ui_holder(home)}) is running on the instance {home}: "
            "stop it, or set DAGSTER_HOME to another folder for a second UI",
            file=sys.stderr,
        )
        return 1
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").symlink_to(ROOT / "dagster.yaml")
    verbose = "--verbose" in args
    args = [a for a in args if a != "--verbose"]
    quiet = [] if verbose else ["--log-level", "warning", "--code-server-log-level", "warning"]
    port = args[args.index("--port") + 1] if "--port" in args[:-1] else "3000"
    print(f"Dagster UI: http://127.0.0.1:{port} (Ctrl-C stops it)", flush=True)
    cmd = [BIN / "python", "-W", QUIET_SUPERSESSION, "-m", "dagster", "dev"]
    cmd += [*quiet, "-w", ROOT / "workspace.yaml", *args]
    try:
        return run_tree(cmd, env=run_env, cwd=home, pass_fds=(lock,))
    finally:
        os.close(lock)


def main() -> int:
    tasks = {"build": build, "test": test, "ui": ui}
    if len(sys.argv) >= 2 and sys.argv[1] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    if len(sys.argv) < 2 or sys.argv[1] not in tasks:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        setup()
        return tasks[sys.argv[1]](sys.argv[2:])
    except KeyboardInterrupt:  # Ctrl-C outside a task (e.g. during set-up): no traceback
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
