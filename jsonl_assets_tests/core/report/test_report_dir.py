"""The report dir, `<output.dir>-report/`, is guarded like the package, work and quarantine
dirs (core/config/output_dirs.py `guarded_dirs`) and holds only our files.

Before: a source glob could read it (`*-report/*`: the package's own card and report were
published as training records, and rebuilds never settled); an existing file of that name
let the build publish metadata.json, fail on report.stamp and say "metadata.json was not
published"; a user's own report.html and DATACARD.md there (no report.stamp) were replaced.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from jsonl_assets.core.build import publish
from jsonl_assets.core.config import ConfigError, load_config
from jsonl_assets_tests.conftest import build_with_core, write_config

CLI = Path(sys.executable).parent / "jsonl-assets"
REPORT_KEY = "output.dir's report dir"


def _project(root: Path, *globs: str, **output: Any) -> Path:
    raw = root / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    lines = "".join(f'{{"id": "n{i}", "text": "note number {i}"}}\n' for i in range(12))
    (raw / "notes.jsonl").write_text(lines, encoding="utf-8")
    sources = [
        {"name": "notes", "paths": ["raw/*.jsonl"], "objective": "cpt", "adapter": "text",
         "split": "train", "id_field": "id"},
    ] + [
        {"name": f"more{i}", "paths": [g], "objective": "cpt", "adapter": "text",
         "split": "train", "format": "text", "read_options": {"mode": "document"}}
        for i, g in enumerate(globs)
    ]  # fmt: skip
    return write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "d"},
            "output": {"max_records_per_shard": 10, **output},
            "sources": sources,
        },
    )


def _refused(config: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(config)
    return info.value


def test_a_glob_reaching_the_report_dir_is_refused_at_load_time(tmp_path: Path) -> None:
    (tmp_path / "package-report").mkdir()
    (tmp_path / "package-report" / "DATACARD.md").write_text("# Dataset card: t\n")
    error = _refused(_project(tmp_path, "*-report/*"))
    assert error.key == REPORT_KEY and "sources[1].paths[0]" in error.message, error
    # Through a symlink into it, too (the report dir is compared resolved).
    (tmp_path / "more").mkdir()
    os.symlink("../package-report/DATACARD.md", tmp_path / "more" / "card.md")
    error = _refused(_project(tmp_path / "x", "../more/*.md", dir="../package"))
    assert "inside" in error.message and REPORT_KEY in error.message, error


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ({"work_dir": "package-report"}, "is the same folder as " + REPORT_KEY),
        ({"quarantine_dir": "package-report/q"}, "lies inside " + REPORT_KEY),
        ({"dir": "raw/../out", "work_dir": "out-report/w"}, "lies inside " + REPORT_KEY),
    ],
)
def test_the_report_dir_may_not_overlap_the_other_dirs(
    tmp_path: Path, output: dict[str, str], words: str
) -> None:
    error = _refused(_project(tmp_path, **output))
    assert words in error.message, error


def test_a_file_named_like_the_report_dir_is_refused_at_load_time(tmp_path: Path) -> None:
    (tmp_path / "package-report").write_text("user notes\n")
    error = _refused(_project(tmp_path))
    assert error.key == REPORT_KEY and "is not a folder" in error.message, error
    assert (tmp_path / "package-report").read_text() == "user notes\n"


def test_foreign_files_in_the_report_dir_are_kept_and_the_package_stays_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "1")  # the suite writes no report otherwise
    config = _project(tmp_path)
    report = tmp_path / "package-report"
    report.mkdir()
    (report / "report.html").write_text("<html>my own report</html>")
    (report / "DATACARD.md").write_text("# my own card\n")
    cfg = load_config(config)
    build_with_core(config)  # publishes: the report's refusal does not undo it
    result = publish(cfg)
    assert result.manifest is not None and result.manifest.published
    assert result.report is None and result.report_problem is not None
    assert "DATACARD.md, report.html" in result.report_problem, result.report_problem
    assert "report.stamp" in result.report_problem
    assert (report / "report.html").read_text() == "<html>my own report</html>"
    assert (report / "DATACARD.md").read_text() == "# my own card\n"
    assert sorted(p.name for p in report.iterdir()) == ["DATACARD.md", "report.html"]
    # The CLI says what happened: published, the report not written and why (exit 1).
    home = tmp_path / "dagster_home"
    home.mkdir()
    run = subprocess.run(
        [str(CLI), "build", "--config", str(config), "--workers", "1", "--force"],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "published " in run.stdout and "was not published" not in run.stderr, run.stderr
    assert "report: not written:" in run.stderr and "report.html" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert (report / "report.html").read_text() == "<html>my own report</html>"
    # `jsonl-assets report` refuses the same way; once the files are moved it writes.
    run = subprocess.run(
        [str(CLI), "report", "--config", str(config)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 1 and "did not write" in run.stderr, run.stdout + run.stderr
    for name in ("report.html", "DATACARD.md"):
        (report / name).rename(tmp_path / name)
    assert publish(cfg).report is not None
    assert (report / "report.stamp").is_file()
    assert publish(cfg).report_problem is None  # our own report, stamped: kept or redrawn


@pytest.mark.parametrize("name", ["DATACARD.md", "report.html"])
def test_a_users_own_file_under_our_stamp_is_kept_and_the_report_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Under our report.stamp, a report.html or DATACARD.md is ours only if it is of the
    report's own shape, the rule the removal already followed. Before: a hand-written card
    put in place of ours was replaced by the next build's report (exit 0, no word), while a
    build without a report kept it as not ours."""
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "1")
    config = _project(tmp_path)
    build_with_core(config)
    report = tmp_path / "package-report"
    assert sorted(p.name for p in report.iterdir()) == [
        "DATACARD.md",
        "report.html",
        "report.stamp",
    ]
    own = b"# Our curated card\n\nHand-written; do not lose.\n"
    (report / name).write_bytes(own)
    cfg = load_config(config)
    # The same package again: the user's file is not kept as the report's current one.
    result = publish(cfg)
    assert result.manifest is not None and result.manifest.published
    assert result.report is None and result.report_problem is not None
    assert f"did not write ({name}; not of the report's own shape)" in result.report_problem
    assert "was removed" not in result.report_problem  # its stamp names this package
    assert (report / name).read_bytes() == own
    assert len(list(report.iterdir())) == 3
    # A new package (another description): ours of the earlier one go, the user's stays.
    doc = yaml.safe_load(config.read_text())
    doc["dataset"]["description"] = "another description"
    write_config(config, doc)
    cfg = load_config(config)
    result = publish(cfg)
    assert result.manifest is not None and result.manifest.published
    assert result.report is None and result.report_problem is not None
    assert f"({name}; not of the report's own shape)" in result.report_problem
    assert "our report of an earlier package there was removed" in result.report_problem
    assert [p.name for p in report.iterdir()] == [name]
    assert (report / name).read_bytes() == own
    # `jsonl-assets report` refuses the same way, naming the file it did not write.
    run = subprocess.run(
        [str(CLI), "report", "--config", str(config)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 1 and f"did not write ({name}" in run.stderr, run.stdout + run.stderr
    assert (report / name).read_bytes() == own
