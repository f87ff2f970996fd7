"""Skipping one CSV row too large to hold, so that reading goes on at the next row.

The row's quoting is followed as the csv module reads it in strict mode (csv_rows.py): a
quote opens a quoted field only at the field's start, a doubled quote inside one is a quote,
and text after a closing quote other than the delimiter or a line end is an error, after
which the strict reader drops the rest of that physical line and starts the next row on the
next line. This is followed over the text of the row already handed to the csv module and
then over the rest of its physical lines, read in pieces (csv_lines.py) and dropped. The
row ends at the first line end outside a quoted field; a row the input ends inside a quoted
field did not end (csv_rows.py reads the lines after its first one again).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Final

_START, _FIELD, _QUOTED, _QUOTE_IN_QUOTED, _BAD_QUOTE, ENDED = range(6)
_EOL: Final = "\r\n"


def _advance(state: int, text: str, delimiter: str, quote: str, stop: re.Pattern[str]) -> int:
    """The reader's state after `text`; `ENDED` at the first line end outside a quote."""
    i, n = 0, len(text)
    while i < n:
        if state == _QUOTED:
            j = text.find(quote, i)
            if j < 0:
                return _QUOTED
            state, i = _QUOTE_IN_QUOTED, j + 1
        elif state == _BAD_QUOTE:  # text after a closing quote: the row ends with its line
            rest = text[i:]
            return ENDED if "\n" in rest or "\r" in rest else _BAD_QUOTE
        elif state == _FIELD:
            m = stop.search(text, i)
            if m is None:
                return _FIELD
            if m.group() != delimiter:
                return ENDED
            state, i = _START, m.end()
        else:  # at a field's start, or just after a quote inside a quoted field
            c = text[i]
            if c == quote:
                state = _QUOTED
            elif state == _QUOTE_IN_QUOTED and c != delimiter and c not in _EOL:
                state = _BAD_QUOTE
                continue
            elif c == delimiter:
                state = _START
            elif c in _EOL:
                return ENDED
            else:
                state = _FIELD
            i += 1
    return state


def skip_row(
    held: Iterable[str], more: Callable[[], str], delimiter: str, quote: str
) -> tuple[int, bool]:
    """Follow a row from its start: `held` is its text read so far, `more()` the next piece
    of the input ("" at its end). Returns how many pieces were taken from `more` and
    whether the row ended (False: the input ended inside a quoted field)."""
    stop = re.compile(f"[{re.escape(delimiter)}\r\n]")
    state = _START
    for text in held:
        state = _advance(state, text, delimiter, quote, stop)
        if state == ENDED:
            return 0, True
    taken = 0
    while piece := more():
        taken += 1
        state = _advance(state, piece, delimiter, quote, stop)
        if state == ENDED:
            return taken, True
    return taken, state != _QUOTED
