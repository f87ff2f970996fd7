"""A build without a report ($JSONL_ASSETS_REPORT=0) never leaves an earlier package's
report.html and DATACARD.md beside the package it published: a report whose stamp names
another metadata.json is removed (only files of the report's own shape), one that names the
published metadata.json is kept, and the CLI says which."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from jsonl_assets.core.config import load_config
from jsonl_assets.core.report import DATACARD, REPORT_HTML, report_dir
from jsonl_assets.core.report.package_report import STAMP, no_report_note, report_files
from jsonl_assets_tests.conftest import build_with_core, write_config


def _package(root: Path, records: int) -> Path:
    (root / "raw").mkdir(exist_ok=True)
    lines = [
        orjson.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                   {"role": "assistant", "content": f"a{i}"}]})
        for i in range(records)
    ]  # fmt: skip
    (root / "raw" / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": "stale", "description": "stale card"},
            "output": {"dir": "package"},
            "sources": [{"name": "a", "paths": ["raw/a.jsonl"], "objective": "sft",
                         "adapter": "chat", "split": "train"}],
        },
    )  # fmt: skip


def test_a_build_without_a_report_removes_the_earlier_packages_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "1")
    config = _package(tmp_path, 40)
    build_with_core(config)
    cfg = load_config(config)
    assert report_files(cfg) == [REPORT_HTML, DATACARD, STAMP]
    # The same package built again without a report: its report is kept.
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "0")
    build_with_core(config)
    assert report_files(cfg) == [REPORT_HTML, DATACARD, STAMP]
    assert "is kept (its stamp names this metadata.json)" in no_report_note(cfg, report_files(cfg))
    # A new package without a report: the card of 40 records goes.
    before = report_files(cfg)
    _package(tmp_path, 100)
    build_with_core(config)
    assert report_files(cfg) == []
    out = no_report_note(cfg, before)
    assert "report: not written ($JSONL_ASSETS_REPORT=0); the report of the earlier package" in out
    assert "`jsonl-assets report --config" in out


def test_files_not_of_the_reports_shape_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "0")
    config = _package(tmp_path, 10)
    cfg = load_config(config)
    folder = report_dir(cfg)
    folder.mkdir(parents=True)
    (folder / DATACARD).write_text("# Our own notes\n")
    (folder / REPORT_HTML).write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Data report: x'
    )
    build_with_core(config)
    # No stamp: the report's own html goes, the foreign card stays.
    assert report_files(cfg) == [DATACARD]
    (folder / STAMP).write_text("not a stamp\n")
    (folder / REPORT_HTML).write_text('<!DOCTYPE html>\n<html lang="en"><head><meta charset=')
    _package(tmp_path, 11)
    build_with_core(config)
    assert report_files(cfg) == [REPORT_HTML, DATACARD, STAMP]  # a stamp not ours: untouched
