"""Ids over many files, each with its first occurrence: D7 (duplicate ids) and L1 (an id in two
splits) for `verify`, and the build's leakage check before the manifest is published.

Ids are kept by `dedup.SeenIds` (24 bytes an id), fed in batches. An id seen again is a
repeat; it is a leak when its first occurrence is in another split. L1 (our rule, not the
spec's): with `forbid_split_leakage=True`, every leak is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, NamedTuple

from jsonl_assets.core.dedup import SeenIds
from jsonl_assets.core.verify.report import Sink

IdSink = Callable[[list[bytes], list[int]], None]
LINE_BITS: Final = 40  # a place: file number << 40 | line (or position) in that file
LINE_MASK: Final = (1 << LINE_BITS) - 1


class Repeat(NamedTuple):
    """An id seen before: `index` in its batch, where it was first seen, and whether that
    first occurrence is in another split."""

    index: int
    first_file: int
    first_line: int
    leak: bool


class PackageIds:
    """The ids of every file added so far, each with its first occurrence."""

    def __init__(self) -> None:
        self.seen = SeenIds()
        self.files: list[tuple[str, str | None]] = []  # file number -> (name, split)

    def add_file(self, name: str, split: str | None) -> int:
        """Number the next file; its ids are added with places `number << LINE_BITS | line`."""
        self.files.append((name, split))
        return len(self.files) - 1

    def add(self, digests: Sequence[bytes], places: Sequence[int]) -> list[Repeat]:
        """Add a batch of id digests at `places`; return the repeats among them."""
        files = self.files
        out: list[Repeat] = []
        for index, first in self.seen.add_batch(digests, places):
            first_file = first >> LINE_BITS
            split = files[places[index] >> LINE_BITS][1]
            first_split = files[first_file][1]
            leak = split is not None and first_split is not None and split != first_split
            out.append(Repeat(index, first_file, first & LINE_MASK, leak))
        return out


def shard_sink(ids: PackageIds, sink: Sink, path: str, split: str | None, leakage: bool) -> IdSink:
    """A shard's id sink for `verify`: batches of (id digests, 1-based line numbers); a repeat
    is a D7 warning, and with `leakage` a leak is also an L1 error."""
    base = ids.add_file(path, split) << LINE_BITS

    def add(digests: list[bytes], lines: list[int]) -> None:
        for repeat in ids.add(digests, [base | line for line in lines]):
            first_path, first_split = ids.files[repeat.first_file]
            line = lines[repeat.index]
            where = f"{first_path} line {repeat.first_line}"
            sink.warning("D7", path, line, f"duplicate id: first used at {where}")
            if leakage and repeat.leak:
                sink.error(
                    "L1",
                    path,
                    line,
                    f"id leaks across splits: used in {split} here and in {first_split} at {where}",
                )

    return add
