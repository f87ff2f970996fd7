"""Shared fixtures: a throw-away copy of the sample project and a temporary Dagster instance."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATA = REPO / "data"
CORPUS = REPO.parent / "shared" / "corpus"


def write_config(path: Path, config: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def sample_project(tmp_path: Path) -> Path:
    """A copy of data/pipeline.yaml and data/raw/ in tmp_path; returns the config path."""
    data = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA / "raw", data / "raw")
    shutil.copyfile(SAMPLE_DATA / "pipeline.yaml", data / "pipeline.yaml")
    return data / "pipeline.yaml"


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst
