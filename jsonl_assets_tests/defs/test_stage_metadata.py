"""Each stage's Dagster metadata shows its rate's count by the reason table, whichever stage
quarantined the input, over every input of the partition: a record too large as written
(quarantined by transformed as `too_large`) is a parse failure where the parse rate is shown,
and a source on its own threshold stays in the partition's rate, shown on its own too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from jsonl_assets.core.config import load_config
from jsonl_assets.core.rules.rate_checks import evaluate_all
from jsonl_assets.core.rules.reject_reasons import ADAPTER_REJECT_RATE, PARSE_FAILURE_RATE
from jsonl_assets.defs.stage_metadata import rate_metadata


def _reports() -> dict[str, Any]:
    """Two sources of 2 inputs each: support_chats made both records, one quarantined as too
    large as written by transformed; garden_notes made both, accepted."""
    extract = {
        "per_source": {
            "support_chats": {"items": 2, "records": 2},
            "garden_notes": {"items": 2, "records": 2},
        },
        "quarantine": {"by_source": {}},
    }
    transform = {
        "per_source": {
            "support_chats": {"in": 2, "made": 1, "rejected_inputs": 1},
            "garden_notes": {"in": 2, "made": 2},
        },
        "quarantine": {"by_source": {"support_chats": {"too_large": 1}}},
    }
    return {"extracted": extract, "transformed": transform}


def _values(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v.value for k, v in meta.items()}


def test_counts_follow_the_reason_table_whichever_stage_quarantined(sample_project: Path) -> None:
    cfg = load_config(sample_project)
    evaluations = evaluate_all(cfg, "sft|train", _reports())
    parse = _values(rate_metadata("parse_failures", evaluations[PARSE_FAILURE_RATE]))
    assert parse == {"parse_failures": 1, "parse_failure_rate (%)": 25.0}
    adapter = _values(rate_metadata("adapter_rejects", evaluations[ADAPTER_REJECT_RATE]))
    assert adapter == {"adapter_rejects": 0, "adapter_reject_rate (%)": 0.0}


def test_a_source_on_its_own_threshold_is_in_the_rate_and_shown_apart(
    sample_project: Path,
) -> None:
    data = yaml.safe_load(sample_project.read_text())
    chats = next(s for s in data["sources"] if s["name"] == "support_chats")
    chats["thresholds"] = {"max_parse_failure_rate": 0.9}
    sample_project.write_text(yaml.safe_dump(data, sort_keys=False))
    evaluation = evaluate_all(load_config(sample_project), "sft|train", _reports())
    parse = _values(rate_metadata("parse_failures", evaluation[PARSE_FAILURE_RATE]))
    assert parse == {
        "parse_failures": 1,
        "parse_failure_rate (%)": 25.0,
        "parse_failure_rate: own thresholds": {
            "support_chats": {"failed": 1, "total": 2, "rate (%)": 50.0, "threshold (%)": 90.0}
        },
    }
