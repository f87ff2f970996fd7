#!/usr/bin/env python3
"""Take docs/report_histograms.png and docs/report_mixture.png: the data report's length
histograms (sft) and source-mixture chart, as headless Chromium renders report.html; with
--dagster also docs/report_dagster.png, the manifest's `report_mixture` metadata as the
Dagster UI shows it.

    .venv/bin/python docs/screenshot_report.py [--out-dir docs] [--dagster]

Re-runnable, and touches nothing of the project but the two PNGs: it copies the sample
(data/pipeline.yaml, data/raw/) into a temporary folder, runs `jsonl-assets build` there
(which writes package-report/report.html), opens that file in Chromium (Debian's
`chromium` package, driven by playwright) with every non-file request refused, and
screenshots two of its sections. Chromium and the temporary folder are removed whatever
happens; the script fails if the page asked for anything over the network.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import screenshot_lineage as lineage  # docs/ is on sys.path: these scripts run as files
from playwright.sync_api import Route, sync_playwright

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SHOTS = {
    "report_histograms.png": "#lengths .chart",  # the first objective's (sft) histograms
    "report_mixture.png": "#mixture .chart",
}
MIN_PNG_BYTES = 20_000  # a blank element is far smaller


def build_sample(folder: Path) -> Path:
    data = folder / "data"
    shutil.copytree(REPO / "data" / "raw", data / "raw")
    shutil.copyfile(REPO / "data" / "pipeline.yaml", data / "pipeline.yaml")
    env = {**os.environ, "JSONL_ASSETS_REPORT": "1", "DAGSTER_HOME": str(folder / "home")}
    (folder / "home").mkdir()
    cli = Path(sys.executable).with_name("jsonl-assets")
    subprocess.run(
        [str(cli), "build", "--config", str(data / "pipeline.yaml")],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return data / "package-report" / "report.html"


def screenshot(report: Path, out_dir: Path) -> None:
    refused: list[str] = []

    def only_files(route: Route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=lineage.CHROMIUM_FLAGS)
        try:
            page = browser.new_page(
                viewport={"width": 1100, "height": 900}, device_scale_factor=1.5
            )
            page.route("**/*", only_files)
            page.goto(report.as_uri())
            for name, selector in SHOTS.items():
                target = out_dir / name
                page.locator(selector).first.screenshot(path=str(target))
                size = target.stat().st_size
                if size < MIN_PNG_BYTES:
                    raise SystemExit(f"{target}: only {size} bytes - blank?")
                print(f"wrote {target} ({size:,} bytes)")
        finally:
            browser.close()
    if refused:
        raise SystemExit(f"report.html asked for the network: {refused}")


def screenshot_dagster(out: Path) -> None:
    """The sample built as screenshot_lineage.py builds it, dagster-webserver on a free
    loopback port, and the manifest asset's `report_mixture` markdown opened."""
    with tempfile.TemporaryDirectory(prefix="report-shot-ui-") as tmp:
        work = Path(tmp)
        _home, _config, env = lineage.prepare(work)
        port = lineage.free_port()
        with open(work / "webserver.log", "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port),
                 "-w", str(REPO / "workspace.yaml")],
                env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            lineage.wait_until_loaded(port, server)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=lineage.CHROMIUM_FLAGS)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.goto(f"http://127.0.0.1:{port}/assets/manifest", wait_until="networkidle")
                    row = page.locator("tr", has_text="report_mixture").first
                    row.get_by_text("Show Markdown").click()
                    page.get_by_role("dialog").locator("img").first.wait_for()
                    page.screenshot(path=str(out))
                finally:
                    browser.close()
        finally:
            lineage.stop(server)
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs")
    parser.add_argument("--dagster", action="store_true", help="also docs/report_dagster.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report-shot-") as tmp:
        screenshot(build_sample(Path(tmp)), args.out_dir)
    if args.dagster:
        screenshot_dagster(args.out_dir / "report_dagster.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
