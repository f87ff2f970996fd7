"""Surrogate pairs a codec decodes as two code points (`unicode_escape`: `\\ud83d\\ude00`) are
joined where the CSV and text readers decode, before a header's duplicate check, a key, or a
text chunk's cut sees them (surrogate_pairs.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
from jsonl_assets.core.readers.surrogate_pairs import join_pairs, join_pieces
from jsonl_assets.core.traces import Rejection

SMILE = "\U0001f600"
ESCAPE = {"encoding": "unicode_escape"}


def read(tmp_path: Path, name: str, data: bytes, fmt: str, **options: Any) -> list[Any]:
    path = tmp_path / name
    path.write_bytes(data)
    source = SourceFile(path, name)
    return list(read_source(source, fmt, {**ESCAPE, **options}, ReadLimits(1 << 20), tmp_path))


def test_join_pairs_keeps_lone_halves_and_escaped_bytes_once_one_was_seen() -> None:
    assert join_pairs("a\ud83d\ude00b") == f"a{SMILE}b"
    assert join_pairs("\ude00\ud83d") == "\ude00\ud83d"  # low then high: two lone halves
    assert join_pairs("\ud83d\udc0d") == "\U0001f40d"  # the codec's: no byte escaped yet
    assert join_pairs("\ud83d\udc0d", escapes=True) == "\ud83d\udc0d"  # may be a byte
    assert join_pairs("\ud83d\ude00", escapes=True) == SMILE  # U+DD00-U+DFFF: never a byte


def test_a_pair_split_between_two_decoded_pieces_is_joined() -> None:
    text = "x\ud83d\ude00y\ud83d"
    for cut in range(len(text) + 1):
        pieces = [(p, False) for p in (text[:cut], text[cut:]) if p]
        assert "".join(join_pieces(pieces)) == f"x{SMILE}y\ud83d", cut


def test_two_csv_columns_equal_once_pairs_are_joined_are_a_duplicate_header(
    tmp_path: Path,
) -> None:
    """Before: `a\\U0001f600` and `a\\ud83d\\ude00` passed the duplicate check as two names,
    and the extract stage's later join made them one key: the row kept the second column's
    value under the first's name, the other value lost, nothing quarantined."""
    data = b"a\\U0001f600,a\\ud83d\\ude00\nfirst value,second value\n"
    got = read(tmp_path, "s.csv", data, "csv")
    assert len(got) == 1 and isinstance(got[0], Rejection), got
    assert got[0].reason == "csv_bad_header"
    assert f"duplicate column names (surrogate pairs joined) ['a{SMILE}']" in got[0].detail


def test_csv_cells_and_names_are_joined_as_read(tmp_path: Path) -> None:
    data = b"k\\ud83d\\ude00,v\nx\\ud83d\\ude00,\\ud83d\\udc0d\n"
    assert read(tmp_path, "s.csv", data, "csv") == [
        (1, {f"k{SMILE}": f"x{SMILE}", "v": "\U0001f40d"}, None)
    ]


@pytest.mark.parametrize("max_chars", range(1, 30))
def test_a_text_chunk_never_splits_a_pair(tmp_path: Path, max_chars: int) -> None:
    """Before: at `max_chars` 4, `abc\\ud83d\\ude00 is a smile` was cut between the halves, and
    both chunks were rejected as holding a lone surrogate; at 4000 the pair was written."""
    data = b"abc\\ud83d\\ude00 is a smile\n\nnext \\ud83d\\ude00\\ud83d\\ude00 end\n"
    got = read(tmp_path, "e.txt", data, "text", max_chars=max_chars)
    assert not [i for i in got if isinstance(i, Rejection)], got
    texts = [item[1]["text"] for item in got]
    # at max_chars 1 the blank line is more blank text than a chunk takes: no record
    blank = "\n\n" if max_chars > 1 else "\n"
    assert "".join(texts) == f"abc{SMILE} is a smile{blank}next {SMILE}{SMILE} end\n"
    assert all(c < "\ud800" or c > "\udfff" for t in texts for c in t)
    whole = read(tmp_path, "d.txt", data, "text", mode="document")
    assert [item[1]["text"] for item in whole] == [
        f"abc{SMILE} is a smile\n\nnext {SMILE}{SMILE} end\n"
    ]


@pytest.mark.parametrize(("name", "fmt"), [("e.txt", "text"), ("s.csv", "csv")])
def test_after_an_undecodable_byte_a_low_half_that_may_be_a_byte_is_not_joined(
    tmp_path: Path, name: str, fmt: str
) -> None:
    """`\\xZ1` is no escape: its bytes are escaped as U+DC5C.. (undecodable). After it, a low
    half in U+DC00-U+DCFF cannot be told from an escaped byte: never joined into a character."""
    data = b"h\nbad \\xZ1\n\nsnake \\ud83d\\udc0d\n\nsmile \\ud83d\\ude00\n"
    got = (
        read(tmp_path, name, data, fmt, max_chars=8)
        if fmt == "text"
        else read(tmp_path, name, data, fmt)
    )
    rejected = [i.reason for i in got if isinstance(i, Rejection)]
    assert rejected == ["invalid_encoding", "invalid_encoding"], got
    texts = [v for item in got if not isinstance(item, Rejection) for v in item[1].values()]
    assert any(SMILE in t for t in texts) and not any("\U0001f40d" in t for t in texts)
