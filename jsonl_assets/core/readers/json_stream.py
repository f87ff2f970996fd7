"""The byte stream the JSON array reader feeds to ijson (json_array.py): a leading BOM
dropped, a read too far past the last item stopped (TooFar), and what ijson must not read
stopped before it does (json_guard.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from jsonl_assets.core.readers.json_guard import StreamGuard
from jsonl_assets.core.readers.jsonl import BOM
from jsonl_assets.core.readers.source_file import ChunkReader
from jsonl_assets.core.readers.stream_head import read_head

IJSON_BUFFER: Final = 1 << 16
_WS: Final = b" \t\r\n"


class TooFar(Exception):
    """Raised into ijson by a read more than the limit past the last item ijson gave."""


class GuardedReader(ChunkReader):
    """A ChunkReader that drops a leading UTF-8 BOM, can peek at the first JSON byte, and
    (given `levels`) raises json_guard.Hostile rather than hand out bytes ijson must not read."""

    def __init__(
        self, chunks: Iterator[bytes], limit: int | None = None, levels: int | None = None
    ) -> None:
        super().__init__(chunks)
        # With `levels` (around the items), what ijson would crash on is not given to it.
        self._guard = None if levels is None else StreamGuard(levels)
        self._started = False
        self.consumed_before_last_read = 0
        # With a limit, a read more than `limit` and two buffers past the end of the last
        # item raises TooFar: an item that large (or whitespace, or a value beside a nested
        # array) is never built whole by the parser.
        self._too_far = None if limit is None else limit + 2 * IJSON_BUFFER
        self._item_end = 0

    def item_ended(self) -> None:
        """ijson gave an item: the next one ends at most `limit` bytes further on."""
        self._item_end = self.consumed

    def _start(self) -> None:
        """Drop a leading BOM (or the start of one the stream breaks inside: no first byte to
        judge); a stream that breaks there raises after the bytes before (stream_head.py)."""
        self._started = True
        start = read_head(self._chunks, len(BOM))
        cut_bom = start.broken and BOM.startswith(start.data)
        skip = len(BOM) if start.data.startswith(BOM) or cut_bom else 0
        self._chunks = start.stream(skip)

    def peek_first_byte(self) -> bytes | None:
        """The first non-whitespace byte, not consumed; None for an empty document."""
        if not self._started:
            self._start()
        while self._fill():
            rest = self._buf[self._pos :].lstrip(_WS)
            if rest:
                return rest[:1]
            self._pos = len(self._buf)
        return None

    def read(self, n: int | None = -1) -> bytes:
        if not self._started:
            self._start()
        if self._too_far is not None and self.consumed - self._item_end > self._too_far:
            raise TooFar
        self.consumed_before_last_read = self.consumed
        data = super().read(n)
        if self._guard is not None:
            self._guard.check(data)
        return data
