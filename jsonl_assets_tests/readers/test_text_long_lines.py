"""Text chunks: a line is split in time linear in its length, whatever `max_chars`. The line
being read was copied and searched again from its start for every decoded piece (time
length x min(length, max_chars) / piece size: a 128 MiB line under max_chars 10**9 took 8 s
in 1 MiB pieces). Here the pieces are small, so the 16 MiB line took minutes that way; the
split itself takes well under a second."""

from __future__ import annotations

import itertools

import pytest

from jsonl_assets.core.readers.text_chunks import chunk_text, split_lines

LINE = 16 << 20  # characters
PIECE = 1024


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("max_chars", [10**9, LINE + 1, 4 << 20])
def test_a_long_line_is_split_in_linear_time(max_chars: int) -> None:
    text = "a" * LINE
    cuts = [text[i : i + max_chars] for i in range(0, LINE, max_chars)]
    expected = [(c, len(cuts) == 1) for c in cuts]  # a line cut in pieces: none is whole
    assert list(split_lines(_pieces(text, PIECE), max_chars)) == expected
    assert list(chunk_text(_pieces(text, PIECE), max_chars)) == [(1, c) for c in cuts]


def test_long_lines_ended_inside_pieces_are_split_in_linear_time() -> None:
    """Lines of 4 MiB, their newlines anywhere in a piece: only the new piece is searched."""
    lines = ["b" * ((4 << 20) - 1) + "\n" for _ in range(4)]
    text = "".join(lines)
    assert list(split_lines(_pieces(text, PIECE - 1), 10**9)) == [(x, True) for x in lines]
    items = list(split_lines(_pieces(text, PIECE - 1), 3 << 20))
    assert items == list(
        itertools.chain.from_iterable(((x[: 3 << 20], False), (x[3 << 20 :], False)) for x in lines)
    )
