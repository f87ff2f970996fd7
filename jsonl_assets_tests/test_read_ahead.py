from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from jsonl_assets.core.read_ahead import read_ahead


def _helpers() -> int:
    return sum(t.name == "read-ahead" for t in threading.enumerate())


def test_items_come_in_order_and_the_helper_ends() -> None:
    assert list(read_ahead(iter(range(1000)), depth=3)) == list(range(1000))
    assert _helpers() == 0


def test_what_the_iterator_raises_is_raised_in_its_place() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("damaged at frame 3")

    got: list[int] = []
    with pytest.raises(ValueError, match="damaged at frame 3"):
        for item in read_ahead(items()):
            got.append(item)
    assert got == [1, 2]
    assert _helpers() == 0


def test_a_reader_that_stops_early_stops_the_helper() -> None:
    made: list[int] = []

    def items() -> Iterator[int]:
        for i in range(10_000):
            made.append(i)
            yield i

    ahead = read_ahead(items(), depth=2)
    assert [next(ahead) for _ in range(5)] == [0, 1, 2, 3, 4]
    ahead.close()
    assert _helpers() == 0
    assert len(made) < 10  # the helper stayed at most a few items ahead, then stopped
