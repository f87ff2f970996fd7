"""The report's data reads its example traces from the quarantine published with the package:
without it the report fails, naming the quarantine dir, instead of drawing another report of
the same package (no traces) and stamping it, which later builds then kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from jsonl_assets.core.config import load_config
from jsonl_assets.core.quarantine_snapshot import QuarantineMissing
from jsonl_assets.core.report import report_dir, write_report
from jsonl_assets.core.report.package_report import ReportNotWritten, report_files
from jsonl_assets.core.report.report_data import compute_report
from jsonl_assets.core.store.package_files import OtherDatasetError
from jsonl_assets_tests.conftest import build_with_core, write_config

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


def _reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, bytes]]:
    """A built package with one quarantined record and its report (the build's)."""
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "1")
    config = chat_config(tmp_path, 60)
    with (tmp_path / "raw" / "a.jsonl").open("ab") as f:
        f.write(b"{bad\n")
    build_with_core(config)
    cfg = load_config(config)
    files = {n: (report_dir(cfg) / n).read_bytes() for n in report_files(cfg)}
    assert sorted(files) == ["DATACARD.md", "report.html", "report.stamp"]
    return config, files


def test_a_report_that_cannot_be_computed_keeps_this_packages_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The package's quarantine away for a moment, or a shard that is not metadata.json's:
    the report fails before anything is written, and the package's current report stays
    as it is (before: the `writing` stamp came first and the failure removed it)."""
    config, files = _reported(tmp_path, monkeypatch)
    cfg = load_config(config)
    shutil.move(cfg.output.quarantine_dir, tmp_path / "away")
    with pytest.raises(ReportNotWritten, match=r"report of this package .* left as it is"):
        write_report(cfg)
    assert {n: (report_dir(cfg) / n).read_bytes() for n in report_files(cfg)} == files
    shutil.move(tmp_path / "away", cfg.output.quarantine_dir)
    shard = next((cfg.output.dir / "data").rglob("*.jsonl*"))
    shard.write_bytes(shard.read_bytes() + b"\n")
    with pytest.raises(ReportNotWritten, match=r"report of this package .* left as it is"):
        write_report(cfg)
    assert {n: (report_dir(cfg) / n).read_bytes() for n in report_files(cfg)} == files


def test_a_report_with_another_datasets_config_touches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`jsonl-assets report` with the config of another dataset writing to the same
    output.dir is refused as the build refuses it (`check_dataset`), before anything is read
    or removed (before: its missing quarantine failed the report, which removed the
    package's report; with the same quarantine dir it wrote the report under its config)."""
    config, files = _reported(tmp_path, monkeypatch)
    other = yaml.safe_load(config.read_text())
    other["dataset"]["name"] = "other"
    other["output"].update(work_dir="work_b", quarantine_dir="quarantine_b")
    cfg = load_config(write_config(tmp_path / "other.yaml", other))
    with pytest.raises(OtherDatasetError, match="holds the package of another dataset"):
        write_report(cfg)
    assert {n: (report_dir(cfg) / n).read_bytes() for n in report_files(cfg)} == files
    other["output"].pop("quarantine_dir")  # the same quarantine: refused all the same
    cfg = load_config(write_config(tmp_path / "other.yaml", other))
    with pytest.raises(OtherDatasetError):
        write_report(cfg)
    assert {n: (report_dir(cfg) / n).read_bytes() for n in report_files(cfg)} == files


@pytest.mark.parametrize(
    ("total", "count", "shown"), [(4, 3, "1.33"), (26, 6, "4.33"), (7, 6, "1.17"), (5, 2, "2.50")]
)
def test_a_length_mean_is_shown_to_the_decimals_it_has(total: int, count: int, shown: str) -> None:
    """The tables print a mean with two decimals: it was rounded to one first (4/3: 1.30)."""
    from jsonl_assets.core.report.html_report import table
    from jsonl_assets.core.report.report_data import mean

    value = mean({"sum": total, "count": count})
    assert f'<td class="n">{shown}</td>' in table(["mean"], [[value]])
