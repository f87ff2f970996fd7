"""Build and verify share one shard reader and one toolset check; verify/ is small modules.

Real files in tmp_path: the sample project is built, then its shards are swapped for things
a shard must not be, and configs declare toolsets that a package may not hold.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from jsonl_assets.core.config import ConfigError, load_config
from jsonl_assets.core.stages.record_stages import run_record_stages
from jsonl_assets.core.stages.shard_stage import run_shards, verify_partition_shards
from jsonl_assets.core.store.work_files import partition_dirs

from .conftest import write_config

VERIFY_DIR = Path(__file__).resolve().parent.parent / "jsonl_assets" / "core" / "verify"


def test_verify_is_a_package_of_small_modules() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in VERIFY_DIR.glob("*.py")}
    assert "package_verifier.py" not in sizes  # no second import path
    assert max(sizes.values()) <= 500, sizes


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_shards_verified_names_a_shard_that_is_not_a_regular_file(
    sample_project: Path, kind: str
) -> None:
    """shards_verified opens shards as verify does: a directory or FIFO in place of a shard is
    a C13 finding, not a crash and not a read that blocks."""
    cfg = load_config(sample_project)
    out = cfg.output
    dirs = partition_dirs(out.work_dir, out.quarantine_dir, out.dir, "cpt", "train")
    run_record_stages(cfg, dirs)
    report = run_shards(cfg, dirs)
    shard = report.extra["shards"][0]
    path = dirs.package / shard["path"]
    path.unlink()
    if kind == "directory":
        path.mkdir()
    else:
        os.mkfifo(path)
    result = verify_partition_shards(cfg, dirs, report)
    assert not result["passed"]
    mine = [f for f in result["findings"] if f["file"] == shard["path"]]
    assert [f["rule"] for f in mine] == ["C13"], mine
    assert "not a regular file" in mine[0]["message"]


def _config(tmp_path: Path, tools: list[dict]) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    (raw / "a.jsonl").write_text('{"messages": []}\n', encoding="utf-8")
    config = {
        "dataset": {"name": "t", "description": "d"},
        "sources": [
            {
                "name": "a",
                "paths": ["raw/*.jsonl"],
                "objective": "sft",
                "adapter": "chat",
                "split": "auto",
            }
        ],
        "toolsets": [{"id": "t", "tools": tools}],
    }
    return write_config(tmp_path / "pipeline.yaml", config)


@pytest.mark.parametrize(
    ("tools", "key", "message"),
    [
        ([{"name": "f", "parameters": {}}], "toolsets[0].tools[0].parameters", "unknown tool key"),
        ([{"name": "f", "description": 3}], "toolsets[0].tools[0].description", "must be a string"),
        ([{"name": "f", "input_schema": []}], "toolsets[0].tools[0].input_schema", "must be an"),
        ([{"name": "f"}, {"name": "f"}], "toolsets[0].tools[1].name", "earlier tool"),
    ],
)
def test_config_refuses_a_toolset_the_package_verifier_refuses(
    tmp_path: Path, tools: list[dict], key: str, message: str
) -> None:
    """The config's toolset check is the verifier's (B1-B6 errors): a toolset that would fail
    the package's verification stops the build at config load, naming the dotted key."""
    path = _config(tmp_path, tools)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == key
    assert message in info.value.message
    assert str(path) in str(info.value)


def test_config_keeps_a_valid_toolset(tmp_path: Path) -> None:
    tools = [{"name": "f", "description": "d", "input_schema": {"type": "object"}}]
    cfg = load_config(_config(tmp_path, tools))
    assert [dict(t) for t in cfg.toolsets] == yaml.safe_load(
        yaml.safe_dump([{"id": "t", "tools": tools}])
    )
