"""The physical lines csv.reader is given (csv_rows.py), counted, and rows too large to hold.

A line is read with `readline(limit + 2)`: a line of at most `limit` characters before its
line end (`\\n`, `\\r\\n` or `\\r`) is handed out whole; the first piece of a longer one raises
`Overlong`, and is counted as a line. `skip_row` reads a row too large to hold to its end
in pieces (csv_skip.py), dropping them: only the row's size and its first physical line
(as much of it as was held) are kept. The lines after that first line are spilled (in
memory up to `SPILL_IN_MEMORY` characters, then to a temporary file in the scratch folder):
when the file ends inside the row's quoted field (a stray quote), `replay` hands them out
again as rows, as `again` does for a row held in memory.

A row open at the end of the file from line `s` crossed every line end after line `s` inside
a quoted field, and what a line does to a quoted field does not depend on the row it is in:
a later row that goes on into a line after line `s` inside a quoted field is open at the end
of the file too. So that the lines are not read to the end once per such row (quadratic), a
row is ended there as the end of the file would end it (`END`, then the end of the input):
each line is read at most twice. `end_line` is the file's last line, as named in details.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from jsonl_assets.core.picklable_errors import Picklable
from jsonl_assets.core.readers.csv_skip import skip_row

# The last line csv.reader is given: a lone high surrogate, which no decoding makes (escaped
# bytes are \udc00-\udcff, csv_text.py). A quoted field still open at the end takes it in.
END: Final = "\ud800"
SPILL_IN_MEMORY: Final = 1 << 20
_SPILL_BATCH: Final = 1 << 16
_EOL: Final = ("\n", "\r")


class Overlong(Picklable):
    """A physical line longer than the limit; `line` is its first piece."""

    def __init__(self, line: str) -> None:
        super().__init__("overlong physical line")
        self.line = line


@dataclass
class Skipped:
    """A row read to its end by `Lines.skip_row`."""

    ended: bool  # False: the file ended inside the row's quoted field
    size: int  # characters of the row, line ends inside it included, not its own
    first: str  # the start of the row's first physical line, as held
    first_size: int  # characters of that whole line, its line end included
    first_line: int  # its line number
    spill: IO[str] | None  # the lines after the first one (None: there were none)
    first_end: int = 0  # characters of the first line's line end (0: it has none)

    @property
    def first_content(self) -> int:
        """Characters of the first line before its line end (the size the quarantine
        reports: a line end is not record bytes)."""
        return self.first_size - self.first_end

    @property
    def first_whole(self) -> bool:
        """Whether `first` is the whole line (but the `\\n` of a `\\r\\n` cut after its `\\r`)."""
        return self.first_size - len(self.first) <= self.first.endswith("\r")


class Lines:
    """csv.reader's physical lines (newline kept, never more than `limit` + 2 characters in
    memory), counted; the lines of the row being read are kept in `row` until the caller
    takes them. The input ends with a line holding only `END`; `again(lines)` hands `lines`
    out once more (the input has ended: a quoted field was open there), then `END` again."""

    def __init__(self, text: IO[str], limit: int, scratch_dir: Path) -> None:
        self._readline = text.readline
        self._limit = limit
        self._size = limit + 2  # a piece: at most `limit` characters and a `\r\n`
        self._scratch_dir = scratch_dir
        self._replayed: IO[str] | None = None  # a spill being read again, closed at the end
        self._again: list[str] = []  # last first
        self._ended = False
        self._cut_cr = False  # the row skipped last ended with a `\r` cut from its `\n`
        # A row going on inside a quoted field after this line is open at the end of the file.
        self._open_after = sys.maxsize
        self._end_line: int | None = None  # the last line, once the input's end was read
        self.row: list[str] = []
        self.count = 0  # physical lines handed out, `END` not counted

    def __iter__(self) -> Lines:
        return self

    def _piece(self) -> str:
        """The next piece of the input ("" at its end)."""
        return self._again.pop() if self._again else self._readline(self._size)

    def _is_cut_cr(self, piece: str) -> bool:
        """Whether `piece` may end with the `\r` of a `\r\n` cut by the piece size."""
        return len(piece) == self._size and piece[-1] == "\r"

    @property
    def end_line(self) -> int:
        """The file's last line once its end was read (a row ended early is open there)."""
        return self.count if self._end_line is None else self._end_line

    def _open_to_end(self) -> bool:
        """Whether the row being read goes on inside a quoted field into a line after
        which such a row is known to stay open to the end of the file."""
        return bool(self.row) and self.count >= self._open_after

    def __next__(self) -> str:
        if self._open_to_end():  # ended as at the end of the file: the lines stay unread
            line = ""
        else:
            line = self._again.pop() if self._again else self._readline(self._size)
            if self._cut_cr:
                self._cut_cr = False
                if line == "\n":  # the end of the line the skipped row ended on
                    line = self._piece()
            if not line:
                self._end_line = self.count
        if not line:
            if self._ended:
                raise StopIteration
            self._ended = True
            return END
        self.count += 1
        if len(line) > self._limit and _content_size(line) > self._limit:
            raise Overlong(line)
        self.row.append(line)
        return line

    def skip_row(self, held: list[str], dialect: tuple[str, str]) -> Skipped:
        """Read to the end of the row whose text so far is `held` (csv_skip.py), each piece
        counted in its line and dropped; the row's lines are let go."""
        first_line = self.count - len(held) + 1
        first_size = len(held[0])
        in_first = len(held) == 1
        size = sum(map(len, held))
        last = held[-1]
        tail = "".join(held)[-2:]  # the row's last two characters so far
        first_tail = held[0][-2:]
        spill = _Spill(self._scratch_dir)
        for line in held[1:]:
            spill.write(line)

        def more() -> str:
            nonlocal in_first, first_size, size, last, tail, first_tail
            if last.endswith(_EOL) and self.count >= self._open_after:
                # Inside a quoted field at a line end (else the row would have ended): a
                # new line is open to the end of the file (but the `\n` of a cut `\r\n`).
                piece = self._piece() if self._is_cut_cr(last) else ""
                if piece != "\n":
                    if piece:
                        self._again.append(piece)
                    return ""
            else:
                piece = self._piece()
            if not piece:
                self._end_line = self.count
                return piece
            size += len(piece)
            tail = (tail + piece)[-2:]
            if last.endswith(_EOL) and not (piece == "\n" and self._is_cut_cr(last)):
                self.count += 1  # a new physical line
                in_first = False
            last = piece
            if in_first:
                first_size += len(piece)
                first_tail = (first_tail + piece)[-2:]
            else:
                spill.write(piece)
            return piece

        _, ended = skip_row(held, more, *dialect)
        self.row = []
        if ended:
            spill.close()
            self._cut_cr = self._is_cut_cr(last)
        # A row that ended on the `\r` of a `\r\n` cut by the piece size: its `\n` is not
        # counted (read by the next line), the `\r` is dropped here like a whole line end.
        return Skipped(
            ended,
            size - _end_size(tail),
            held[0],
            first_size,
            first_line,
            None if ended else spill.file,
            _end_size(first_tail),
        )

    def again(self, lines: list[str]) -> None:
        """Hand out `lines`, the lines after the first of a row open at the end of the file,
        before those not read yet (none, unless the row was ended early)."""
        self._again.extend(reversed(lines))
        self.count -= len(lines)
        self._open_after = min(self._open_after, self.count)
        self._ended = False

    def replay(self, skipped: Skipped) -> None:
        """Hand out the lines after the first of a row whose quoted field the file ended in
        (none were spilled when the row was ended early: reading goes on where it stopped)."""
        if skipped.spill is not None:  # read to the end of the input: nothing else is left
            self.close()
            self._replayed = skipped.spill
            self._readline = self._replayed.readline
        self.count = skipped.first_line
        self._open_after = min(self._open_after, self.count)
        self._ended = False

    def close(self) -> None:
        if self._replayed is not None:
            self._replayed.close()
            self._replayed = None


