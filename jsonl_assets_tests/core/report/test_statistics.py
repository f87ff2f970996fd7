"""The report's per objective x split figures equal the ones
recomputed here from the published shards."""

from __future__ import annotations

import re
import shutil
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import zstandard

from jsonl_assets.core.config import load_config
from jsonl_assets.core.report import write_report
from jsonl_assets.core.report.package_report import ReportNotWritten, report_files
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


def _rewritten(shard: Path, compression: str, lines: list[bytes]) -> None:
    data = b"".join(line + b"\n" for line in lines)
    shard.write_bytes(zstandard.ZstdCompressor().compress(data) if compression == "zstd" else data)


@pytest.mark.parametrize("workers", [1, 3, 12])
def test_a_shard_that_is_not_metadata_jsons_fails_the_report(
    tiny_package: Path, tmp_path: Path, workers: int
) -> None:
    """A shard whose bytes are not the ones metadata.json lists (its last line gone: a valid
    stream of valid records) is not measured as the package: its sha256, taken as it is
    read, names it (before: the report counted 9 records where metadata.json lists 10). On
    12 workers the shard is measured in two line ranges; the one that reads to its end checks."""
    package, manifest, shard = _copied_package(tiny_package, tmp_path)
    entry = manifest["files"][0]["shards"][0]
    compression = entry.get("compression", "none")
    assert entry["record_count"] == 10
    _rewritten(shard, compression, list(iter_lines(shard, compression))[:-1])
    with pytest.raises(ShardUnreadable) as caught:
        package_cells(package, manifest, workers)
    message = str(caught.value)
    assert message.startswith(f"shard {shard}: its sha256 is ")
    assert f"metadata.json lists {entry['sha256']}" in message
    assert f"`jsonl-assets verify {package}`" in message and "\n" not in message
    # Without a sha256 listed, the record count tells.
    del entry["sha256"]
    with pytest.raises(ShardUnreadable, match=r"it holds 9 records, metadata\.json lists 10"):
        package_cells(package, manifest, workers)


def test_a_report_of_a_shard_not_metadata_jsons_writes_nothing(
    tiny_package: Path, tmp_path: Path
) -> None:
    """`jsonl-assets report` on such a package (its work dir gone): nothing written, no stamp
    that a later build would keep."""
    root = tmp_path / "data"
    shutil.copytree(tiny_package.parent, root, ignore=shutil.ignore_patterns("work", "*-report"))
    cfg = load_config(root / tiny_package.name)
    manifest = load_manifest(cfg.output.dir)
    entry = manifest["files"][0]["shards"][0]
    shard = cfg.output.dir / entry["path"]
    compression = entry.get("compression", "none")
    lines = list(iter_lines(shard, compression))
    _rewritten(shard, compression, [lines[1], lines[0], *lines[2:]])  # same records, other bytes
    with pytest.raises(ReportNotWritten, match=re.escape(f"shard {shard}: its sha256 is ")):
        write_report(cfg)
    assert report_files(cfg) == []
