"""Parquet footers that describe their row groups wrongly: found before polars reads a row
(parquet_footer.py), the intact row groups read, no Rust panic on stderr, no row invented."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jsonl_assets_tests.readers.test_parquet_panics import _read
from jsonl_assets_tests.readers.thrift_footer import Struct, chunk_meta, load, row_groups, save

ROWS = 1000  # 10 row groups of 100


def _damaged(tmp_path: Path, edit: Callable[[Struct, int], None]) -> Path:
    table = pa.table({"id": list(range(ROWS)), "text": [f"r{i % 7}" for i in range(ROWS)]})
    base = tmp_path / "base.parquet"
    pq.write_table(table, base, row_group_size=100, use_dictionary=["text"])
    body, meta = load(base)
    meta = copy.deepcopy(meta)
    edit(meta, len(body))
    path = tmp_path / "f.parquet"
    save(path, body, meta)
    return path


def _file_rows(meta: Struct, _: int) -> None:
    meta[3][1] = 1300  # 300 rows more than the row groups hold


def _group_rows(meta: Struct, _: int) -> None:
    row_groups(meta)[3][3][1] = 5000  # row group 3 (rows 301-400) holds 100


def _group_rows_zero(meta: Struct, _: int) -> None:
    row_groups(meta)[3][3][1] = 0


def _dictionary_past_end(meta: Struct, size: int) -> None:
    chunk_meta(row_groups(meta)[3], 0)[11] = [6, size * 3]  # column id has no dictionary


def _zero_rows_past_end(meta: Struct, size: int) -> None:
    group = copy.deepcopy(row_groups(meta)[0])
    group[3][1] = 0
    for c in (0, 1):
        chunk = chunk_meta(group, c)
        chunk[9][1] += size * 3
        if 11 in chunk:
            chunk[11][1] += size * 3
        chunk[5][1] = 0
    row_groups(meta).insert(5, group)


def _negative(field: int) -> Callable[[Struct, int], None]:
    def edit(meta: Struct, _: int) -> None:
        chunk_meta(row_groups(meta)[3], 0)[field] = [6, -100]

    return edit


def _records(lines: list[str]) -> list[int]:
    return [int(line.split('"id":')[1].split(",")[0]) for line in lines if line.startswith("{")]


def _rejections(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.startswith("{")]


@pytest.mark.parametrize("batch_rows", [30, 8192])
def test_a_file_row_count_past_its_row_groups_invents_no_row(
    tmp_path: Path, batch_rows: int
) -> None:
    """num_rows 1300 over row groups holding 1000: 300 phantom rows were `unsupported_value`
    (the read count 300 too high) after ~12,600 Rust panic blocks (14 MB) on stderr. Now the
    1000 rows are read and the footer's count is told once."""
    lines, err = _read(_damaged(tmp_path, _file_rows), batch_rows)
    assert _records(lines) == list(range(ROWS))
    assert _rejections(lines) == ["corrupt_file 1001"]
    assert "panicked" not in err


@pytest.mark.parametrize("edit", [_group_rows, _group_rows_zero])
def test_a_row_group_count_its_columns_contradict_is_corrupt_file_alone(
    tmp_path: Path, edit: Callable[[Struct, int], None]
) -> None:
    """Row group 3 claiming 5000 rows (its columns hold 100): rows 401-1000 of intact row
    groups were `unsupported_value`, with ~17,000 Rust panic blocks (22 MB) on stderr. Now
    the row group's 100 rows are `corrupt_file` and the others read."""
    lines, err = _read(_damaged(tmp_path, edit), 8192)
    assert _records(lines) == [*range(300), *range(400, ROWS)]
    assert _rejections(lines) == [f"corrupt_file {n}" for n in range(301, 401)]
    assert "panicked" not in err


@pytest.mark.parametrize("field", [7, 9, 11])
def test_a_negative_offset_or_size_makes_the_file_corrupt_not_unsupported(
    tmp_path: Path, field: int
) -> None:
    """A negative data page offset, size or dictionary offset made polars panic opening the
    footer, and the file was `unsupported_type` ("valid Parquet"). Now it is `corrupt_file`."""
    lines, err = _read(_damaged(tmp_path, _negative(field)), 8192)
    assert lines == ["corrupt_file 0"]
    assert "panicked" not in err


def test_a_dictionary_offset_past_the_end_is_judged_as_polars_reads_it(tmp_path: Path) -> None:
    """A dictionary page offset past the end on a column with no dictionary: polars reads
    the chunk from it and panicked (4 blocks per read). Now the row group is `corrupt_file`."""
    lines, err = _read(_damaged(tmp_path, _dictionary_past_end), 8192)
    assert _records(lines) == [*range(300), *range(400, ROWS)]
    assert _rejections(lines) == [f"corrupt_file {n}" for n in range(301, 401)]
    assert "panicked" not in err


def test_a_zero_row_group_past_the_end_is_never_fetched(tmp_path: Path) -> None:
    """A row group of no rows placed past the end: polars fetched it and panicked (68 blocks
    per read). It holds no row, so every row is read, and polars never sees the file."""
    lines, err = _read(_damaged(tmp_path, _zero_rows_past_end), 8192)
    assert _records(lines) == list(range(ROWS))
    assert _rejections(lines) == []
    assert "panicked" not in err


_RECOVER = """
import sys
from pathlib import Path
from jsonl_assets.core.readers.parquet import ShortRead, _recover
from jsonl_assets.core.readers.parquet_checks import Inspection
for i in _recover(Path(sys.argv[1]), 400, 8192, 1 << 20, ShortRead("probe"), Inspection()):
    print(f"{i.reason} {i.position}")
"""


def test_rows_polars_panics_on_are_not_probed_one_by_one(tmp_path: Path) -> None:
    """Rows polars' reader panics on (here: a row group count its columns contradict, read
    past the footer check, as any panic polars raises per row would be) were asked of polars
    row by row: 600 rows, ~16,800 Rust panic blocks (22 MB). Past 8 rows the panicking
    stretch is found by probes: every row still quarantined, a few hundred blocks at most."""
    path = _damaged(tmp_path, _group_rows)
    done = subprocess.run(
        [sys.executable, "-c", _RECOVER, str(path)], capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines() == [f"unsupported_value {n}" for n in range(401, 1001)]
    assert done.stderr.count("panicked") < 1000