def _end_size(line: str) -> int:
    """Characters of `line`'s line end (`\n`, `\r\n` or `\r`; 0: it has none)."""
    return 2 if line.endswith("\r\n") else int(line.endswith(_EOL))


def _content_size(line: str) -> int:
    """Characters of `line` before its line end."""
    return len(line) - _end_size(line)


class _Spill:
    """Text written in order, kept to be read again (utf-8 with surrogates passed: every
    character, escaped bytes included, comes back as written); written in batches."""

    def __init__(self, scratch_dir: Path) -> None:
        self._scratch_dir = scratch_dir
        self._pending: list[str] = []
        self._pending_size = 0
        self._file: IO[str] | None = None

    def write(self, text: str) -> None:
        self._pending.append(text)
        self._pending_size += len(text)
        if self._pending_size >= _SPILL_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._file is None:
            self._scratch_dir.mkdir(parents=True, exist_ok=True)
            self._file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed by its reader)
                SPILL_IN_MEMORY,
                "w+",
                encoding="utf-8",
                errors="surrogatepass",
                newline="",
                dir=self._scratch_dir,
            )
        self._file.write("".join(self._pending))
        self._pending, self._pending_size = [], 0

    @property
    def file(self) -> IO[str] | None:
        """The text written, to be read from its start (None: nothing was written)."""
        if self._pending:
            self._flush()
        if self._file is not None:
            self._file.seek(0)
        return self._file

    def close(self) -> None:
        self._pending = []
        if self._file is not None:
            self._file.close()
