"""The report's data reads its example traces from the quarantine published with the package:
without it the report fails, naming the quarantine dir, instead of drawing another report of
the same package (no traces) and stamping it, which later builds then kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jsonl_assets.core.config import load_config
from jsonl_assets.core.quarantine_snapshot import QuarantineMissing
from jsonl_assets.core.report import write_report
from jsonl_assets.core.report.package_report import ReportNotWritten, report_files
from jsonl_assets.core.report.report_data import compute_report
from jsonl_assets_tests.conftest import build_with_core

from .conftest import chat_config


def test_a_report_without_the_packages_quarantine_fails_naming_it(
    tiny_package: Path, tmp_path: Path
) -> None:
    root = tmp_path / "data"
    shutil.copytree(tiny_package.parent, root, ignore=shutil.ignore_patterns("*-report"))
    cfg = load_config(root / tiny_package.name)
    assert compute_report(cfg.output.dir, cfg.output.quarantine_dir)["quarantine"]["examples"]
    shutil.move(cfg.output.quarantine_dir, tmp_path / "away")
    with pytest.raises(QuarantineMissing) as caught:
        compute_report(cfg.output.dir, cfg.output.quarantine_dir)
    message = str(caught.value)
    assert f"is not in {cfg.output.quarantine_dir} (no " in message and "\n" not in message
    with pytest.raises(ReportNotWritten, match="example traces"):
        write_report(cfg)
    assert report_files(cfg) == []  # nothing stamped for a later build to keep


def test_a_package_that_quarantined_nothing_needs_no_quarantine(tmp_path: Path) -> None:
    config = chat_config(tmp_path, 5)
    build_with_core(config)
    cfg = load_config(config)
    shutil.rmtree(cfg.output.quarantine_dir, ignore_errors=True)
    data = compute_report(cfg.output.dir, cfg.output.quarantine_dir)
    assert data["quarantine"] == {"by_reason": {}, "examples": {}}
