"""Stages 1-3 in one pass write exactly what the three stages write one by one.

The one pass also writes the shards (staged, then adopted by the shards stage), so each build
goes on with the shards stage. Every shard, work file and quarantine file is compared byte
for byte, and every stage report (but its timing), on real projects: the sample, the hostile corpus (bad bytes, bad JSON, bad
records, empty and damaged files), every input format, and the public corpus. Then the
pass's own rules: a refused gate commits extracted alone, a record naming a toolset that is
derived only later is judged as the stage-by-stage build judges it, and a rerun reuses.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from jsonl_assets.core.adapters.parts import toolset_from_declared
from jsonl_assets.core.config import load_config
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.stage_report import StageReport
from jsonl_assets.core.stages import record_stages
from jsonl_assets.core.stages.extract_stage import run_extract
from jsonl_assets.core.stages.record_stages import BATCH_RECORDS, run_record_stages
from jsonl_assets.core.stages.shard_stage import run_shards
from jsonl_assets.core.stages.transform_stage import run_transform
from jsonl_assets.core.stages.validate_stage import run_validate
from jsonl_assets.core.store.work_files import PartitionDirs, partition_dirs

from .conftest import SAMPLE_DATA, write_config
from .test_formats_end_to_end import make_project as make_formats_project
from .test_hostile_input import make_hostile_project


def _dirs(config: Path) -> list[PartitionDirs]:
    out = load_config(config).output
    return [
        partition_dirs(out.work_dir, out.quarantine_dir, out.dir, o, s)
        for o in OBJECTIVES
        for s in SPLITS
    ]


def _comparable(report: StageReport) -> dict[str, Any]:
    """The report but its timing and the quarantine file's absolute path."""
    data = report.to_json()
    data.pop("seconds")
    data["quarantine"].pop("path", None)
    return data


def _build(config: Path, one_pass: bool) -> dict[str, list[dict[str, Any]]]:
    cfg = load_config(config)
    reports = {}
    for dirs in _dirs(config):
        if one_pass:
            done = run_record_stages(cfg, dirs)
        else:
            done = [stage(cfg, dirs) for stage in (run_extract, run_transform, run_validate)]
        done.append(run_shards(cfg, dirs))
        reports[dirs.key] = [_comparable(r) for r in done]
    return reports


