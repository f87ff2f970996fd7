"""Stages 1-3: one streaming pass, the only way they run, and its rules.

The pass hands no file on (no `extracted.jsonl`, `transformed.jsonl`): on the hostile corpus
and every input format its build leaves none in the work dir, and its package verifies. A
record naming a toolset that an adapter derives only later is judged against every toolset of
the partition (the pass runs again with them known). A refused gate commits extracted alone;
the next run reuses it, and a run after that reuses all three.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from jsonl_assets.core.adapters.toolsets import (
    toolset_from_declared,
)
from jsonl_assets.core.chunks.chunk_worker import BATCH_RECORDS
from jsonl_assets.core.config import load_config
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.source_fingerprints import FINGERPRINTS_FILE
from jsonl_assets.core.stages.record_stages import run_record_stages
from jsonl_assets.core.store.work_files import PartitionDirs, partition_dirs
from jsonl_assets.core.verify.package import verify_package

from .conftest import build_with_core, write_config
from .test_formats_end_to_end import make_project as make_formats_project
from .test_hostile_input import make_hostile_project

HAND_OFF_FILES = ("extracted.jsonl", "transformed.jsonl", "transformed.files", "validated.rejects")


def _dirs(config: Path) -> list[PartitionDirs]:
    out = load_config(config).output
    return [
        partition_dirs(out.work_dir, out.quarantine_dir, out.dir, o, s)
        for o in OBJECTIVES
        for s in SPLITS
    ]


def _work_dirs(config: dict[str, Any]) -> dict[str, Any]:
    config["output"] = {
        **config.get("output", {}),
        "dir": "package",
        "work_dir": "work",
        "quarantine_dir": "quarantine",
    }
    return config


def _toolset_project(root: Path) -> Path:
    """A native record naming the toolset that a chat record of a later source derives."""
    tools = [{"type": "function", "function": {"name": "water", "parameters": {}}}]
    derived = toolset_from_declared(tools, "tools")
    assert derived is not None
    native = {
        "messages": [
            {"role": "user", "content": "water the fern"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_call", "name": "water", "call_id": "c1", "arguments": {}}
                ],
            },
            {
                "role": "tool",
                "content": [{"type": "tool_result", "name": "water", "call_id": "c1", "result": 1}],
            },
            {"role": "assistant", "content": "done"},
        ],
        "toolset_id": derived["id"],
    }
    chat = {
        "messages": [
            {"role": "user", "content": "water the rose"},
            {"role": "assistant", "content": "on it"},
        ],
        "tools": tools,
    }
    # Enough records after it that the chat record is judged in a later batch of the pass.
    filler = [
        {
            "messages": [
                {"role": "user", "content": f"note {i}"},
                {"role": "assistant", "content": "noted"},
            ]
        }
        for i in range(BATCH_RECORDS + 10)
    ]
    (root / "raw").mkdir(parents=True)
    (root / "raw" / "a_native.jsonl").write_bytes(
        b"".join(orjson.dumps(r) + b"\n" for r in [native, *filler])
    )
    (root / "raw" / "b_chat.jsonl").write_bytes(orjson.dumps(chat) + b"\n")
    sources = [
        {"name": "a_native", "paths": ["raw/a_native.jsonl"], "adapter": "native"},
        {"name": "b_chat", "paths": ["raw/b_chat.jsonl"], "adapter": "chat"},
    ]
    config = {
        "dataset": {"name": "toolsets", "description": "a toolset derived later"},
        "sources": [{**s, "objective": "sft", "split": "train"} for s in sources],
    }
    return write_config(root / "pipeline.yaml", _work_dirs(config))


def _assert_one_path_build(config: Path) -> None:
    package = build_with_core(config)
    work = load_config(config).output.work_dir
    left = [
        p.relative_to(work).as_posix()
        for p in work.rglob("*")
        if p.name in HAND_OFF_FILES and p.parent.name != "quarantine"  # rejects, not hand-offs
    ]
    assert left == [], left
    assert not list(work.rglob("staged")), "staged shards left after adoption"
    assert verify_package(package).error_count == 0


def test_hostile_corpus_builds_without_hand_off_files(tmp_path: Path) -> None:
    config, _ = make_hostile_project(tmp_path / "hostile")
    write_config(config, _work_dirs(yaml.safe_load(config.read_text())))
    _assert_one_path_build(config)


def test_every_format_builds_without_hand_off_files(tmp_path: Path) -> None:
    _assert_one_path_build(make_formats_project(tmp_path / "formats"))


def test_a_toolset_derived_later_is_judged_against_every_toolset(tmp_path: Path) -> None:
    config = _toolset_project(tmp_path / "toolsets")
    cfg = load_config(config)
    dirs = next(d for d in _dirs(config) if d.key == "sft|train")
    reports = run_record_stages(cfg, dirs)
    validated = reports[2]
    # Judged against the toolsets of the whole partition: the native record is valid.
    assert validated.records_out == BATCH_RECORDS + 12, validated.quarantine
    assert validated.quarantined == 0
    assert not dirs.file("transformed.jsonl").exists()
    # The chunk run again with the derived toolsets left no folder of its first run.
    assert [p.name for p in (dirs.work / "chunks").iterdir()] == ["plan.json"]


def test_chunk_folders_of_earlier_builds_are_removed(sample_project: Path) -> None:
    """Folders a killed build left (another fingerprint, or a kill after the merge committed)
    are removed by the next merge, or by the next build that finds every stage up to date."""
    cfg = load_config(sample_project)
    dirs = next(d for d in _dirs(sample_project) if d.key == "sft|train")
    chunks = dirs.work / "chunks"

    def leave_stale() -> None:
        stale = chunks / "00000-0123456789abcdef"
        stale.mkdir(parents=True, exist_ok=True)
        (stale / "lines.jsonl").write_bytes(b'{"id": "stale"}\n')
        (chunks / "ids").mkdir(exist_ok=True)
        (chunks / "ids" / "00").write_bytes(b"x")

    leave_stale()
    run_record_stages(cfg, dirs)
    assert [p.name for p in chunks.iterdir()] == ["plan.json"]
    leave_stale()
    reports = run_record_stages(cfg, dirs)
    assert all(r.reused for r in reports)
    assert [p.name for p in chunks.iterdir()] == ["plan.json"]


def test_a_refused_gate_commits_extracted_and_the_transformed_quarantine_only(
    sample_project: Path,
) -> None:
    """A refused pass commits extracted, and of transformed its quarantine (the inputs the
    parse check counted, `too_large` as written among them), never its marker."""
    cfg = load_config(sample_project)
    dirs = next(d for d in _dirs(sample_project) if d.key == "sft|train")
    reports = run_record_stages(cfg, dirs, gate=lambda extract, transform: False)
    assert [r.stage for r in reports] == ["extracted"]
    left = sorted(p.name for p in dirs.work.iterdir() if not p.name.startswith(".lock"))
    # chunks/: the plan alone; the files' stats and sha256s (source_fingerprints.py)
    assert left == ["chunks", "extracted.json", "quarantine", FINGERPRINTS_FILE]
    assert [p.name for p in (dirs.work / "chunks").iterdir()] == ["plan.json"]
    assert sorted(p.name for p in dirs.quarantine.iterdir()) == [
        "extracted.jsonl",
        "transformed.jsonl",
    ]
    before = (dirs.quarantine / "extracted.jsonl").read_bytes()
    # Once the gate lets it through, extracted is reused (its outputs kept) and the other
    # two are committed by the pass.
    reports = run_record_stages(cfg, dirs)
    assert [(r.stage, r.reused) for r in reports] == [
        ("extracted", True),
        ("transformed", False),
        ("validated", False),
    ]
    assert (dirs.quarantine / "extracted.jsonl").read_bytes() == before
    again = run_record_stages(cfg, dirs)
    assert all(r.reused for r in again)


@pytest.mark.parametrize("lost", ["staged", "validated"])
def test_a_lost_staged_shard_or_marker_runs_the_pass_again(sample_project: Path, lost: str) -> None:
    """Validated vouches for shards the shards stage can adopt: with a staged shard gone, the
    pass runs again (validated not reused) and stages them anew."""
    cfg = load_config(sample_project)
    dirs = next(d for d in _dirs(sample_project) if d.key == "cpt|train")
    run_record_stages(cfg, dirs)
    if lost == "staged":
        next((dirs.work / "staged" / "data").iterdir()).unlink()
    else:
        dirs.file("validated.json").unlink()
    reports = run_record_stages(cfg, dirs)
    assert [r.reused for r in reports] == [True, True, False]
    assert all(p.is_file() for p in (dirs.work / "staged" / "data").iterdir())
