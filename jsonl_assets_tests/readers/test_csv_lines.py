"""csv_lines.py: a row open at the end of the file does not make the rows after it read the
lines to the end again (each would be open there too: quadratic in the lines). The sizes
here took minutes before; the outputs are those the full re-reads gave."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
from jsonl_assets.core.traces import Rejection

GOOD = 5
N = 60_000  # lines that each leave a quote open: ~5 min with a re-read to the end per line


def read(tmp_path: Path, data: bytes, limit: int = 16 << 20) -> list[Any]:
    path = tmp_path / "data.csv"
    path.write_bytes(data)
    return list(read_source(SourceFile(path, path.name), "csv", {}, ReadLimits(limit), tmp_path))


def check_all_open(items: list[Any], line: bytes, raw: bytes, *, truncated: bool) -> None:
    last_line = 1 + GOOD + N
    assert items[:GOOD] == [(i, {"prompt": "p", "response": "r"}, None) for i in range(1, 6)]
    rejected = items[GOOD:]
    assert len(rejected) == N
    for k, item in enumerate(rejected):
        assert isinstance(item, Rejection)
        row = GOOD + 1 + k
        assert (item.position, item.reason, item.raw) == (row, "csv_unclosed_quote", raw)
        assert item.raw_truncated is truncated
        assert item.detail.startswith(
            f"row {row} (line {row + 1}): a quoted field opened here is never closed: it is "
            f"still open at the end of the file (line {last_line})"
        ), item.detail
    assert line.rstrip(b"\r\n").startswith(raw)


@pytest.mark.parametrize("line", [b'a","b\n', b'a","b\r\n', b'a","b\r', b'1,2","3\n'])
def test_every_line_leaving_a_quote_open_is_read_in_linear_time(
    tmp_path: Path, line: bytes
) -> None:
    data = b"prompt,response\n" + b"p,r\n" * GOOD + line * N
    check_all_open(read(tmp_path, data), line, line.rstrip(b"\r\n"), truncated=False)


def test_lines_too_long_to_hold_leaving_a_quote_open_are_read_in_linear_time(
    tmp_path: Path,
) -> None:
    """The row too large to hold is followed to its end (csv_skip.py): not to the end of the
    file once per line either."""
    line = b"a" * 30 + b'","b\n'
    data = b"prompt,response\n" + b"p,r\n" * GOOD + line * N
    # Its raw is the part of its first line that was held (limit + 2 characters).
    check_all_open(read(tmp_path, data, limit=20), line, b"a" * 22, truncated=True)