def _files(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` but the stage markers (they hold timings) and locks."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix != ".json" and p.name != ".lock"
    }


def assert_same_as_stage_by_stage(
    project: Path, config_name: str = "pipeline.yaml", left_out: bool = True
) -> None:
    copies = {}
    for one_pass in (True, False):
        copy = project.parent / f"{project.name}-{'one' if one_pass else 'staged'}"
        shutil.copytree(project, copy)
        reports = _build(copy / config_name, one_pass)
        copies[one_pass] = (
            reports,
            _files(copy / "work"),
            _files(copy / "quarantine"),
            _files(copy / "package"),
        )
    one, staged = copies[True], copies[False]
    assert one[1] and one[2] and one[3], "nothing was built"
    # The one pass leaves out the hand-off files that only a stage running on its own reads
    # (see test_hand_off_files_are_written_when_a_stage_needs_them), unless its validation
    # had to run on its own; its staged shards are gone once adopted.
    missing = set(staged[1]) - set(one[1])
    assert all(k.endswith(HAND_OFF_FILES) for k in missing), missing
    assert missing or not left_out, "the one pass wrote the hand-off files"
    assert one[1] == {k: v for k, v in staged[1].items() if k not in missing}, "work files differ"
    assert one[2] == staged[2], "quarantine files differ"
    assert one[3] == staged[3], "shards differ"
    assert one[0] == staged[0], "stage reports differ"


HAND_OFF_FILES = ("/extracted.jsonl", "/transformed.jsonl", "/transformed.files")


def _work_dirs(config: dict[str, Any]) -> dict[str, Any]:
    config["output"] = {
        **config.get("output", {}),
        "dir": "package",
        "work_dir": "work",
        "quarantine_dir": "quarantine",
    }
    return config


def test_sample_project(tmp_path: Path) -> None:
    project = tmp_path / "sample"
    shutil.copytree(SAMPLE_DATA / "raw", project / "raw")
    config = _work_dirs(yaml.safe_load((SAMPLE_DATA / "pipeline.yaml").read_text()))
    write_config(project / "pipeline.yaml", config)
    assert_same_as_stage_by_stage(project)


def test_hostile_corpus(tmp_path: Path) -> None:
    config, _ = make_hostile_project(tmp_path / "hostile")
    data = _work_dirs(yaml.safe_load(config.read_text()))
    write_config(config, data)
    assert_same_as_stage_by_stage(config.parent)


def test_every_format(tmp_path: Path) -> None:
    config = make_formats_project(tmp_path / "formats")
    data = _work_dirs(yaml.safe_load(config.read_text()))
    write_config(config, data)
    assert_same_as_stage_by_stage(config.parent)


def test_public_corpus(tmp_path: Path, corpus: Path) -> None:
    data = yaml.safe_load((SAMPLE_DATA / "corpus_pipeline.yaml").read_text())
    for source in data["sources"]:
        source["paths"] = [str(corpus / p.split("corpus/", 1)[1]) for p in source["paths"]]
    write_config(tmp_path / "corpus" / "pipeline.yaml", _work_dirs(data))
    assert_same_as_stage_by_stage(tmp_path / "corpus")


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


def test_a_toolset_derived_later_is_judged_as_stage_by_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _toolset_project(tmp_path / "toolsets")
    cfg = load_config(config)
    dirs = next(d for d in _dirs(config) if d.key == "sft|train")
    calls: list[bool] = []

    def counting_validate(*args: Any, **kwargs: Any) -> StageReport:
        calls.append(True)
        return run_validate(*args, **kwargs)

    monkeypatch.setattr(record_stages, "run_validate", counting_validate)
    reports = run_record_stages(cfg, dirs)
    assert calls == [True], "the pass's verdicts should have been replaced"
    validated = reports[2]
    # Judged against the toolsets of the whole partition: the native record is valid.
    assert validated.records_out == BATCH_RECORDS + 12, validated.quarantine
    assert validated.quarantined == 0
    monkeypatch.undo()
    assert_same_as_stage_by_stage(config.parent, left_out=False)


def test_a_refused_gate_commits_extracted_only(sample_project: Path) -> None:
    cfg = load_config(sample_project)
    dirs = next(d for d in _dirs(sample_project) if d.key == "sft|train")
    reports = run_record_stages(cfg, dirs, gate=lambda extract, transform: False)
    assert [r.stage for r in reports] == ["extracted"]
    assert sorted(p.name for p in dirs.work.iterdir() if p.name != ".lock") == ["extracted.json"]
    assert sorted(p.name for p in dirs.quarantine.iterdir()) == ["extracted.jsonl"]
    # Once the gate lets it through, extracted is reused and the other two run (transformed
    # on its own, so extracted.jsonl is written for it first).
    reports = run_record_stages(cfg, dirs)
    assert [(r.stage, r.reused) for r in reports] == [
        ("extracted", True),
        ("transformed", False),
        ("validated", False),
    ]
    again = run_record_stages(cfg, dirs)
    assert all(r.reused for r in again)


def test_hand_off_files_are_written_when_a_stage_needs_them(tmp_path: Path) -> None:
    """After a one-pass build, validated or shards run on their own (e.g. a toolset added to
    the config, or a subset materialised in the UI) first write transformed.jsonl, which
    first writes extracted.jsonl: the same bytes the stages write one by one, the same
    quarantine and the same shards."""
    config, _ = make_hostile_project(tmp_path / "hostile")
    write_config(config, _work_dirs(yaml.safe_load(config.read_text())))
    staged = tmp_path / "staged"
    shutil.copytree(config.parent, staged)
    _build(staged / config.name, one_pass=False)
    _build(config, one_pass=True)
    cfg = load_config(config)
    for dirs in _dirs(config):
        assert not dirs.file("extracted.jsonl").exists()
        assert not dirs.file("transformed.jsonl").exists()
        run_validate(cfg, dirs, force=True)
        run_shards(cfg, dirs, force=True)  # nothing staged now: from the work file
    for name in ("work", "quarantine", "package"):
        assert _files(config.parent / name) == _files(staged / name), name
