"""Lists of file names in messages, report cells and check tables stay bounded when a source
matches tens of thousands of files (a build of 20,000 files printed every name in one line)."""

from __future__ import annotations

import io

from jsonl_assets.core.build import nothing_to_publish
from jsonl_assets.core.build_summary import empty_partition_line, print_sources
from jsonl_assets.core.manifest_builder import PartitionShards
from jsonl_assets.core.named_list import NAMED, some_names
from jsonl_assets.core.report.datacard import _files_cell

FILES = [f"raw/d{i // 1000}/f{i % 1000}.jsonl" for i in range(20_000)]


def test_some_names_lists_the_first_ones_then_how_many_more() -> None:
    assert some_names([]) == ""
    assert some_names(["a", "b"]) == "a, b"
    assert some_names(FILES[:NAMED]) == ", ".join(FILES[:NAMED])
    said = some_names(FILES)
    assert said == ", ".join(FILES[:NAMED]) + f" and {20_000 - NAMED:,} more files"
    assert some_names(["s1", "s2", "s3"], "sources", most=2) == "s1, s2 and 1 more sources"


def test_an_empty_partition_of_20000_files_is_one_short_line() -> None:
    result = {
        "key": "sft|validation",
        "success": True,
        "seconds": 1.0,
        "per_source": {"s": {"read": 0, "written": 0, "quarantined": 0, "files": 20_000}},
        "source_files": [["s", f] for f in FILES],
    }
    line = empty_partition_line(result)
    assert line is not None and len(line) < 1000
    assert line.startswith("sft|validation: no records in s (raw/d0/f0.jsonl, raw/d0/f1.jsonl")
    assert line.endswith(f" and {20_000 - NAMED:,} more files)")
    out = io.StringIO()
    print_sources([result], out)
    assert len(out.getvalue()) < 2000


def test_nothing_to_publish_names_a_bounded_list_of_files() -> None:
    files = [{"source": "s", "file": f} for f in FILES]
    said = nothing_to_publish([PartitionShards("sft", "train", [], files=files)])
    assert len(said) < 2000 and f"and {20_000 - NAMED:,} more files" in said


def test_the_datacard_files_cell_is_bounded_and_says_metadata_json_lists_them() -> None:
    files = [{"source": "s", "file": f} for f in FILES] + [{"source": "t", "file": "one.jsonl"}]
    cell = _files_cell(files, "s")
    assert len(cell) < 2000
    assert cell.endswith(f"and {20_000 - NAMED:,} more files (metadata.json lists all 20,000)")
    assert _files_cell(files, "t") == "`one.jsonl`"
    assert _files_cell(files, "u") == "none"
