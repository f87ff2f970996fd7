"""D7 (duplicate ids) and L1 (an id in two splits) over the whole package.

Ids are found with `dedup.SeenIds` (24 bytes an id), fed in batches; a duplicate names the
file and line of the first occurrence. L1 (our rule, not the spec's): with
`forbid_split_leakage=True`, an id used in two splits is an error at every occurrence whose
split differs from the split of the id's first occurrence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from jsonl_assets.core.dedup import SeenIds
from jsonl_assets.core.verify.report import Sink

IdSink = Callable[[list[bytes], list[int]], None]
_LINE_BITS: Final = 40  # positions: shard sequence number << 40 | line number
_LINE_MASK: Final = (1 << _LINE_BITS) - 1


class PackageIds:
    """The ids of every shard read so far, each with its first occurrence."""

    def __init__(self, sink: Sink, forbid_split_leakage: bool) -> None:
        self.seen = SeenIds()
        self.shards: list[tuple[str, str | None]] = []  # sequence number -> (path, split)
        self.sink = sink
        self.forbid_split_leakage = forbid_split_leakage

    def sink_for(self, path: str, split: str | None) -> IdSink:
        """A shard's id sink: batches of (id digests, 1-based line numbers)."""
        sequence = len(self.shards)
        self.shards.append((path, split))
        base = sequence << _LINE_BITS
        sink = self.sink
        leakage = self.forbid_split_leakage and split is not None

        def add(digests: list[bytes], lines: list[int]) -> None:
            positions = [base | line for line in lines]
            for index, first in self.seen.add_batch(digests, positions):
                first_path, first_split = self.shards[first >> _LINE_BITS]
                first_line = first & _LINE_MASK
                line = lines[index]
                sink.warning(
                    "D7", path, line, f"duplicate id: first used at {first_path} line {first_line}"
                )
                if leakage and first_split is not None and split != first_split:
                    sink.error(
                        "L1",
                        path,
                        line,
                        f"id leaks across splits: used in {split} here and in {first_split} at "
                        f"{first_path} line {first_line}",
                    )

        return add
