"""A batch of newline-terminated lines held as one block of bytes: the merge hands its lines
to the validated stage and the shard writer this way, so no Python object is made per line."""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from jsonl_assets.core.store.base import store_for

_NEWLINE: Final = re.compile(b"\n")


class LineBatch:
    """Lines `0 .. len - 1` of `block`; line k is `block[ends[k - 1]:ends[k]]` (with its
    newline)."""

    __slots__ = ("block", "ends")

    def __init__(self, block: bytes) -> None:
        if block and not block.endswith(b"\n"):
            raise ValueError("a line batch ends with a newline")
        self.block = block
        self.ends = array("Q", [m.end() for m in _NEWLINE.finditer(block)])

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, k: int) -> bytes:
        return self.run(k, k + 1)

    def run(self, start: int, stop: int) -> bytes:
        """Lines `start .. stop - 1`, joined."""
        if start >= stop:
            return b""
        return self.block[self.ends[start - 1] if start else 0 : self.ends[stop - 1]]


def line_batches(path: Path, size: int) -> Iterator[LineBatch]:
    """The lines of a file of newline-terminated lines, about `size` bytes at a time."""
    with store_for(path).open_read(path) as handle:
        rest = b""
        while data := handle.read(size):
            data = rest + data
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            if cut:
                yield LineBatch(data[:cut])
        if rest:
            raise ValueError(f"{path}: the last line has no newline")
