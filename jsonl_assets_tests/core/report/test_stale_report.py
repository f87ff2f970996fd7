"""A build without a report ($JSONL_ASSETS_REPORT=0) never leaves an earlier package's
report.html and DATACARD.md beside the package it published: a report whose stamp names
another metadata.json, or whose write was cut short, is removed (only files of the report's
own shape), one that names the published metadata.json is kept, files without a stamp are
not ours and are kept, and the CLI says which."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from jsonl_assets.core.build import Publication, build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.report import DATACARD, REPORT_HTML, report_dir
from jsonl_assets.core.report.package_report import (
    STAMP,
    WRITING,
    current_report,
    no_report_note,
    report_files,
    report_stamp,
    stamped_for,
)
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets_tests.conftest import build_with_core

from .conftest import chat_config


def test_a_build_without_a_report_removes_the_earlier_packages_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "1")
    config = chat_config(tmp_path, 40)
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
    chat_config(tmp_path, 100)
    build_with_core(config)
    assert report_files(cfg) == []
    out = no_report_note(cfg, before)
    assert "report: not written ($JSONL_ASSETS_REPORT=0); the report of the earlier package" in out
    assert "`jsonl-assets report --config" in out


def test_files_not_of_the_reports_shape_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "0")
    config = chat_config(tmp_path, 10)
    cfg = load_config(config)
    folder = report_dir(cfg)
    folder.mkdir(parents=True)
    (folder / DATACARD).write_text("# Our own notes\n")
    (folder / REPORT_HTML).write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Data report: x'
    )
    build_with_core(config)
    # No stamp: not ours (our report is always written under its stamp), all of it stays.
    assert report_files(cfg) == [REPORT_HTML, DATACARD]
    (folder / STAMP).write_text("not a stamp\n")
    (folder / REPORT_HTML).write_text('<!DOCTYPE html>\n<html lang="en"><head><meta charset=')
    chat_config(tmp_path, 11)
    build_with_core(config)
    assert report_files(cfg) == [REPORT_HTML, DATACARD, STAMP]  # a stamp not ours: untouched


def test_a_hand_written_card_without_a_stamp_is_kept_on_a_first_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "0")
    config = chat_config(tmp_path, 3)
    cfg = load_config(config)
    folder = report_dir(cfg)
    folder.mkdir(parents=True)
    card = b"# Dataset card: garden helpdesk (hand-written)\n\nreviewed by legal; keep\n"
    (folder / DATACARD).write_bytes(card)  # of the report's shape, but no stamp: not ours
    before = report_files(cfg)
    build_with_core(config)
    assert (folder / DATACARD).read_bytes() == card
    out = no_report_note(cfg, before)
    assert "was removed" not in out and "is kept (not the report's files)" in out


def test_a_report_write_cut_short_is_marked_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write killed after the report's files were replaced but before the stamp was
    completed leaves the stamp marked `writing`: not kept as current, and removed with the
    files by a build without a report, even when it names the published metadata.json."""
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "1")
    config = chat_config(tmp_path, 5)
    build_with_core(config)
    cfg = load_config(config)
    stamp = report_dir(cfg) / STAMP
    assert stamp.read_bytes() == report_stamp(cfg)
    stamp.write_bytes(WRITING + report_stamp(cfg))  # as write_report leaves it when killed
    assert current_report(cfg) is None and not stamped_for(cfg)
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "0")
    build_with_core(config)
    assert report_files(cfg) == []


def _publish(config: Path) -> Publication:
    cfg = load_config(config)
    for objective in OBJECTIVES:
        for split in SPLITS:
            build_partition(cfg, f"{objective}|{split}")
    return publish(cfg)


def test_a_report_that_fails_removes_the_earlier_packages_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report of a new package fails once begun (DATACARD.md cannot be replaced: a
    folder holds its temporary name): the earlier package's report.html, DATACARD.md and
    stamp are removed, not left beside the new package, and the build's message says so. (A
    folder named DATACARD.md itself is not ours: the report is refused before it begins,
    test_report_dir.py.)"""
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "1")
    config = chat_config(tmp_path, 4)
    build_with_core(config)
    cfg = load_config(config)
    folder = report_dir(cfg)
    (folder / f".{DATACARD}.partial").mkdir()  # the card's write fails after report.html's
    (folder / f".{DATACARD}.partial" / "x").write_text("x")
    chat_config(tmp_path, 9)
    result = _publish(config)
    assert result.manifest is not None and result.manifest.published
    assert result.report is None and result.report_problem is not None
    assert "was removed rather than left beside this package" in result.report_problem
    assert not (folder / REPORT_HTML).exists() and not (folder / STAMP).exists()
    assert report_files(cfg) == []


@pytest.mark.parametrize("report", ["0", "1"])
def test_a_stamp_that_is_not_a_regular_file_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, report: str
) -> None:
    """A FIFO named report.stamp is not opened for reading (it would block, holding the
    package lock) and a huge one is not read whole: neither is ours, the folder is left
    alone, and the build says why."""
    monkeypatch.setenv("JSONL_ASSETS_REPORT", report)
    config = chat_config(tmp_path, 3)
    cfg = load_config(config)
    folder = report_dir(cfg)
    folder.mkdir(parents=True)
    os.mkfifo(folder / STAMP)
    result = _publish(config)  # a FIFO opened for reading would block here for ever
    assert result.manifest is not None and result.manifest.published
    if report == "1":
        assert "holds files this project did not write (report.stamp" in str(result.report_problem)
    else:
        assert result.report_problem is None
        assert "is kept (not the report's files)" in no_report_note(cfg, report_files(cfg))
    assert stat.S_ISFIFO((folder / STAMP).lstat().st_mode)
    (folder / STAMP).unlink()
    with (folder / STAMP).open("wb") as big:  # sparse: 1 GiB on no disk
        big.write(report_stamp(cfg))
        big.truncate(1 << 30)
    result = _publish(config)
    assert result.report is None if report == "1" else result.report_problem is None
    assert (folder / STAMP).stat().st_size == 1 << 30


@pytest.mark.parametrize(
    ("stamp", "html", "removed", "left"),
    [
        # the earlier package's report, beside a card the user wrote over ours
        (b"5 " + b"a" * 64 + b" " + b"b" * 64 + b"\n", True, "report.html, report.stamp", "DATACARD.md"),
        # a report write killed midway, beside a report.html and card of the user's
        (WRITING + b"5 " + b"a" * 64 + b" " + b"b" * 64 + b"\n", False, "report.stamp",
         "report.html, DATACARD.md"),
    ],
)  # fmt: skip
def test_the_note_says_what_was_removed_and_what_is_left(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stamp: bytes,
    html: bool,
    removed: str,
    left: str,
) -> None:
    """Before: once any file was left, the note said `<folder> is kept`, though the build had
    removed the earlier package's report.html and report.stamp beside it."""
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "0")
    config = chat_config(tmp_path, 6)
    cfg = load_config(config)
    folder = report_dir(cfg)
    folder.mkdir(parents=True)
    (folder / STAMP).write_bytes(stamp)
    (folder / DATACARD).write_text("# Our own hand-written card\n")
    head = '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Data report: '
    (folder / REPORT_HTML).write_text(head + "x" if html else "<p>our own page</p>\n")
    before = report_files(cfg)
    build_with_core(config)
    note = no_report_note(cfg, before)
    assert report_files(cfg) == [n for n in (REPORT_HTML, DATACARD) if n in left]
    assert "is kept" not in note
    assert f"the report of the earlier package ({removed}) was removed" in note
    assert f"{left} in {folder} left as " in note and note.endswith("(not the report's files)")
