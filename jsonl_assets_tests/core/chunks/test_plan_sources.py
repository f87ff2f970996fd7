"""The chunk plan names its files as the config does, never by a path, and a partition's
stages are known by their files' content, not their stat.

A project moved (or a volume mounted elsewhere) reads its own files, even when another tree
now sits at its old path; a source touched, or a project copied (new inodes, new times),
with the same bytes reruns nothing; a chunk reads a file only if it is the version planned.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson
import pytest
import yaml

from jsonl_assets.core.build import build_partition, dirs_for, publish
from jsonl_assets.core.chunks.chunk_worker import ChunkTask, chunk_fingerprint, run_chunk
from jsonl_assets.core.chunks.plan import CHUNKS_DIR, PLAN, plan_chunks
from jsonl_assets.core.config import load_config
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.store.base import SourceChangedError

KEYS = [f"{o}|{s}" for o in OBJECTIVES for s in SPLITS]
BUILT = ("package", "work", "quarantine", "package-report")


def _small_chunks(config: Path, **extra: object) -> Path:
    """The sample config with 16 KiB chunks (its plain JSONL cut into ranges) and `extra`."""
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["output"]["chunk_bytes"] = 16384
    doc.update(extra)
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return config


def _build(config: Path) -> list[tuple[str, bool]]:
    """Build every partition and publish; each record stage's (name, reused)."""
    cfg = load_config(config)
    stages = [(s.stage, s.reused) for k in KEYS for s in build_partition(cfg, k).stages]
    result = publish(cfg)
    assert result.manifest is not None and result.manifest.published, result.problems
    return stages


