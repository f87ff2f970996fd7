"""The one gate of the shards step and of the publication (core/partition_gate.py): a
partition's shards go on only if its record stages follow its last extraction under the
current config and pass the blocking rate checks under the current thresholds. Without Dagster: the core's
build path, as the CLI's runs and the assets call it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from jsonl_assets.core.build import build_partition, build_shards, built_partitions, dirs_for
from jsonl_assets.core.config import load_config
from jsonl_assets.core.partition_gate import GATE_MARKER, ChecksFailed, record_verdict

KEY = "cpt|train"


def _edit(config: Path, **thresholds: float) -> None:
    data = yaml.safe_load(config.read_text())
    data["thresholds"].update(thresholds)
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def _source(config: Path) -> Path:
    return config.parent / "raw" / "cpt" / "garden_notes.jsonl"


def _problems(config: Path) -> list[str]:
    return [p for p in built_partitions(load_config(config))[1] if p.startswith(KEY)]


def test_a_threshold_tightened_after_the_build_stops_the_shards_and_the_publication(
    sample_project: Path,
) -> None:
    source = _source(sample_project)
    with source.open("ab") as handle:  # one duplicate id
        handle.write(source.read_bytes().splitlines(keepends=True)[0])
    built = build_partition(load_config(sample_project), KEY)
    assert built.shards is not None and not _problems(sample_project)
    _edit(sample_project, max_duplicate_id_rate=0.0)
    cfg = load_config(sample_project)
    (problem,) = _problems(sample_project)
    assert problem.startswith(f"{KEY}: blocking check duplicate_id_rate failed: 1 of 158 inputs")
    with pytest.raises(ChecksFailed, match="blocking check duplicate_id_rate failed"):
        build_shards(cfg, dirs_for(cfg, KEY))
    _edit(sample_project, max_duplicate_id_rate=0.02)
    assert not _problems(sample_project)


def test_stages_built_under_another_config_are_not_published(sample_project: Path) -> None:
    """The stages must follow the last extraction under today's config. A source merely
    touched since (same bytes, new time) is no reason to hold the publication back."""
    assert build_partition(load_config(sample_project), KEY).shards is not None
    source = _source(sample_project)
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # same bytes, touched
    assert not _problems(sample_project)
    data = yaml.safe_load(sample_project.read_text())
    notes = next(s for s in data["sources"] if s["name"] == "garden_notes")
    notes["license"] = "CC-BY-4.0"  # the records change: built under the old config
    sample_project.write_text(yaml.safe_dump(data, sort_keys=False))
    (problem,) = _problems(sample_project)
    assert "not all built from its last extraction under the current config" in problem
    cfg = load_config(sample_project)
    with pytest.raises(ChecksFailed, match="under the current config"):
        build_shards(cfg, dirs_for(cfg, KEY))
    assert build_partition(cfg, KEY).shards is not None  # rebuilt: published again
    assert not _problems(sample_project)


def test_stages_extracted_under_other_read_settings_are_not_published(
    sample_project: Path,
) -> None:
    """An extraction-level change (the files a glob matches, `max_record_bytes`) is caught
    too, though the chain's later stages would match: the marker records its settings."""
    assert build_partition(load_config(sample_project), KEY).shards is not None
    data = yaml.safe_load(sample_project.read_text())
    data.setdefault("limits", {})["max_record_bytes"] = 1 << 20
    sample_project.write_text(yaml.safe_dump(data, sort_keys=False))
    (problem,) = _problems(sample_project)
    assert "not all built from its last extraction under the current config" in problem
    assert build_partition(load_config(sample_project), KEY).shards is not None
    assert not _problems(sample_project)


def test_a_parse_check_that_stopped_the_pass_is_decided_again_from_what_it_kept(
    sample_project: Path,
) -> None:
    """The parse check stops the pass after extracted: transformed and validated keep their
    earlier markers, the shards the earlier sources'. The publication names the check, from
    the pass's transformed report (`rate_gate.json`), under the thresholds of its time."""
    assert build_partition(load_config(sample_project), KEY).shards is not None
    with _source(sample_project).open("ab") as handle:
        handle.writelines(b"{not json %d\n" % i for i in range(40))
    stopped = build_partition(load_config(sample_project), KEY)
    assert stopped.shards is None and len(stopped.stages) == 1
    cfg = load_config(sample_project)
    assert (dirs_for(cfg, KEY).work / GATE_MARKER).is_file()
    (problem,) = _problems(sample_project)
    assert problem.startswith(f"{KEY}: blocking check parse_failure_rate failed: 40 of 197")
    # Relaxed: the check passes, but the stages after extracted never committed: still out.
    _edit(sample_project, max_parse_failure_rate=0.5)
    verdict = record_verdict(load_config(sample_project), dirs_for(cfg, KEY))
    assert not verdict.checks_failed
    (problem,) = verdict.problems
    assert "not all built from its last extraction" in problem
