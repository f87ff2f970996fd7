"""The one gate of the shards step and of the publication (core/partition_gate.py): a
partition's shards go on only if its record stages follow its last extraction under the
current config and pass the blocking rate checks under the current thresholds. Without Dagster: the core's
build path, as the CLI's runs and the assets call it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from jsonl_assets.core.build import build_partition, build_shards, built_partitions, dirs_for
from jsonl_assets.core.build_summary import failure_block
from jsonl_assets.core.chunks.runners import process_runner, run_in_process
from jsonl_assets.core.config import load_config
from jsonl_assets.core.partition_gate import GATE_MARKER, ChecksFailed, record_verdict
from jsonl_assets.core.rules.reject_reasons import PARSE_FAILURE_RATE, rate_of

from ..conftest import write_config

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
    """The parse check stops the pass after extracted: transformed and validated do not
    commit (the transformed quarantine does, and the stage's earlier marker goes), the shards
    stay the earlier sources'. The publication names the check, from
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


def _text_project(root: Path, chunk_bytes: int, note: str = "") -> Path:
    """Text files of short paragraphs; with `note` (the source's `metadata`, which the
    extraction does not see) long enough, every record is over `max_record_bytes` as written:
    quarantined `too_large` by the transformed stage, a parse failure."""
    (root / "raw").mkdir(parents=True, exist_ok=True)
    for n in range(6):
        paragraphs = [f"paragraph {n}.{i} " + "word " * 40 for i in range(30)]
        (root / "raw" / f"t{n}.txt").write_text("\n\n".join(paragraphs) + "\n")
    source: dict[str, Any] = {
        "name": "bk",
        "paths": ["raw/*.txt"],
        "objective": "cpt",
        "adapter": "text",
        "split": "train",
        "read_options": {"max_chars": 400},
    }
    if note:
        source["metadata"] = {"note": note}
    return write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": "gated", "description": "a gated pass's quarantine"},
            "output": {"dir": "package", "chunk_bytes": chunk_bytes},
            "limits": {"max_record_bytes": 1024},
            "thresholds": {"max_parse_failure_rate": 0.5},
            "sources": [source],
        },
    )


def _entries(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.mark.parametrize(("chunk_bytes", "workers"), [(256 << 20, 0), (4096, 2)])
def test_every_input_a_failed_parse_check_counts_is_in_the_quarantine_it_names(
    tmp_path: Path, chunk_bytes: int, workers: int
) -> None:
    """A record `too_large` as written (transformed stage) counts toward parse_failure_rate.
    When that check stops the pass, the transformed quarantine is committed all the same: the
    files the failure names exist and hold every rejected input it counted, with reason,
    detail, trace and raw (they were dropped with the uncommitted stage). Whatever the chunks
    and workers. The stage's earlier marker goes: a config changed back runs it again, so its
    quarantine is never the stopped pass's under another pass's marker."""
    runner = process_runner(workers) if workers else run_in_process
    config = _text_project(tmp_path, chunk_bytes)
    assert build_partition(load_config(config), "cpt|train", runner=runner).shards is not None
    _text_project(tmp_path, chunk_bytes, note="n" * 1200)
    cfg = load_config(config)
    stopped = build_partition(cfg, "cpt|train", runner=runner)
    evaluation = stopped.evaluations[PARSE_FAILURE_RATE]
    assert stopped.shards is None and not evaluation.passed
    assert evaluation.overall.reasons == {"too_large": evaluation.overall.failed}
    named = [Path(p) for p in evaluation.quarantine_files]
    assert named and all(p.is_file() for p in named), named
    counted = [
        e
        for p in named
        for e in _entries(p)
        if rate_of(e["reason"], e["stage"]) == PARSE_FAILURE_RATE
    ]
    assert len(counted) == evaluation.overall.failed == 180
    assert all(e["detail"] and e["trace"] and e.get("raw") for e in counted)
    block = failure_block({**evaluation.to_json(), "asset": "extracted"})
    assert "quarantine: " in block and "transformed.jsonl" in block
    # Changed back: the stages run again, and the quarantine is that pass's (none rejected).
    _text_project(tmp_path, chunk_bytes)
    again = build_partition(load_config(config), "cpt|train", runner=runner)
    assert again.shards is not None and not again.stages[1].reused
    assert _entries(dirs_for(cfg, "cpt|train").quarantine / "transformed.jsonl") == []
