"""The report's measures of many records as integer columns: filled record by record, kept as
binary blocks (a chunk's accepted records, written beside its lines), read back as numpy
arrays and added to a cell's statistics with a mask (the merge leaves out the duplicates).
"""

from __future__ import annotations

import io
import os
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import orjson

from jsonl_assets.core.report.record_measures import measure
from jsonl_assets.core.store.base import store_for

NONE: Final = -1  # a measure the record does not have
# A chunk's report says `"measured": MEASURES_VERSION` when its blocks are of this version
# (2: the licence column; 3: words split on White_Space, U+001C..U+001F are not separators;
# 4: a licence or grading type past bounded_counts.MAX_CHARS kept by its digest, not its start);
# the merge adds only such blocks.
MEASURES_VERSION: Final = 4
SWITCH: Final = "JSONL_ASSETS_REPORT"  # "0": a build neither measures nor writes the report
# One row per record; its responses' (chars, words) are rows of a second table, in order.
COLUMNS: Final = (
    "line",  # the record's index in its chunk (or its shard)
    "chars",
    "turns",
    "tool_call",
    "candidates",
    "grading",  # index into the block's grading types
    "source",  # index into the block's sources
    "prompt_chars",
    "prompt_words",
    "document_chars",
    "document_words",
    "responses",
    "licence",  # index into the block's licences, or licences.NONE / NOT_TEXT
)
_WIDTH: Final = len(COLUMNS)
_COL: Final = {name: i for i, name in enumerate(COLUMNS)}


def report_enabled() -> bool:
    """Whether builds measure their records and write the report ($JSONL_ASSETS_REPORT)."""
    return os.environ.get(SWITCH, "1") != "0"


class MeasureColumns:
    """Measures of records of one objective, as added; `take_block()` hands them over."""

    def __init__(self, objective: str) -> None:
        self.objective = objective
        self._sources: dict[str, int] = {}
        self._gradings: dict[str, int] = {}
        self._licences: dict[str, int] = {}
        self._start()

    def _start(self) -> None:
        self._rows = array("q")
        self._responses = array("q")
        self.count = 0

    def add(self, record: dict[str, Any], line: int) -> None:
        m = measure(record, self.objective)
        sources, gradings = self._sources, self._gradings
        prompt, document, licence = m.prompt, m.document, m.licence
        self._rows.extend(
            (
                line,
                m.chars,
                m.turns or 0,
                m.tool_call,
                NONE if m.candidates is None else m.candidates,
                NONE if m.grading is None else gradings.setdefault(m.grading, len(gradings)),
                sources.setdefault(m.source, len(sources)),
                NONE if prompt is None else prompt[0],
                NONE if prompt is None else prompt[1],
                NONE if document is None else document[0],
                NONE if document is None else document[1],
                len(m.responses),
                licence
                if isinstance(licence, int)
                else self._licences.setdefault(licence, len(self._licences)),
            )
        )
        for chars, words in m.responses:
            self._responses.extend((chars, words))
        self.count += 1

    def take_block(self) -> bytes:
        """The records added since the last block, as one block (see `iter_blocks`)."""
        header = orjson.dumps(
            {
                "records": self.count,
                "responses": len(self._responses) // 2,
                "sources": list(self._sources),
                "gradings": list(self._gradings),
                "licences": list(self._licences),
            }
        )
        block = b"".join(
            (
                len(header).to_bytes(4, "little"),
                header,
                _little_endian(self._rows),
                _little_endian(self._responses),
            )
        )
        self._start()
        return block

    def columns(self) -> Columns:
        """The records added since the last block, as arrays (and a new block started)."""
        return next(iter_blocks(io.BytesIO(self.take_block())))


def _little_endian(values: array[int]) -> bytes:
    # Blocks are read as little-endian int64 (`iter_blocks`), whatever machine wrote them.
    return np.frombuffer(values, dtype=np.int64).astype("<i8", copy=False).tobytes()


@dataclass(frozen=True)
class Columns:
    rows: np.ndarray  # (records, len(COLUMNS)) int64
    responses: np.ndarray  # (responses, 2) int64
    sources: list[str]
    gradings: list[str]
    licences: list[str]

    def column(self, name: str) -> np.ndarray:
        return self.rows[:, _COL[name]]


def iter_blocks(handle: IO[bytes], name: str = "measures") -> Iterator[Columns]:
    """The blocks of a measures file (`name` in errors), one at a time."""
    while head := handle.read(4):
        header = orjson.loads(handle.read(int.from_bytes(head, "little")))
        if "licences" not in header:
            raise ValueError(f"{name}: a block without licences (measured by an older version)")
        n, m = header["records"], header["responses"]
        body = handle.read(8 * (n * _WIDTH + 2 * m))
        if len(body) != 8 * (n * _WIDTH + 2 * m):
            raise ValueError(f"{name}: a block of {n} records ends early")
        rows = np.frombuffer(body, "<i8", n * _WIDTH).reshape(n, _WIDTH)
        responses = np.frombuffer(body, "<i8", 2 * m, 8 * n * _WIDTH).reshape(m, 2)
        yield Columns(rows, responses, header["sources"], header["gradings"], header["licences"])


def read_blocks(path: Path) -> Iterator[Columns]:
    with store_for(path).open_read(path) as handle:
        yield from iter_blocks(handle, str(path))
