"""The manifest asset on a manifest too large for a default `verify`: a failed package_valid
check that says why, and a run its retries leave alone (the same inputs are refused again)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from jsonl_assets.core.build import build_partition
from jsonl_assets.core.config import load_config
from jsonl_assets.core.stages.manifest_stage import leakage_summary
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


def test_a_leak_refusal_names_where_both_copies_came_from(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    """The package_valid check's description (what the CLI prints for a refused build) names
    the splits, files, lines and sources of the first leaks, not only their number."""
    raw = tmp_path / "raw"
    raw.mkdir()
    doc = '{{"messages":[{{"role":"document","content":"{}"}}]}}\n'
    (raw / "tr.jsonl").write_text(doc.format("alpha") + doc.format("beta"))
    (raw / "te.jsonl").write_text(doc.format("delta") + doc.format("beta"))
    source = {"objective": "cpt", "adapter": "native"}
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "d"},
            "sources": [
                {"name": "tr", "paths": ["raw/tr.jsonl"], "split": "train", **source},
                {"name": "te", "paths": ["raw/te.jsonl"], "split": "test", **source},
            ],
        },
    )
    cfg = load_config(config)
    for key in ("cpt|train", "cpt|test"):
        build_partition(cfg, key)
    result = materialize(config, instance, None)
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == PACKAGE_VALID]
    assert not check.passed and check.description is not None
    assert check.description.endswith(
        "1 ids in two splits: an id in train at raw/tr.jsonl line 2 (source tr) is in test at "
        "raw/te.jsonl line 2 (source te)"
    ), check.description
    assert not (tmp_path / "package" / "metadata.json").exists()


def test_a_leak_summary_names_the_first_leaks_and_escapes_control_characters() -> None:
    first = {"source": "a", "file": "raw/x\n.jsonl", "line": 3}
    second = {"source": "b", "file": "raw/é.csv", "row": 1}
    leak = {"splits": ["train", "test"], "first": first, "second": second}
    assert leakage_summary(0, []) == "0 ids in two splits"
    assert leakage_summary(5, [leak] * 4) == (
        "5 ids in two splits: "
        + "; ".join(
            [
                "an id in train at raw/x\\n.jsonl line 3 (source a) is in test at "
                "raw/é.csv row 1 (source b)"
            ]
            * 3
        )
        + "; 2 more"
    )