def _package(project: Path) -> dict[str, bytes]:
    package = project / "package"
    return {
        str(p.relative_to(package)): p.read_bytes()
        for p in sorted(package.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def _fresh_copy(project: Path, target: Path) -> Path:
    """A copy of `project`'s config and raw files only, built from scratch."""
    shutil.copytree(project, target, ignore=shutil.ignore_patterns(*BUILT))
    _build(target / "pipeline.yaml")
    return target


def test_a_moved_project_reads_its_own_files_not_the_tree_at_its_old_path(
    sample_project: Path, tmp_path: Path
) -> None:
    a = tmp_path / "a"
    shutil.move(sample_project.parent, a)
    _build(_small_chunks(a / "pipeline.yaml"))
    b = tmp_path / "b"
    a.rename(b)
    # Another tree at the old path: the same names, other records.
    shutil.copytree(b, a, ignore=shutil.ignore_patterns(*BUILT))
    for path in (
        a / "raw" / "sft" / "support_chats.jsonl",
        a / "raw" / "cpt" / "garden_notes.jsonl",
        a / "raw" / "rft" / "seedlings_test.jsonl",  # read whole
    ):
        path.write_bytes(path.read_bytes().replace(b"the", b"NOT-B").replace(b"bed", b"NOT-B"))
    # A change that reruns the record stages and keeps the extraction's fingerprint.
    _small_chunks(b / "pipeline.yaml", quality={"empty_assistant": "warn"})
    stages = _build(b / "pipeline.yaml")
    assert ("validated", False) in stages  # every chunk read again
    plan = (b / "work" / "sft" / "train" / CHUNKS_DIR / PLAN).read_bytes()
    assert str(tmp_path).encode() not in plan  # the plan names files, never where they were
    assert b"NOT-B" not in b"".join(_package(b).values())
    assert _package(b) == _package(_fresh_copy(b, tmp_path / "c"))


def test_a_touched_source_reruns_nothing(sample_project: Path) -> None:
    project = sample_project.parent
    _build(_small_chunks(sample_project))
    before = _package(project)
    for path in (project / "raw").rglob("*"):
        if path.is_file():
            os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    stages = _build(sample_project)
    assert stages and all(reused for _, reused in stages), stages
    assert _package(project) == before


def test_a_copied_project_reruns_nothing(sample_project: Path, tmp_path: Path) -> None:
    project = sample_project.parent
    _build(_small_chunks(sample_project))
    copy = tmp_path / "copy"
    shutil.copytree(project, copy, copy_function=shutil.copyfile)  # new inodes and times
    stages = _build(copy / "pipeline.yaml")
    assert stages and all(reused for _, reused in stages), stages
    assert _package(copy) == _package(project)


def _planned(project: Path) -> tuple[object, object, object, int]:
    cfg = load_config(_small_chunks(project / "pipeline.yaml"))
    dirs = dirs_for(cfg, "rft|train")  # one whole zstd file
    plan = plan_chunks(cfg, dirs)
    assert [c.start for c in plan.chunks] == [None]
    return cfg, dirs, plan, 0


def test_a_whole_file_chunk_reads_only_the_version_planned(sample_project: Path) -> None:
    project = sample_project.parent
    cfg, dirs, plan, index = _planned(project)
    path = project / "raw" / "rft" / "seedlings_train.jsonl.zst"
    path.write_bytes(path.read_bytes()[:-8] + b"\0" * 8)  # other bytes, same size
    task = ChunkTask("rft|train", index)
    with pytest.raises(SourceChangedError, match=r"seedlings_train\.jsonl\.zst changed since"):
        run_chunk(cfg, dirs, plan, chunk_fingerprint("v", plan, task), task)  # type: ignore[arg-type]


def test_a_chunk_reads_a_touched_file_of_the_same_bytes(sample_project: Path) -> None:
    project = sample_project.parent
    cfg, dirs, plan, index = _planned(project)
    path = project / "raw" / "rft" / "seedlings_train.jsonl.zst"
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    task = ChunkTask("rft|train", index)
    report = run_chunk(cfg, dirs, plan, chunk_fingerprint("v", plan, task), task)  # type: ignore[arg-type]
    assert report["ran"] and report["lines"] > 0
    assert (
        orjson.loads(orjson.dumps(report["files"]))[0]["file"]
        == "raw/rft/seedlings_train.jsonl.zst"
    )


def test_two_files_reached_through_a_symlink_and_dotdot_are_planned_and_read_apart(
    tmp_path: Path,
) -> None:
    """`raw/x.jsonl` and `raw/link/../x.jsonl` (`elsewhere/x.jsonl`) were both named
    `raw/x.jsonl`: the plan opened the first for both, and every build failed with "changed
    since the partition was planned". Each is now named, planned and traced as itself, by a
    chunk step that lists no files too."""
    from jsonl_assets.core.chunks.plan import ChunkPlan
    from jsonl_assets_tests.core.config.test_loading_names import _link_and_dotdot
    from jsonl_assets_tests.values_helpers import make_cpt_project, shard_records

    here, there = _link_and_dotdot(tmp_path)
    config = make_cpt_project(tmp_path, ["raw/x.jsonl", "raw/link/../x.jsonl"])
    cfg = load_config(config)
    dirs = dirs_for(cfg, "cpt|train")
    plan = plan_chunks(cfg, dirs)
    for listed in (cfg, load_config(config, list_files=False)):
        fresh = ChunkPlan(plan.fingerprint, plan.chunks, plan.inputs)
        opened = [fresh.opened(listed, i)[1] for i in range(plan.files)]
        assert [(i.rel, Path(i.path).resolve()) for i in opened] == [
            ("raw/link/../x.jsonl", there),
            ("raw/x.jsonl", here),
        ]
    build_partition(cfg, "cpt|train")
    assert publish(cfg).manifest.published
    files = {r["id"]: r["metadata"]["trace"]["file"] for r in shard_records(config)}
    assert sorted(files.values()) == ["raw/link/../x.jsonl", "raw/x.jsonl"]


def test_a_plan_never_opens_one_of_two_files_of_one_name_for_the_other(tmp_path: Path) -> None:
    """Loading never gives two files one name; a config that did (built by hand here) is
    refused by the plan's lookup, naming both, not read from the first file."""
    import dataclasses

    from jsonl_assets_tests.values_helpers import doc_line, make_cpt_project

    (tmp_path / "raw").mkdir()
    for name in ("a", "b"):
        (tmp_path / "raw" / f"{name}.jsonl").write_bytes(doc_line(1) + b"\n")
    cfg = load_config(make_cpt_project(tmp_path, ["raw/*.jsonl"]))
    plan = plan_chunks(cfg, dirs_for(cfg, "cpt|train"))
    [source] = cfg.sources
    first, second = source.inputs
    clash = dataclasses.replace(source, inputs=(first, dataclasses.replace(second, rel=first.rel)))
    clashing = dataclasses.replace(cfg, sources=(clash,))
    with pytest.raises(SourceChangedError, match=r"raw/a\.jsonl names two files .*b\.jsonl"):
        plan.input(clashing, 1)


def test_paths_that_are_not_files_are_quarantined_by_chunk_workers_too(tmp_path: Path) -> None:
    """A dangling symlink and a FIFO a glob matches beside a file cut into chunks, built on
    worker processes (whose config names no files: the plan does): quarantined `not_a_file`,
    the same bytes as a build in one process. Before, the worker stat'ed the dangling link
    ("No such file or directory") or took the FIFO for a file changed since the plan: the
    partition failed on every run."""
    from jsonl_assets.core.chunks.runners import process_runner

    outputs = []
    for name, runner in (("one", None), ("pool", process_runner(2))):
        root = tmp_path / name
        (root / "src").mkdir(parents=True)
        notes = [{"id": f"n{i}", "text": f"note {i} " + "x" * 200} for i in range(80)]
        (root / "src" / "a.jsonl").write_bytes(b"".join(orjson.dumps(n) + b"\n" for n in notes))
        (root / "src" / "dangle.jsonl").symlink_to("/nonexistent/x.jsonl")
        os.mkfifo(root / "src" / "fifo.jsonl")
        (root / "p.yaml").write_text(
            yaml.safe_dump(
                {
                    "dataset": {"name": "nf", "description": "not files"},
                    "output": {
                        "dir": "package",
                        "work_dir": "work",
                        "quarantine_dir": "q",
                        "chunk_bytes": 4096,
                    },
                    "thresholds": {"max_parse_failure_rate": 1.0},
                    "sources": [
                        {
                            "name": "n",
                            "paths": ["src/*.jsonl"],
                            "objective": "cpt",
                            "adapter": "text",
                            "split": "train",
                            "id_field": "id",
                        }
                    ],
                }
            )
        )
        cfg = load_config(root / "p.yaml")
        kwargs = {} if runner is None else {"runner": runner}
        assert len(plan_chunks(cfg, dirs_for(cfg, "cpt|train")).chunks) > 3
        build_partition(cfg, "cpt|train", **kwargs)
        publish(cfg)
        outputs.append(
            {
                p.relative_to(root).as_posix(): p.read_bytes()
                for folder in ("package", "q")
                for p in sorted((root / folder).rglob("*"))
                if p.is_file()
            }
        )
    assert outputs[0] == outputs[1]
    quarantined = b"".join(v for k, v in outputs[0].items() if k.endswith("extracted.jsonl"))
    assert quarantined.count(b'"not_a_file"') == 2, quarantined
