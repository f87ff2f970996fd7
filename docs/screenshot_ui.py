#!/usr/bin/env python3
"""Take the Dagster UI screenshots in docs/ with headless Chromium driven by playwright.

    .venv/bin/python docs/screenshot_ui.py [--out-dir docs]

Builds a copy of the sample in a temporary folder (screenshot_lineage.prepare: one observation
of the sources, then `jsonl-assets build`), empties one source file and builds its partition
again (so one partition shows the empty_partition warning), starts dagster-webserver on a free
loopback port and writes:
  ui_lineage.png          the asset lineage, each node with its partitions and checks;
  ui_check_partitions.png the checks of `shards`, a status per partition;
  ui_partition.png        one partition of `shards`: row count, sizes and durations with units.
Debian's `chromium` is used (never `playwright install`); the webserver and the browser are
stopped, and the temporary folder removed, whatever happens.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Page, sync_playwright
from screenshot_lineage import (
    CHROMIUM_FLAGS,
    REPO,
    free_port,
    prepare,
    stop,
    wait_until_loaded,
)

CHROMIUM = "/usr/bin/chromium"
WEBSERVER = [sys.executable, "-m", "dagster_webserver"]
WORKSPACE = REPO / "workspace.yaml"
EMPTIED = ("rft", "seedlings_test.jsonl", "rft|test")  # objective dir, file, its partition
# File, page, and the tab to open on it (the check's own Partitions tab: a status per partition).
SHOTS = {
    "ui_lineage.png": ("/locations/jsonl_assets/asset-groups/llm_training_data", None),
    "ui_check_partitions.png": ("/assets/shards?view=checks", "Partitions"),
    "ui_partition.png": ("/assets/shards?view=partitions&partition=" + quote("sft|train"), None),
}
SETTLE_MS = 6000  # the UI fetches in stages after the network goes quiet


def empty_one_partition(work: Path, env: dict[str, str]) -> None:
    objective, name, key = EMPTIED
    (work / "data" / "raw" / objective / name).write_bytes(b"")
    subprocess.run(
        [sys.executable, "-m", "jsonl_assets.cli", "build", "--partition", key],
        env=env,
        cwd=work,
        check=True,
    )


def shoot(page: Page, url: str, tab: str | None, out: Path) -> None:
    page.goto(url, wait_until="networkidle", timeout=90_000)
    page.wait_for_timeout(SETTLE_MS)
    if tab is not None:  # the last tab of that name: the check's, not the asset's
        page.get_by_text(tab, exact=True).last.click()
        page.wait_for_timeout(SETTLE_MS)
    page.screenshot(path=str(out), full_page=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jsonl-assets-shots-") as tmp:
        work = Path(tmp)
        _home, _config, env = prepare(work)
        empty_one_partition(work, env)
        port = free_port()
        with open(work / "webserver.log", "wb") as log:
            server = subprocess.Popen(
                [*WEBSERVER, "-h", "127.0.0.1", "-p", str(port), "-w", str(WORKSPACE)],
                env=env,
                cwd=work,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until_loaded(port, server)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                try:
                    page = browser.new_page(viewport={"width": 1800, "height": 1000})
                    for name, (path, tab) in SHOTS.items():
                        url = f"http://127.0.0.1:{port}{path}"
                        shoot(page, url, tab, args.out_dir / name)
                        print(f"wrote {args.out_dir / name}")
                finally:
                    browser.close()
        finally:
            stop(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
