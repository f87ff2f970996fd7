"""The manifest's metadata claims no package that was not published: a manifest the
verification refused (an id in two splits) has no metadata_json, dagster/row_count, records,
shards or quarantine_published, says what was refused and names its candidate in the work
dir, and its summary says FAILED in every cell, never `checks passed`; a publication stopped
by a partition marks the others not published and gives the left-out partition the records
its extraction quarantined (was a hard-coded 0). Real builds in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg

from jsonl_assets.core.build import build_partition
from jsonl_assets.core.config import load_config
from jsonl_assets.core.manifest_builder import PartitionShards
from jsonl_assets.defs.manifest_metadata import package_cells
from jsonl_assets.defs.stage_metadata import PUBLISHED_QUARANTINE, ROW_COUNT
from jsonl_assets.defs.ui_metadata import package_summary_table
from jsonl_assets_tests.conftest import materialize, write_config

DOC = '{{"messages":[{{"role":"document","content":"{}"}}]}}\n'
CLAIMS = ("metadata_json", ROW_COUNT, "records", "shards", "partitions", PUBLISHED_QUARANTINE)


def _cpt(tmp_path: Path, sources: dict[str, tuple[str, list[str]]]) -> Path:
    """A cpt config of one source per split: name -> (split, documents)."""
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    entries = []
    for name, (split, docs) in sources.items():
        (raw / f"{name}.jsonl").write_text("".join(DOC.format(d) for d in docs))
        entries.append(
            {"name": name, "paths": [f"raw/{name}.jsonl"], "split": split}
            | {"objective": "cpt", "adapter": "native"}
        )
    data = {"dataset": {"name": "t", "description": "d"}, "sources": entries}
    return write_config(tmp_path / "pipeline.yaml", data)


def _manifest_metadata(config: Path, instance: dg.DagsterInstance) -> dict[str, Any]:
    cfg = load_config(config)
    for source in cfg.sources:
        build_partition(cfg, f"cpt|{source.split}")
    result = materialize(config, instance, None)
    [event] = result.get_asset_materialization_events()
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def _published_records(package: Path) -> int:
    document = json.loads((package / "metadata.json").read_bytes())
    return sum(s["record_count"] for f in document["files"] for s in f["shards"])


def test_a_refused_manifest_claims_no_package(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    train = ("train", ["alpha", "beta", "gamma"])
    published = _manifest_metadata(_cpt(tmp_path, {"tr": train}), instance)
    assert published["published"] is True and published[ROW_COUNT] == 3
    assert published[PUBLISHED_QUARANTINE]  # a real pointer
    # "beta" in test too: an id in two splits, the package is refused.
    config = _cpt(tmp_path, {"tr": train, "te": ("test", ["delta", "beta"])})
    refused = _manifest_metadata(config, instance)
    assert refused["published"] is False
    assert not set(CLAIMS) & set(refused), refused  # nothing names or counts a package
    assert _published_records(tmp_path / "package") == 3  # the earlier package, unchanged
    assert refused["records_refused"] == 5 and refused["shards_refused"] == 2
    assert "1 ids in two splits" in refused["problems"]
    assert "metadata.json was not published" in refused["problems"]
    candidate = Path(refused["candidate"])
    assert candidate.is_file() and candidate.is_relative_to(tmp_path / "work")
    assert "checks passed" not in refused["summary"]
    for split in ("train", "test"):
        [row] = [r for r in refused["summary"].splitlines() if r.startswith(f"| {split} ")]
        assert "FAILED: package_valid" in row, row


def test_a_refused_first_manifest_names_no_metadata_json(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    config = _cpt(tmp_path, {"tr": ("train", ["a", "b"]), "te": ("test", ["b"])})
    refused = _manifest_metadata(config, instance)
    assert refused["published"] is False and not set(CLAIMS) & set(refused), refused
    assert not (tmp_path / "package" / "metadata.json").exists()


def _rft(tmp_path: Path) -> Path:
    """An rft source of 100 lines, 20 of them broken JSON, above a 5% parse threshold."""
    raw = tmp_path / "raw"
    raw.mkdir()
    lines = []
    for i in range(100):
        if i % 5 == 0:
            lines.append('{"id": oops\n')
            continue
        reference = {"grading": {"type": "numeric", "tolerance": 0}, "answer": i + 1}
        messages = [{"role": "user", "content": f"What is {i}+1?"}]
        lines.append(json.dumps({"id": f"r-{i}", "messages": messages, "reference": reference}))
        lines[-1] += "\n"
    (raw / "rft.jsonl").write_text("".join(lines))
    source = {"name": "r", "paths": ["raw/rft.jsonl"], "objective": "rft", "adapter": "native"}
    return write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "d"},
            "thresholds": {"max_parse_failure_rate": 0.05},
            "sources": [{**source, "split": "train", "id_field": "id"}],
        },
    )


def test_a_left_out_partition_shows_what_its_extraction_quarantined(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    config = _rft(tmp_path)
    cfg = load_config(config)
    build_partition(cfg, "rft|train")
    result = materialize(config, instance, None)
    [event] = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    assert meta["published"].value is False and not set(CLAIMS) & set(meta)
    [row] = [r for r in meta["summary"].value.splitlines() if r.startswith("| train ")]
    cell = row.split("|")[4].strip()  # split, sft, preference, rft
    quarantined = tmp_path / "work" / "rft" / "train" / "quarantine" / "extracted.jsonl"
    assert len(quarantined.read_bytes().splitlines()) == 20
    assert cell.startswith("0 written, 20 quarantined, 0 shards: FAILED: blocking check"), cell


def _partition(objective: str, split: str, records: int) -> PartitionShards:
    shards = [{"path": "x", "record_count": records}] if records else []
    files = [{"source": "s", "file": "f"}]
    return PartitionShards(objective, split, shards, files=files, accounting={"quarantined": 1})


def test_cells_of_an_unpublished_package_never_say_only_checks_passed() -> None:
    """A partition's problems are all named; one whose record stages are out of date shows no
    quarantined count (none measured); the others are marked not published."""
    problems = [
        "sft|test: blocking check parse_failure_rate failed: 1 of 2",
        "sft|test: blocking check invalid_rate failed: 1 of 1",
        "cpt|test: its record stages (...) were not all built; build the partition again",
    ]
    cells = package_cells(
        [_partition("cpt", "train", 3)],
        problems,
        {"sft|test": 4, "cpt|test": None},
        "not published (see problems)",
    )
    assert cells[("sft", "test")].text() == (
        "0 written, 4 quarantined, 0 shards: FAILED: blocking check parse_failure_rate failed: "
        "1 of 2; blocking check invalid_rate failed: 1 of 1"
    )
    assert cells[("cpt", "test")].text().startswith("0 written, 0 shards: FAILED: its record")
    assert cells[("cpt", "train")].outcome == "checks passed; not published (see problems)"
    assert "| train | - | - | - | 3 written, 1 quarantined, 1 shards: checks passed; not" in (
        package_summary_table(cells)
    )
