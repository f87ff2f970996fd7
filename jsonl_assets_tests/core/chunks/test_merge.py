"""A merge killed (kill -9) while it replays the chunks, its duplicates spilled to work
files, then run again, gives the bytes of a build never killed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.chunks.runners import process_runner
from jsonl_assets.core.config import load_config
from jsonl_assets.core.fault_points import ENV_VAR
from jsonl_assets_tests.conftest import published_quarantine
from jsonl_assets_tests.test_chunks import _duplicates_project

REPO = Path(__file__).resolve().parents[3]


def _package(config: Path) -> dict[str, bytes]:
    package, quarantine = config.parent / "package", config.parent / "quarantine"
    files = {
        p.relative_to(package).as_posix(): p.read_bytes()
        for p in sorted(package.rglob("*"))
        if p.is_file()
    }
    for logical, p in published_quarantine(package, quarantine).items():
        files[f"quarantine/{logical}"] = p.read_bytes()
    return files


def _build(config: Path) -> dict[str, bytes]:
    cfg = load_config(config)
    result = build_partition(cfg, "cpt|train", runner=process_runner(2))
    assert result.shards is not None and result.stages[2].details.duplicates == 350
    publish(cfg)
    return _package(config)


@pytest.mark.crash
@pytest.mark.parametrize("point", ["validate.batch:1", "validate.batch:9"])
def test_a_merge_killed_midway_is_merged_again_to_the_same_bytes(
    tmp_path: Path, point: str
) -> None:
    config, _ = _duplicates_project(tmp_path / "whole", 4096)  # 16 chunks
    expected = _build(config)
    config, _ = _duplicates_project(tmp_path / "killed", 4096)
    code = (
        "import sys; from jsonl_assets.core.build import build_partition; "
        "from jsonl_assets.core.config import load_config; "
        "build_partition(load_config(sys.argv[1]), 'cpt|train')"
    )
    killed = subprocess.run(
        [sys.executable, "-c", code, str(config)],
        env={**os.environ, ENV_VAR: point},
        cwd=REPO,
        check=False,
    )
    assert killed.returncode == -9, point
    spilled = config.parent / "work" / "cpt" / "train" / "chunks" / "ids"
    assert len(list(spilled.glob("dups.*.bin"))) == 16  # killed in the replay
    assert _build(config) == expected
    assert not list(spilled.glob("dups.*"))  # the rerun's own were removed
