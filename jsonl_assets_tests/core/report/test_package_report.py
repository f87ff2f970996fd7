"""The sample build (`jsonl-assets build`, through Dagster) writes report.html and DATACARD.md
beside the package: the package still verifies clean, the figures match its shards, the
manifest's materialisation carries the report, `jsonl-assets report` rewrites the same files,
and a build of the same sources elsewhere writes byte-identical report files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from jsonl_assets.core.config import load_config
from jsonl_assets.core.report import DATACARD, REPORT_HTML, report_dir
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets_tests.conftest import SAMPLE_DATA, build_with_core
from jsonl_assets_tests.core.report.independent import (
    cell_figures,
    embedded_data,
    published_records,
)


def _sample(root: Path) -> Path:
    shutil.copytree(SAMPLE_DATA / "raw", root / "data" / "raw")
    shutil.copyfile(SAMPLE_DATA / "pipeline.yaml", root / "data" / "pipeline.yaml")
    return root / "data" / "pipeline.yaml"


@pytest.mark.slow
def test_the_sample_build_writes_a_deterministic_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _sample(tmp_path / "cli")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "JSONL_ASSETS_REPORT": "1"}
    env.pop("JSONL_ASSETS_CONFIG", None)
    cli = Path(sys.executable).parent / "jsonl-assets"
    done = subprocess.run(
        [str(cli), "build", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    cfg = load_config(config)
    folder = report_dir(cfg)
    assert folder == cfg.output.dir.parent / "package-report"
    report = verify_package(cfg.output.dir)
    assert report.error_count == 0 and report.warning_count == 0
    data = embedded_data((folder / REPORT_HTML).read_bytes())
    cells = {(c["objective"], c["split"]): c for c in data["cells"]}
    for (objective, split), records in published_records(cfg.output.dir).items():
        mine = cell_figures(objective, records)
        assert cells[(objective, split)]["records"] == mine["records"] == len(records)
        assert cells[(objective, split)]["sources"] == mine["sources"]
    assert data["totals"]["records"] == 950
    # The manifest's materialisation shows the report.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("manifest"))
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    assert metadata["report_html"].value == str(folder / REPORT_HTML)
    assert "data:image/svg+xml;base64," in metadata["report_mixture"].value
    assert "| sft/train | support_chats | 245 |" in metadata["report_mixture"].value
    # `jsonl-assets report` writes them again, the same, whatever matplotlibrc files the
    # environment holds (the working dir's and the user's).
    written = {name: (folder / name).read_bytes() for name in (REPORT_HTML, DATACARD)}
    shutil.rmtree(folder)
    styled = tmp_path / "styled"
    (styled / "xdg" / "matplotlib").mkdir(parents=True)
    (styled / "matplotlibrc").write_text("font.size: 20\naxes.grid: False\nsvg.hashsalt: x\n")
    (styled / "xdg" / "matplotlib" / "matplotlibrc").write_text("lines.linewidth: 7\n")
    again = subprocess.run(
        [str(cli), "report", "--config", str(config)],
        capture_output=True,
        text=True,
        env={**env, "XDG_CONFIG_HOME": str(styled / "xdg")},
        cwd=styled,
    )
    assert again.returncode == 0, again.stderr
    assert {name: (folder / name).read_bytes() for name in written} == written
    # The same sources built elsewhere, through the core's build path: the same bytes.
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "1")
    other = load_config(_sample(tmp_path / "core"))
    build_with_core(other.path)
    for name in (REPORT_HTML, DATACARD):
        assert (report_dir(other) / name).read_bytes() == (folder / name).read_bytes(), name
