"""A path a source glob matches that is not a regular file (a FIFO, a symlink to a device, a
dangling symlink to an unmounted volume) is never opened and never skipped silently: it is a
file lost whole, quarantined `not_a_file` with what it is, an unread file in the
parse-failure rate; when it becomes a file (the volume mounted) the partition is rebuilt and
its records are read. A folder a glob matches is not data and stays out."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest
import yaml

from jsonl_assets.core.build import build_partition
from jsonl_assets.core.config import load_config
from jsonl_assets.core.config.source_globs import VIRTUAL, expand_glob, match_glob
from jsonl_assets_tests.conftest import write_config

NOTE = {"messages": [{"role": "document", "content": "Mulch keeps the roots cool. (v2)"}]}


def _quarantined(config: Path) -> dict[str, tuple[str, str]]:
    path = config.parent / "work" / "cpt" / "train" / "quarantine" / "extracted.jsonl"
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return {r["trace"]["file"]: (r["reason"], r["detail"]) for r in rows}


def test_paths_that_are_not_files_are_quarantined_whole_then_read_once_files(
    sample_project: Path,
) -> None:
    cpt = sample_project.parent / "raw" / "cpt"
    volume = sample_project.parent.parent / "volume"  # not mounted yet: not there
    os.mkfifo(cpt / "pipe.jsonl")  # opened, it would block the build
    (cpt / "zero.jsonl").symlink_to("/dev/zero")  # read, it would never end
    (cpt / "notes_2.jsonl").symlink_to(volume / "notes_2.jsonl")
    (cpt / "loop.jsonl").symlink_to("loop.jsonl")
    (cpt / "folder.jsonl").mkdir()
    raw = yaml.safe_load(sample_project.read_text(encoding="utf-8"))
    raw["thresholds"]["max_parse_failure_rate"] = 1.0  # the good records are still built
    write_config(sample_project, raw)

    files, others = match_glob(str(cpt / "*.jsonl"))
    assert files == expand_glob(str(cpt / "*.jsonl")) == [str(cpt / "garden_notes.jsonl")]
    assert others == {
        str(cpt / "loop.jsonl"): "symlink loop",
        str(cpt / "notes_2.jsonl"): f"dangling symlink to {volume / 'notes_2.jsonl'}",
        str(cpt / "pipe.jsonl"): "not a regular file: FIFO",
        str(cpt / "zero.jsonl"): "not a regular file: character device",
    }

    result = build_partition(load_config(sample_project), "cpt|train")
    assert result.shards is not None, result.evaluations
    lost = {
        "raw/cpt/loop.jsonl": ("not_a_file", "symlink loop"),
        "raw/cpt/notes_2.jsonl": ("not_a_file", f"dangling symlink to {volume}/notes_2.jsonl"),
        "raw/cpt/pipe.jsonl": ("not_a_file", "not a regular file: FIFO"),
        "raw/cpt/zero.jsonl": ("not_a_file", "not a regular file: character device"),
    }
    assert _quarantined(sample_project) == lost
    extracted = result.stages[0]
    assert extracted.per_source["garden_notes"]["unread_files"] == 4, extracted.per_source
    read_before = extracted.records_out

    volume.mkdir()  # the volume is mounted: the link leads to a file
    (volume / "notes_2.jsonl").write_bytes(orjson.dumps(NOTE) + b"\n")
    again = build_partition(load_config(sample_project), "cpt|train")
    assert not again.stages[0].reused
    assert again.stages[0].records_out == read_before + 1
    del lost["raw/cpt/notes_2.jsonl"]
    assert _quarantined(sample_project) == lost


def test_a_dangling_symlink_to_a_name_not_utf8_is_quarantined_not_a_crash(
    sample_project: Path,
) -> None:
    """A link to `/mnt/not-mounted/caf<0xE9>.jsonl` (a Latin-1 name on a volume not mounted):
    its target reached the partition's fingerprint as a lone surrogate, and every build (and
    the sensor's every tick) stopped on a traceback ("str is not valid UTF-8") before any
    stage ran. The target is shown as a name is (`\\xNN`), and the link is the one file lost."""
    from jsonl_assets.core.source_fingerprints import take_snapshot

    cpt = sample_project.parent / "raw" / "cpt"
    os.symlink(b"/mnt/not-mounted/caf\xe9.jsonl", os.fsencode(cpt / "gone.jsonl"))
    raw = yaml.safe_load(sample_project.read_text(encoding="utf-8"))
    raw["thresholds"]["max_parse_failure_rate"] = 1.0
    write_config(sample_project, raw)
    why = "dangling symlink to /mnt/not-mounted/caf\\xe9.jsonl"
    assert match_glob(str(cpt / "*.jsonl"))[1] == {str(cpt / "gone.jsonl"): why}

    cfg = load_config(sample_project)
    assert take_snapshot(cfg).partition_versions()  # JSON through and through
    result = build_partition(cfg, "cpt|train")
    assert result.shards is not None, result.evaluations
    assert _quarantined(sample_project) == {"raw/cpt/gone.jsonl": ("not_a_file", why)}


PROC_FILE = Path("/proc/self/status")


@pytest.mark.skipif(not PROC_FILE.is_file(), reason="no /proc")
def test_a_size_0_file_that_holds_data_is_quarantined_not_read_as_empty(
    sample_project: Path,
) -> None:
    """A /proc (or /sys, some FUSE) file stats as a regular file of size 0 but yields lines
    when read: it was read as empty (0 records, nothing quarantined, no unread file), its
    lines lost silently. It is now `not_a_file` (`VIRTUAL`); an empty file is still a file."""
    assert PROC_FILE.stat().st_size == 0 and PROC_FILE.read_bytes()
    empty = sample_project.parent / "raw" / "cpt" / "empty.jsonl"
    empty.write_bytes(b"")
    assert match_glob(str(PROC_FILE)) == ([], {str(PROC_FILE): VIRTUAL})
    assert match_glob(str(empty)) == ([str(empty)], {})
    raw = yaml.safe_load(sample_project.read_text(encoding="utf-8"))
    raw["thresholds"]["max_parse_failure_rate"] = 1.0
    raw["sources"].append(
        {"name": "procfile", "paths": [str(PROC_FILE)], "objective": "cpt",
         "adapter": "native", "split": "train", "format": "jsonl"}
    )  # fmt: skip
    write_config(sample_project, raw)
    result = build_partition(load_config(sample_project), "cpt|train")
    assert result.stages[0].per_source["procfile"]["unread_files"] == 1
    reasons = {r for r, _ in _quarantined(sample_project).values()}
    details = {d for _, d in _quarantined(sample_project).values()}
    assert "not_a_file" in reasons and VIRTUAL in details
