#!/usr/bin/env python3
"""Take docs/lineage.png: the asset lineage graph, as the Dagster UI shows it after a build.

    .venv/bin/python docs/screenshot_lineage.py [--out docs/lineage.png]

Re-runnable, and touches nothing of the project but the output file: it copies the sample
(data/pipeline.yaml, data/raw/) and the project's dagster.yaml into a temporary folder,
records an observation of the sources (as the raw_sources_changed sensor does), runs
`jsonl-assets build` there, starts dagster-webserver on a free loopback port against that
temporary DAGSTER_HOME, and has headless Chromium (Debian's `chromium` package:
`apt-get install -y chromium`) render the group's lineage page into a PNG. The webserver and
Chromium are stopped, and the temporary folder removed, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCATION = "jsonl_assets"
GROUP = "llm_training_data"
PAGE = f"/locations/{LOCATION}/asset-groups/{GROUP}"
# Wide enough that the graph is drawn at full zoom (node details shown, not just names).
WINDOW = "2400,760"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
READY_SECONDS = 90.0
MIN_PNG_BYTES = 40_000  # a blank page or a spinner is far smaller


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())["data"]


def wait_until_loaded(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("dagster-webserver exited before it was ready")
        try:
            data = graphql(
                port, "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"
            )
            entries = data["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, TypeError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"dagster-webserver not ready after {READY_SECONDS:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


def prepare(work: Path) -> tuple[Path, Path, dict[str, str]]:
    """A copy of the sample and a fresh DAGSTER_HOME; a build, after one observation."""
    project = work / "data"
    shutil.copytree(REPO / "data" / "raw", project / "raw")
    shutil.copyfile(REPO / "data" / "pipeline.yaml", project / "pipeline.yaml")
    home = work / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    config = project / "pipeline.yaml"
    env = {**os.environ, "DAGSTER_HOME": str(home), "JSONL_ASSETS_CONFIG": str(config)}
    observe = (
        "import sys, dagster as dg\n"
        "from jsonl_assets.core.config import load_config\n"
        "from jsonl_assets.defs.observations import record_observations\n"
        "from jsonl_assets.core.source_fingerprints import take_snapshot\n"
        "with dg.DagsterInstance.from_config(sys.argv[1]) as instance:\n"
        "    record_observations(instance, take_snapshot(load_config(sys.argv[2])))\n"
    )
    subprocess.run(
        [sys.executable, "-W", "ignore", "-c", observe, str(home), str(config)],
        env=env,
        check=True,
    )
    subprocess.run(
        [sys.executable, "-m", "jsonl_assets.cli", "build", "--workers", "2"],
        env=env,
        cwd=work,
        check=True,
    )
    return home, config, env


def screenshot(chromium: str, url: str, out: Path, work: Path) -> None:
    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=work))
    tmp_png = work / "lineage.png"
    cmd = [
        chromium,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW}",
        "--virtual-time-budget=20000",
        f"--screenshot={tmp_png}",
        url,
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        proc.wait(timeout=120)
    finally:
        stop(proc)
    if not tmp_png.is_file() or tmp_png.stat().st_size < MIN_PNG_BYTES:
        raise SystemExit(f"chromium wrote no usable screenshot of {url}")
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_png, out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "lineage.png")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    if not Path(args.chromium).exists():
        raise SystemExit("chromium not found: apt-get install -y chromium")
    with tempfile.TemporaryDirectory(prefix="jsonl-assets-shot-") as tmp:
        work = Path(tmp)
        _home, _config, env = prepare(work)
        port = free_port()
        with open(work / "webserver.log", "wb") as log:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dagster_webserver",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-w",
                    str(REPO / "workspace.yaml"),
                ],
                env=env,
                cwd=work,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until_loaded(port, server)
            screenshot(args.chromium, f"http://127.0.0.1:{port}{PAGE}", args.out.resolve(), work)
        finally:
            stop(server)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
