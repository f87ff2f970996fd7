"""The validated stage's warning counts (`quality_warned`, its examples, `spec_warnings`: the
`written with warnings` line and the Dagster metadata) count the records written to the
shards, no other: not those quarantined as `duplicate_id` (found across chunks by the merge),
by a quality rule or by `spec_warnings: quarantine`; the same whatever the chunks and workers,
and what `verify` and the quality rules find in the package, rule by rule, record by record."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from jsonl_assets.core.build import build_partition, dirs_for, publish
from jsonl_assets.core.chunks.plan import plan_chunks
from jsonl_assets.core.chunks.runners import process_runner
from jsonl_assets.core.config import load_config
from jsonl_assets.core.rules.quality_rules import quality_findings
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets_tests.conftest import package_shards, read_shard, write_config

PAD = "x" * 300
CALL = [
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f"}}],
    }
]


def _pair(i: str, chosen: Any = "fine", rejected: Any = "no") -> bytes:
    return orjson.dumps({"id": i, "prompt": f"q {PAD}", "chosen": chosen, "rejected": rejected})


def _lines(rows: list[bytes]) -> bytes:
    return b"".join(row + b"\n" for row in rows)


def _project(tmp: Path, chunk_bytes: int) -> Path:
    """Source `a` (empty_candidate: warn): warned records (an empty chosen side; a chosen
    side holding an unanswered call and no toolset: E3, E7), repeated later in the file (in
    other chunks), a clean record repeated as a warned one and the other way round. Source
    `b` (spec_warnings: quarantine): its calls rejected, its empty sides warned. Source `c`
    (the default policy): empty sides quarantined, with the calls of their rejected side."""
    raw = tmp / "raw"
    raw.mkdir()
    pads = [_pair(f"pad{i}") for i in range(12)]
    first = [
        *(_pair(f"e{i}", chosen="") for i in range(3)),
        *(_pair(f"t{i}", chosen=CALL) for i in range(4)),
        _pair("clean_then_warned"),
        _pair("warned_then_clean", chosen=CALL),
    ]
    later = [
        *(_pair("e0", chosen="") for _ in range(2)),
        *(_pair("t1", chosen=CALL) for _ in range(3)),
        _pair("clean_then_warned", chosen=CALL),
        _pair("clean_then_warned", chosen=""),
        _pair("warned_then_clean"),
    ]
    (raw / "a.jsonl").write_bytes(_lines([*first, *pads, *later, *pads[:6], *later]))
    b_rows = [_pair(f"bt{i}", chosen=CALL) for i in range(3)] + [_pair("be", chosen="")] * 2
    (raw / "b.jsonl").write_bytes(_lines([*b_rows, *pads[:4]]))
    c_rows = [_pair(f"ce{i}", chosen="", rejected=CALL) for i in range(3)] + [_pair("ce0")]
    (raw / "c.jsonl").write_bytes(_lines(c_rows))
    source = {"objective": "preference", "adapter": "preference_pairs", "split": "train"}
    return write_config(
        tmp / "pipeline.yaml",
        {
            "dataset": {"name": "warned", "description": "warned counts"},
            "output": {"chunk_bytes": chunk_bytes},
            "thresholds": {"max_invalid_rate": 1.0, "max_duplicate_id_rate": 1.0},
            "sources": [
                {
                    "name": "a",
                    "paths": ["raw/a.jsonl"],
                    "id_field": "id",
                    "quality": {"empty_candidate": "warn"},
                    **source,
                },
                {
                    "name": "b",
                    "paths": ["raw/b.jsonl"],
                    "id_field": "id",
                    "quality": {"empty_candidate": "warn", "spec_warnings": "quarantine"},
                    **source,
                },
                {"name": "c", "paths": ["raw/c.jsonl"], "id_field": "id", **source},
            ],
        },
    )


def _in_package(package: Path) -> tuple[Counter[str], Counter[str], list[dict[str, Any]]]:
    """What the package holds: the records raising each spec warning (verify's findings, one
    a record), those with each quality finding, and the written records' traces."""
    report = verify_package(package)
    assert report.ok and not report.omitted
    spec = Counter(
        f.rule
        for f in {(f.rule, f.file, f.line): f for f in report.findings}.values()
        if f.severity == "warning" and f.line is not None
    )
    quality: Counter[str] = Counter()
    traces = []
    for shard in package_shards(package):
        for record in read_shard(shard):
            traces.append(record["metadata"]["trace"])
            for rule, _ in quality_findings(record, "preference", {"empty_candidate"}) or ():
                quality[f"quality:{rule}"] += 1
    return spec, quality, traces


@pytest.mark.parametrize(("chunk_bytes", "workers"), [(256 << 20, 1), (4096, 1), (4096, 2)])
def test_warnings_are_counted_of_the_written_records_only(
    tmp_path: Path, chunk_bytes: int, workers: int
) -> None:
    cfg = load_config(_project(tmp_path, chunk_bytes))
    result = build_partition(cfg, "preference|train", runner=process_runner(workers))
    assert publish(cfg).manifest.published  # type: ignore[union-attr]
    validated = result.stages[2].details
    chunks = len(plan_chunks(cfg, dirs_for(cfg, "preference|train")).chunks)
    # Cut, the repeated ids are in later chunks than the ones kept.
    assert chunks == (1 if chunk_bytes > 1 << 20 else 6)
    spec, quality, traces = _in_package(tmp_path / "package")
    # e0-e2, be; t0-t3, warned_then_clean (its warned copy came first).
    assert quality == {"quality:empty_candidate": 4}
    assert spec == {"E3": 5, "E7": 5}
    assert validated.spec_warnings == dict(spec)
    assert validated.quality_warned == {
        **quality,
        **{f"quality:spec_warning:{rule}": n for rule, n in spec.items()},
    }
    for reason, examples in validated.quality_warned_examples.items():
        assert examples and all(trace in traces for trace in examples), reason
    assert validated.duplicates == 23 and validated.invalid == 6
