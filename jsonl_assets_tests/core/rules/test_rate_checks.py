"""rate_checks.evaluate: the gated partition count leaves out a source judged on its own
threshold, while the partition's rate as shown (`all_inputs`) counts every input; the
parse-failure rate is the larger of the record rate and the unread-file rate."""

from __future__ import annotations

from pathlib import Path

from jsonl_assets.core.config import PipelineConfig, load_config
from jsonl_assets.core.rules.rate_checks import SourceFiles, count_text, evaluate
from jsonl_assets.core.rules.reject_reasons import ADAPTER_REJECT_RATE, PARSE_FAILURE_RATE

from ...conftest import write_config


def _cfg(root: Path) -> PipelineConfig:
    (root / "raw").mkdir(parents=True)
    for name in ("clean", "noisy"):
        (root / "raw" / f"{name}.jsonl").write_text("{}\n")
    source = {"objective": "sft", "adapter": "chat", "split": "train"}
    return load_config(
        write_config(
            root / "pipeline.yaml",
            {
                "dataset": {"name": "rates", "description": "rates"},
                "output": {"dir": "package"},
                "sources": [
                    {"name": "clean", "paths": ["raw/clean.jsonl"], **source},
                    {
                        "name": "noisy",
                        "paths": ["raw/noisy.jsonl"],
                        **source,
                        "thresholds": {"max_parse_failure_rate": 0.5},
                    },
                ],
            },
        )
    )


def test_a_source_on_its_own_threshold_is_shown_in_the_partition_rate(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    reads = {"clean": 100, "noisy": 100}
    summary = {"by_source": {"noisy": {"parse_error": 30}}}
    result = evaluate(cfg, "sft|train", PARSE_FAILURE_RATE, reads, [("extracted", summary)])
    # The gate: the partition's threshold judges the other sources, noisy its own.
    assert (result.overall.failed, result.overall.total) == (0, 100)
    assert result.passed
    # What is shown: every input of the partition, and noisy on its own threshold.
    shown = result.all_inputs
    assert (shown.failed, shown.total, shown.rate) == (30, 200, 0.15)
    assert [(c.scope, c.failed, c.total, c.threshold) for c in result.own_thresholds] == [
        ("noisy", 30, 100, 0.5)
    ]
    assert result.to_json()["all_inputs"]["rate"] == 0.15


def test_the_parse_failure_rate_counts_unread_files(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    reads = {"clean": 101, "noisy": 10}
    summary = {"by_source": {"clean": {"csv_bad_header": 1}}}
    files = {"clean": SourceFiles(2, 1, ("raw/big.csv",)), "noisy": SourceFiles(1)}
    quarantines = [("extracted", summary)]
    result = evaluate(cfg, "sft|train", PARSE_FAILURE_RATE, reads, quarantines, files=files)
    clean = next(c for c in result.sources if c.scope == "clean")
    assert (clean.record_rate, clean.file_rate, clean.rate) == (1 / 101, 0.5, 0.5)
    assert not clean.passed and not result.passed
    assert (result.overall.unread_files, result.overall.files) == (1, 2)  # noisy: own threshold
    assert (result.all_inputs.unread_files, result.all_inputs.files) == (1, 3)
    assert count_text(clean.to_json()) == (
        "1 of 101 inputs quarantined (0.990%); 1 of 2 files unread (50.000%): raw/big.csv"
    )
    # Only the parse-failure rate counts files.
    other = evaluate(cfg, "sft|train", ADAPTER_REJECT_RATE, reads, quarantines, files=files)
    assert other.passed and other.all_inputs.files == 0
