"""`build_partition` without Dagster is gated by the blocking rate checks, as the assets are:
a failed parse check stops the build after extracted, a failed later check before shards."""

from __future__ import annotations

from pathlib import Path

import yaml

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.rules.reject_reasons import DUPLICATE_ID_RATE, PARSE_FAILURE_RATE


def _thresholds(config: Path, **thresholds: float) -> None:
    data = yaml.safe_load(config.read_text())
    data["thresholds"] = {**data.get("thresholds", {}), **thresholds}
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_failed_duplicate_check_stops_before_the_shards(sample_project: Path) -> None:
    _thresholds(sample_project, max_duplicate_id_rate=0.0)
    result = build_partition(load_config(sample_project), "sft|train")
    assert len(result.stages) == 3
    assert not result.evaluations[DUPLICATE_ID_RATE].passed
    assert result.shards is None and result.verification is None
    assert not (sample_project.parent / "package" / "data").exists()
    _thresholds(sample_project, max_duplicate_id_rate=1.0)
    result = build_partition(load_config(sample_project), "sft|train")
    assert result.shards is not None and all(e.passed for e in result.evaluations.values())
    assert publish(load_config(sample_project)).manifest is not None


def test_a_failed_parse_check_stops_after_extracted(sample_project: Path) -> None:
    _thresholds(sample_project, max_parse_failure_rate=0.0)
    chats = sample_project.parent / "raw" / "sft" / "support_chats.jsonl"
    chats.write_bytes(chats.read_bytes() + b"{not json\n")
    result = build_partition(load_config(sample_project), "sft|train")
    assert [r.stage for r in result.stages] == ["extracted"]
    assert not result.evaluations[PARSE_FAILURE_RATE].passed
    assert result.shards is None
