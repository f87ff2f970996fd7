"""The raw_sources observation of a partition fed by many files: a table of the first
MAX_TABLE_ROWS files and how many more, the count and bytes of all of them as numbers."""

from __future__ import annotations

from pathlib import Path

from jsonl_assets.core.config import load_config
from jsonl_assets.core.source_fingerprints import take_snapshot
from jsonl_assets.defs.observations import partition_metadata
from jsonl_assets.defs.ui_metadata import MAX_TABLE_ROWS, table
from jsonl_assets_tests.conftest import write_config


def test_the_files_table_of_an_observation_is_capped(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    count = MAX_TABLE_ROWS + 50
    for i in range(count):
        (raw / f"{'n' * 200}{i:04d}.jsonl").write_bytes(b'{"text": "x"}\n' * (i + 1))
    source = {"name": "s", "paths": ["raw/*.jsonl"], "objective": "cpt", "adapter": "native"}
    config = write_config(
        tmp_path / "pipeline.yaml",
        {"dataset": {"name": "t", "description": "d"}, "sources": [{**source, "split": "train"}]},
    )
    meta = partition_metadata(take_snapshot(load_config(config)), "cpt|train")
    files = meta["files"].value  # type: ignore[union-attr]
    assert meta["file_count"].value == count  # type: ignore[union-attr]
    assert meta["bytes (B)"].value == 14 * count * (count + 1) // 2  # type: ignore[union-attr]
    assert files.count("\n| s | raw/") == MAX_TABLE_ROWS
    assert f"raw/{'n' * 200}0000.jsonl" in files and f"{MAX_TABLE_ROWS:04d}.jsonl" not in files
    assert files.endswith(f"_and 50 more ({count} rows in all)_")


def test_a_short_table_is_whole() -> None:
    assert table(["a"], [[1], [2]]) == "| a |\n|---|\n| 1 |\n| 2 |"


def test_files_hashed_counts_the_partitions_own_files(tmp_path: Path) -> None:
    """`files_hashed` is the number of the partition's files read for the snapshot (it was
    the snapshot's whole count: 6 on a partition of one file)."""
    for name, lines in (("cpt", 5), ("sft", 1)):
        (tmp_path / name).mkdir()
        for i in range(lines):
            (tmp_path / name / f"{i}.jsonl").write_bytes(b'{"text": "x"}\n')
    sources = [
        {"name": "notes", "paths": ["cpt/*.jsonl"], "objective": "cpt", "adapter": "native",
         "split": "train"},
        {"name": "chats", "paths": ["sft/*.jsonl"], "objective": "sft", "adapter": "native",
         "split": "test"},
    ]  # fmt: skip
    config = write_config(
        tmp_path / "pipeline.yaml",
        {"dataset": {"name": "t", "description": "d"}, "sources": sources},
    )
    cfg = load_config(config)
    first = take_snapshot(cfg)
    hashed = {
        k: partition_metadata(first, k)["files_hashed"].value
        for k in ("cpt|train", "sft|test", "rft|test")
    }  # type: ignore[union-attr]
    assert hashed == {"cpt|train": 5, "sft|test": 1, "rft|test": 0}
    again = take_snapshot(cfg, first.files)  # nothing changed: nothing read
    assert partition_metadata(again, "cpt|train")["files_hashed"].value == 0  # type: ignore[union-attr]


def test_a_file_several_sources_list_counts_for_each_partition_once(tmp_path: Path) -> None:
    """A file two sources list was read once for the snapshot; each partition those sources
    feed counts it, once (it was credited to the first source only: the second's partition
    said 0)."""
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "shared.jsonl").write_bytes(b'{"text": "x"}\n')
    (tmp_path / "raw" / "own.jsonl").write_bytes(b'{"text": "y"}\n')
    base = {"objective": "cpt", "adapter": "native"}
    sources = [
        {**base, "name": "a", "paths": ["raw/shared.jsonl"], "split": "train"},
        {**base, "name": "b", "paths": ["raw/shared.jsonl", "raw/own.jsonl"], "split": "test"},
        {**base, "name": "c", "paths": ["raw/shared.jsonl"], "split": "test"},
    ]
    config = write_config(
        tmp_path / "pipeline.yaml",
        {"dataset": {"name": "t", "description": "d"}, "sources": sources},
    )
    snapshot = take_snapshot(load_config(config))
    hashed = {
        k: partition_metadata(snapshot, k)["files_hashed"].value for k in ("cpt|train", "cpt|test")
    }  # type: ignore[union-attr]
    assert hashed == {"cpt|train": 1, "cpt|test": 2}
    assert len(snapshot.hashed) == 2
