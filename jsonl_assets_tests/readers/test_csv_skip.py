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
    """From each row's first line, the skipper takes as many lines as the strict csv module's
    row (csv_rows.py reads in strict mode): a row with text after a closing quote ends with
    the line holding it, a quoted field open at the end ends nothing."""
    text = "".join(pieces) + "\n"
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(iter(lines), delimiter=delimiter, quotechar='"', strict=True)
    start = 0
    while start < len(lines):
        open_at_end = False
        try:
            next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if str(exc) == "unexpected end of data":
                open_at_end = True
            elif " expected after " not in str(exc):
                return  # not a row the csv module reads (a NUL, say): nothing to compare
        end = reader.line_num
        rest = iter(lines[start + 1 :])
        taken, ended = skip_row([lines[start]], lambda rest=rest: next(rest, ""), delimiter, '"')
        assert ended == (not open_at_end), (lines, start)
        assert start + 1 + taken == end, (lines, start, end, taken)
        start = end


def test_a_row_read_in_pieces_ends_at_its_line_end_outside_quotes() -> None:
    pieces = iter(['"long', " text, with ", 'a "" quote', '",next\n', "never\n"])
    taken, ended = skip_row(["1,"], lambda: next(pieces, ""), ",", '"')
    assert (taken, ended) == (4, True) and next(pieces) == "never\n"


def test_text_after_a_closing_quote_ends_the_row_with_its_line() -> None:
    """The strict reader drops the rest of the line and reads on at the next one: a quote
    opened after the stray text does not carry the row over the line end."""
    pieces = iter(['line"\n', "never\n"])
    taken, ended = skip_row(['1,"a"x,"open\n'], lambda: next(pieces, ""), ",", '"')
    assert (taken, ended) == (0, True) and next(pieces) == 'line"\n'
    pieces = iter(["ing text", ' "still" the line\n', "next\n"])
    taken, ended = skip_row(['1,"a"b'], lambda: next(pieces, ""), ",", '"')
    assert (taken, ended) == (2, True) and next(pieces) == "next\n"
