#!/usr/bin/env python3
"""One-command set-up and tasks, needing only Python 3.11 and pip.

    python3 run.py build   # set up .venv, build the sample package, verify it
    python3 run.py test    # set up .venv and OS packages, lint (ruff), run the whole test suite
    python3 run.py ui      # set up .venv, start `dagster dev` on the project's instance

Set-up creates .venv/ and installs the exact versions in requirements.lock plus this project
(editable); it is skipped when the lock file and pyproject.toml have not changed since.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".setup-stamp"


def _run(*cmd: str | os.PathLike[str], env: dict[str, str] | None = None) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)


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
    (pyproject's addopts); a `-m` among `args` comes later and wins."""
    return ["-m", "pytest", "-m", "", *args]


def test(args: list[str]) -> int:
    os_packages()
    for cmd in (("check", "."), ("format", "--check", ".")):
        code = _run(BIN / "ruff", *cmd)
        if code != 0:
            return code
    code = _run(BIN / "python", *pytest_args(args), env=env())
    if code == 5:
        print("pytest collected no tests: failing on purpose", file=sys.stderr)
        return 1
    return code


def ui(args: list[str]) -> int:
    return _run(BIN / "dagster", "dev", "-w", ROOT / "workspace.yaml", *args, env=env())


def main() -> int:
    tasks = {"build": build, "test": test, "ui": ui}
    if len(sys.argv) < 2 or sys.argv[1] not in tasks:
        print(__doc__)
        return 2
    setup()
    return tasks[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
