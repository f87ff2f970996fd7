"""The text reader's chunking (text.py states the rule): lines cut at `max_chars`, packed into
paragraph chunks, blank text attached to its neighbours; linear in the text, bounded memory."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from jsonl_assets.core.blank_text import is_blank, is_whitespace_only


def split_lines(pieces: Iterable[str], max_chars: int) -> Iterator[tuple[str, bool]]:
    """Line items `(text, whole)`: whole lines up to `max_chars`, or pieces of longer lines.

    Pieces of a long line are cut every `max_chars` characters from the line start; `whole` is
    False for them. The items concatenate to the input, whatever its split into `pieces`.

    Linear whatever `max_chars`: the unfinished line is kept as pieces, joined only to yield an
    item at least as long as it, and only a new piece is searched for a newline.
    """
    buf: list[str] = []  # the unfinished line's pieces: no newline, at most max_chars in all
    buffered = 0  # characters in `buf`
    cut = False  # the next item continues a line that was already cut
    for piece in pieces:
        if buffered + len(piece) <= max_chars and "\n" not in piece:
            buf.append(piece)
            buffered += len(piece)
            continue
        s = "".join([*buf, piece]) if buf else piece
        start = 0
        nl = s.find("\n", buffered)  # the buffered text holds no newline
        while nl >= 0:
            end = nl + 1
            while end - start > max_chars:
                yield s[start : start + max_chars], False
                start += max_chars
                cut = True
            yield s[start:end], not cut
            cut = False
            start = end
            nl = s.find("\n", start)
        # Up to max_chars characters stay buffered: only the next character tells whether a
        # line of exactly max_chars is whole (it ends here) or must be cut.
        while len(s) - start > max_chars:
            yield s[start : start + max_chars], False
            start += max_chars
            cut = True
        rest = s[start:]
        buf = [rest] if rest else []
        buffered = len(rest)
    if buffered:
        yield "".join(buf), not cut


class _Packer:
    """The chunk being filled: contiguous items, at most `max_chars` characters."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.parts: list[str] = []
        self.length = 0
        self.line = 0

    def flush(self) -> tuple[int, str]:
        chunk = (self.line, "".join(self.parts))
        self.parts = []
        self.length = 0
        return chunk

    def extend(self, items: list[tuple[str, int]], length: int) -> Iterator[tuple[int, str]]:
        """Add a whole unit (`length` <= max_chars), closing the chunk first if it won't fit."""
        if self.parts and self.length + length > self.max_chars:
            yield self.flush()
        if not self.parts:
            self.line = items[0][1]
        self.parts.extend(text for text, _ in items)
        self.length += length

    def add(self, text: str, line: int) -> Iterator[tuple[int, str]]:
        """Add one item (<= max_chars), closing the chunk first if it won't fit."""
        if self.parts and self.length + len(text) > self.max_chars:
            yield self.flush()
        if not self.parts:
            self.line = line
        self.parts.append(text)
        self.length += len(text)


def chunk_text(pieces: Iterable[str], max_chars: int) -> Iterator[tuple[int, str]]:
    """`(start_line, chunk)` pairs per the module's chunking rule: the packed chunks, blank ones
    attached to a neighbour up to `max_chars` characters of blank text, the rest of a longer
    blank run standing alone. At most `max_chars` characters of blank text are held."""
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    chunk: tuple[int, list[str]] | None = None  # the last non-blank chunk, blank text attached
    attached = 0  # characters of blank text attached to `chunk`
    overflow = False  # the blank run after `chunk` did not fit: the rest of it stands alone
    leading: deque[tuple[int, str]] = deque()  # the file start's blank chunks nearest its text
    leading_length = 0
    for start, text in _packed_chunks(pieces, max_chars):
        if not is_blank(text):
            if chunk is not None and not overflow:
                yield chunk[0], "".join(chunk[1])
            chunk = (leading[0][0] if leading else start, [*(t for _, t in leading), text])
            leading.clear()
            attached = 0
            overflow = False
        elif chunk is None:  # the file start: keep the last blank chunks within max_chars
            leading.append((start, text))
            leading_length += len(text)
            while leading_length > max_chars:
                first = leading.popleft()
                leading_length -= len(first[1])
                yield first
        elif not overflow and attached + len(text) <= max_chars:
            chunk[1].append(text)
            attached += len(text)
        else:
            if not overflow:  # the chunk is complete: the rest of its blank run stands alone
                yield chunk[0], "".join(chunk[1])
                overflow = True
            yield start, text
    if chunk is not None and not overflow:
        yield chunk[0], "".join(chunk[1])
    elif chunk is None and leading:  # a file blank throughout
        yield leading[0][0], "".join(t for _, t in leading)


def _packed_chunks(pieces: Iterable[str], max_chars: int) -> Iterator[tuple[int, str]]:
    """`(start_line, chunk)` pairs packed per the module's rule, blank ones included."""
    packer = _Packer(max_chars)
    unit: list[tuple[str, int]] = []
    unit_length = 0
    blank_tail = False  # the current unit has reached its blank lines
    overflow = False  # the current unit is longer than max_chars: packed line by line
    lineno = 1
    for text, whole in split_lines(pieces, max_chars):
        line = lineno
        if text[-1] == "\n":
            lineno += 1
        if whole and is_whitespace_only(text):
            blank_tail = True
        elif blank_tail:
            if overflow:
                overflow = False
            elif unit:
                yield from packer.extend(unit, unit_length)
            unit = []
            unit_length = 0
            blank_tail = False
        if overflow:
            yield from packer.add(text, line)
            continue
        unit.append((text, line))
        unit_length += len(text)
        if unit_length > max_chars:
            overflow = True
            if packer.parts:
                yield packer.flush()
            for item_text, item_line in unit:
                yield from packer.add(item_text, item_line)
            unit = []
            unit_length = 0
    if unit and not overflow:
        yield from packer.extend(unit, unit_length)
    if packer.parts:
        yield packer.flush()
