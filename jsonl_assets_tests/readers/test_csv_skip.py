from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from jsonl_assets.core.readers.csv_skip import skip_row

PIECES = ["a", "b c", ",", '"', '""', "\n", "\r\n", "\r", "x,y", '"q"', ";"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=30), st.sampled_from([",", ";"]))
def test_a_row_ends_where_the_csv_module_ends_it(pieces: list[str], delimiter: str) -> None:
    """From each row's first line, the skipper takes as many lines as the csv module's row."""
    text = "".join(pieces) + "\n"
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(iter(lines), delimiter=delimiter, quotechar='"')
    start = 0
    while True:
        try:
            next(reader)
        except StopIteration:
            break
        except csv.Error:
            return  # not a row the csv module reads (a NUL, say): nothing to compare
        end = reader.line_num
        rest = iter(lines[start + 1 :])
        taken, ended = skip_row([lines[start]], lambda rest=rest: next(rest, ""), delimiter, '"')
        assert ended == (end <= len(lines) and not _open_at_end(lines[start:end], delimiter))
        assert start + 1 + taken == end, (lines, start, end, taken)
        start = end


def _open_at_end(lines: list[str], delimiter: str) -> bool:
    """Whether the csv module would still be inside a quoted field after `lines`."""
    reader = csv.reader(iter([*lines, "\ud800"]), delimiter=delimiter, quotechar='"')
    row = next(reader, [])
    return bool(row) and row[-1].endswith("\ud800")


def test_a_row_read_in_pieces_ends_at_its_line_end_outside_quotes() -> None:
    pieces = iter(['"long', " text, with ", 'a "" quote', '",next\n', "never\n"])
    taken, ended = skip_row(["1,"], lambda: next(pieces, ""), ",", '"')
    assert (taken, ended) == (4, True) and next(pieces) == "never\n"
