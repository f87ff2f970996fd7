"""Parquet files polars would panic on (a Rust panic block on stderr) are read without one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# Reads one file in a child process (a Rust panic writes to fd 2, past Python's sys.stderr)
# and prints, per item, the record's JSON or `reason position`.
_READ = """
import sys
from pathlib import Path
from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
from jsonl_assets.core.traces import Rejection
p = Path(sys.argv[1])
options = {"batch_rows": int(sys.argv[2])}
for i in read_source(SourceFile(p, p.name), "parquet", options, ReadLimits(16 << 20), p.parent / "s"):
    print(f"{i.reason} {i.position}" if isinstance(i, Rejection) else i[2].decode())
"""


def _read(path: Path, batch_rows: int) -> tuple[list[str], str]:
    env = {**os.environ, "RUST_BACKTRACE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _READ, str(path), str(batch_rows)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stdout.splitlines(), done.stderr


def test_a_decimal256_of_38_digits_or_fewer_is_read_by_batches_without_a_panic(
    tmp_path: Path,
) -> None:
    """A decimal256(20, 2) in a row group larger than `batch_rows` made polars panic on
    `pl.from_arrow` ("operator does not support primitive `Int256`", ~110 stderr lines per
    read, a backtrace with RUST_BACKTRACE=1) before the file fell back to polars' reader;
    and polars' reader panicked on each row holding a decimal256 in a struct, which was
    `unsupported_value` whatever `batch_rows`."""
    d = pa.decimal256(20, 2)
    nested = pa.list_(pa.struct([("x", pa.decimal256(30, 3))]))
    table = pa.table(
        {
            "text": ["a", "b", "c", "d"],
            "d": pa.array([Decimal("1.5"), None, Decimal("0.1"), Decimal("2.25")], d),
            "n": pa.array([[{"x": Decimal("1.125")}], None, [], [{"x": None}]], nested),
        }
    )
    path = tmp_path / "d.parquet"
    pq.write_table(table, path, row_group_size=4)
    for batch_rows in (2, 8192):
        lines, err = _read(path, batch_rows)
        assert "panicked" not in err, err[:2000]
        assert [json.loads(line) for line in lines] == [
            {"text": "a", "d": 1.5, "n": [{"x": 1.125}]},
            {"text": "b", "d": None, "n": None},
            {"text": "c", "d": 0.1, "n": []},
            {"text": "d", "d": 2.25, "n": [{"x": None}]},
        ]


def test_row_groups_a_footer_places_past_the_end_are_corrupt_file_unread(tmp_path: Path) -> None:
    """A file cut in the middle and given its footer again (600 of 1,000 rows within it):
    the accounting was right, but polars panicked probing the damaged range ("panicked at
    crates/polars-io/src/utils/byte_source.rs: assertion failed: range.end as u64 <=
    self.size", ~300 stderr lines per read). Now the footer's offsets are checked against the
    file's size and those row groups are never handed to polars."""
    n = 1000
    whole = tmp_path / "whole.parquet"
    table = pa.table({"id": list(range(n)), "text": [f"r{i}" for i in range(n)]})
    pq.write_table(table, whole, row_group_size=100)
    data = whole.read_bytes()
    footer = int.from_bytes(data[-8:-4], "little") + 8
    path = tmp_path / "cut.parquet"
    path.write_bytes(data[: len(data) // 2] + data[-footer:])
    for batch_rows in (8192, 30):  # polars' reader; pyarrow's batches
        lines, err = _read(path, batch_rows)
        assert "panicked" not in err, err[:2000]
        assert [json.loads(line)["id"] for line in lines[:600]] == list(range(600))
        assert lines[600:] == [f"corrupt_file {row}" for row in range(601, n + 1)]
