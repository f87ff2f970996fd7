"""rft grading types are free text (spec F9 only warns): the report counts them as it counts
licences (bounded_counts.BoundedCounts): the 32 smallest distinct strings, shortened past 200
characters, the rest as one `other` count, the same whoever measured the records; the chart
draws one `other` bar. Before: every distinct type was kept whole, in the statistics, the
report data and one chart bar each (1,500 types of 2 KB: a 7 MB report.html, minutes)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from jsonl_assets.core.config import load_config
from jsonl_assets.core.report.bounded_counts import KEY_CHARS, MAX_VALUES, BoundedCounts
from jsonl_assets.core.report.charts import OTHER_LABEL, count_chart
from jsonl_assets.core.report.report_data import compute_report
from jsonl_assets.core.report.statistics import load_manifest, package_cells
from jsonl_assets_tests.conftest import build_with_core, write_config

TYPES = 80


def _types() -> list[str]:
    return [f"type-{i:03d}-" + "x" * 2000 for i in range(TYPES)] + ["exact_match"] * 5


@pytest.mark.parametrize("report", ["0", "1"])
def test_grading_types_are_bounded_like_licences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, report: str
) -> None:
    # With the report on the build's chunks measure the records; off, the shards are read.
    monkeypatch.setenv("JSONL_ASSETS_REPORT", report)
    (tmp_path / "raw").mkdir()
    lines = [
        orjson.dumps({"id": f"r{i}", "messages": [{"role": "user", "content": f"q{i}"}],
                      "reference": {"grading": {"type": t}, "answer": "1"}})
        for i, t in enumerate(_types())
    ]  # fmt: skip
    (tmp_path / "raw" / "rft.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "g", "description": "grading types"},
            "output": {"dir": "package", "max_records_per_shard": 7},
            "sources": [{"name": "s", "paths": ["raw/rft.jsonl"], "objective": "rft",
                         "adapter": "native", "split": "train", "id_field": "id"}],
        },
    )  # fmt: skip
    build_with_core(config)
    cfg = load_config(config)
    data = orjson.loads(orjson.dumps(compute_report(cfg.output.dir)))
    (cell,) = data["cells"]
    expected = BoundedCounts.of(dict.fromkeys(_types(), 0))
    kept = sorted(expected.values)
    assert len(kept) == MAX_VALUES and all(len(k) <= KEY_CHARS for k in kept)
    assert kept[0] == "exact_match" and kept[1].startswith("type-000-" + "x" * 191 + "… (sha256 ")
    assert cell["grading_types"] == {k: 5 if k == "exact_match" else 1 for k in kept}
    assert cell["grading_types_other"] == TYPES + 5 - sum(cell["grading_types"].values())
    manifest = load_manifest(cfg.output.dir)
    for workers in (1, 2):  # measured in parts of shards: the same figures
        (again,) = package_cells(cfg.output.dir, manifest, workers)
        assert again.to_json()["grading_types"] == cell["grading_types"]
        assert again.grading_types.other == cell["grading_types_other"]
    chart = count_chart(data["cells"], "grading_types", "grading types", "grading.type")
    assert chart is not None and f">{OTHER_LABEL}<" in chart and len(chart) < 200_000
