"""Shared fixtures: a throw-away copy of the sample project and a temporary Dagster instance."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import orjson
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATA = REPO / "data"
CORPUS = REPO.parent / "shared" / "corpus"


def materialize(
    config: Path,
    instance: dg.DagsterInstance,
    key: str | None,
    assets: list | None = None,
    **kw: Any,
) -> dg.ExecuteInProcessResult:
    """A real materialisation: the four stages of partition `key`, or the manifest (key None)."""
    from jsonl_assets.defs.assets import ALL_ASSETS, STAGE_ASSETS
    from jsonl_assets.defs.resources import PipelineResource

    return dg.materialize(
        assets or (STAGE_ASSETS if key else ALL_ASSETS),
        partition_key=key,
        instance=instance,
        resources={"pipeline": PipelineResource(config_path=str(config), **kw)},
        raise_on_error=False,
        selection=None if key else [ALL_ASSETS[-1]],
    )


def read_shard(path: Path) -> list[dict[str, Any]]:
    """The records of a shard, decompressed by its extension and parsed line by line."""
    from jsonl_assets.core.compression import iter_decompressed

    codec = {".zst": "zstd", ".gz": "gzip"}.get(path.suffix, "none")
    with open(path, "rb") as handle:
        data = b"".join(iter_decompressed(handle, codec))
    return [orjson.loads(line) for line in data.splitlines() if line]


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


def build_with_core(config_path: Path, helper_thread: bool = True) -> Path:
    """Build every partition and publish the package through the core's one build path
    (`core/build.py`, as the assets call it), without Dagster; with or without the helper
    thread that compresses the shards (the bytes are the same). Returns the package dir."""
    from jsonl_assets.core.build import build_partition, publish
    from jsonl_assets.core.config import load_config
    from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS

    cfg = load_config(config_path)
    for objective in OBJECTIVES:
        for split in SPLITS:
            build_partition(cfg, f"{objective}|{split}", helper_thread=helper_thread)
    result = publish(cfg)
    assert result.manifest is not None and result.manifest.published, (
        result.problems or result.manifest.findings[:5]  # type: ignore[union-attr]
    )
    return cfg.output.dir
