"""The manifest asset on a manifest too large for a default `verify`: a failed package_valid
check that says why, and a run its retries leave alone (the same inputs are refused again)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from jsonl_assets.core.build import build_partition
from jsonl_assets.core.config import load_config
from jsonl_assets.defs.checks import PACKAGE_VALID, RETRY_ON_FAILURE_TAG
from jsonl_assets_tests.conftest import materialize, write_config
from jsonl_assets_tests.core.stages.test_manifest_stage import _chats


def test_an_oversized_manifest_fails_its_check_with_the_reason_and_no_retry(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    _chats(raw / "b.jsonl", 180, "x" * 100_000)  # an 18 MB metadata.json
    source = {"name": "c", "paths": ["raw/*.jsonl"], "objective": "sft", "adapter": "chat"}
    config = write_config(
        tmp_path / "pipeline.yaml",
        {"dataset": {"name": "t", "description": "d"}, "sources": [{**source, "split": "train"}]},
    )
    build_partition(load_config(config), "sft|train")
    result = materialize(config, instance, None)
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == PACKAGE_VALID]
    assert not check.passed and check.description is not None
    assert "metadata.json would be" in check.description
    assert "180 toolsets and 1 source files" in check.description
    assert instance.get_run_by_id(result.run_id).tags[RETRY_ON_FAILURE_TAG] == "false"  # type: ignore[union-attr]
    assert not (tmp_path / "package" / "metadata.json").exists()
