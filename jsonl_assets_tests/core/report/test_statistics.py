"""The report's per objective x split figures equal the ones
recomputed here from the published shards."""

from __future__ import annotations

import shutil
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.config import load_config
from jsonl_assets.core.report.statistics import (
    ShardUnreadable,
    iter_lines,
    load_manifest,
    package_cells,
)
from jsonl_assets_tests.core.report.independent import (
    cell_figures,
    histogram,
    published_records,
)


def test_report_figures_match_the_shards(tiny_package: Path, tiny_data: dict[str, Any]) -> None:
    cfg = load_config(tiny_package)
    data = tiny_data
    records = published_records(cfg.output.dir)
    edges = data["length_edges"]
    assert edges[0] == 0 and all(a < b for a, b in pairwise(edges))
    cells = {(c["objective"], c["split"]): c for c in data["cells"]}
    assert set(cells) == set(records)
    assert data["totals"]["records"] == sum(len(r) for r in records.values()) == 104
    for (objective, split), recs in records.items():
        mine, theirs = cell_figures(objective, recs), cells[(objective, split)]
        where = f"{objective}/{split}"
        for key in ("records", "turns", "candidates", "grading_types", "tool_call_records"):
            assert theirs[key] == mine[key], (where, key)
        assert theirs["sources"] == mine["sources"], where
        # Few licences: every one counted by name, none under `other`.
        licences = {
            s: {**c["values"], **({"(none)": c["none"]} if c["none"] else {})}
            for s, c in theirs["licences"].items()
        }
        assert licences == mine["licences"], where
        for kind, values in mine["lengths"].items():
            for i, unit in enumerate(("chars", "words")):
                expected = histogram([v[i] for v in values], edges)
                assert theirs["lengths"][kind][unit] == expected, (where, kind, unit)
    # The tiny corpus exercises every figure: tool calls, 3 candidates, three grading types.
    total = {k: sum(c[k] for c in data["cells"]) for k in ("tool_call_records",)}
    assert total["tool_call_records"] > 0
    assert any("3" in c["candidates"] for c in data["cells"])
    grading = {g for c in data["cells"] for g in c["grading_types"]}
    assert grading == {"numeric", "exact_match", "rubric"}


def test_shards_measured_on_worker_processes_add_up_to_the_same_figures(
    tiny_package: Path,
) -> None:
    package = load_config(tiny_package).output.dir
    manifest = load_manifest(package)
    shards = sum(len(e["shards"]) for e in manifest["files"])
    assert shards > 2  # the pool gets more than one shard to measure
    one = [c.to_json() for c in package_cells(package, manifest, workers=1)]
    # 12 workers: parts of about 9 records, so the shards of 10 are cut in two line ranges
    assert max(s["record_count"] for e in manifest["files"] for s in e["shards"]) == 10
    for workers in (3, 12):
        assert [c.to_json() for c in package_cells(package, manifest, workers)] == one


def _copied_package(tiny_package: Path, tmp_path: Path) -> tuple[Path, dict[str, Any], Path]:
    package = tmp_path / "package"
    shutil.copytree(load_config(tiny_package).output.dir, package)
    manifest = load_manifest(package)
    shard = package / manifest["files"][0]["shards"][0]["path"]
    return package, manifest, shard


@pytest.mark.parametrize("workers", [1, 3])
def test_a_cut_shard_is_named_not_a_killed_worker(
    tiny_package: Path, tmp_path: Path, workers: int
) -> None:
    package, manifest, shard = _copied_package(tiny_package, tmp_path)
    data = shard.read_bytes()
    shard.write_bytes(data[:50])  # cut inside its first line (or its compressed stream)
    with pytest.raises(ShardUnreadable) as caught:
        package_cells(package, manifest, workers)
    message = str(caught.value)
    assert (shard.name in message and "line 1" in message) or "offset" in message
    assert "killed" not in message


@pytest.mark.parametrize("workers", [1, 3])
def test_a_shard_line_that_is_not_json_is_named_with_its_line(
    tiny_package: Path, tmp_path: Path, workers: int
) -> None:
    package, manifest, shard = _copied_package(tiny_package, tmp_path)
    entry = manifest["files"][0]["shards"][0]
    lines = list(iter_lines(shard, entry.get("compression", "none")))
    entry["compression"] = "none"  # (the manifest is the one given, not the file's)
    lines[2] = b"not json"
    shard.write_bytes(b"\n".join(lines))
    with pytest.raises(ShardUnreadable) as caught:
        package_cells(package, manifest, workers)
    assert f"shard {shard}: line 3: JSONDecodeError" in str(caught.value)
