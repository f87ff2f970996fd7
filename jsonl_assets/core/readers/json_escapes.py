"""UTF-16 surrogate escapes in JSON text: a `\\udXXX` escape must be one half of a pair.

A lone half (`"\\ud800"`, `"\\udfff\\ud800"`) names no character. orjson refuses it; ijson's
yajl2_c backend writes `?`, joins it with the next escape into another character, or raises
`UnicodeDecodeError`. The JSON array reader runs its bytes through `surrogate_checked`, so
such an item is rejected like any other invalid JSON instead of being written altered.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Final

from jsonl_assets.core.picklable_errors import Picklable

_SURROGATE: Final = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_ESCAPE: Final = 6  # len(b"\\ud800")
_BACKSLASH: Final = 0x5C


class LoneSurrogate(Picklable, ValueError):
    """A lone surrogate escape at `offset` of the checked bytes."""

    def __init__(self, offset: int, escape: bytes) -> None:
        super().__init__(
            f"lone UTF-16 surrogate escape {escape.decode('ascii', 'replace')} at byte {offset} "
            "(a high half must be followed by a low half): the string names no character"
        )
        self.offset = offset


class _Scanner:
    """Surrogate escapes checked over a stream fed in pieces: `feed` returns the bytes that
    are decided (never the start of a high half whose low half is still to come), and raises
    `LoneSurrogate` after handing out, in `ready`, the bytes before a lone one."""

    def __init__(self) -> None:
        self._buf = b""
        self._base = 0  # offset of _buf[0] in the stream
        self._run_before = 0  # backslashes just before _buf[0], already handed out
        self._scan = 0  # where in _buf the next escape may start
        self._high = -1  # where in _buf the last high half starts while its low is due
        self.ready = b""

    def feed(self, data: bytes, final: bool = False) -> bytes:
        buf = self._buf + data if self._buf else data
        self._buf = buf
        if b"\\u" in buf:
            for match in _SURROGATE.finditer(buf, self._scan):
                at = match.start()
                self._scan = match.end()
                if not self._escaped(at):
                    continue
                is_high = buf[at + 3] in b"89abAB"
                if self._high >= 0 and (is_high or at != self._high + _ESCAPE):
                    self._lone(self._high)  # not followed by a low half
                if self._high < 0 and not is_high:
                    self._lone(at)  # a low half with no high half before it
                self._high = at if is_high else -1
        if self._high >= 0 and (final or len(buf) >= self._high + 2 * _ESCAPE):
            self._lone(self._high)  # no low half came right after it
        if final:
            return self._hand_out(len(buf))
        self._scan = max(self._scan, len(buf) - _ESCAPE + 1)
        safe = len(buf) - _ESCAPE + 1 if self._high < 0 else self._high
        return self._hand_out(max(0, safe))

    def _escaped(self, at: int) -> bool:
        """Whether the backslash at `at` starts an escape: an even run of backslashes before."""
        buf, run = self._buf, 0
        while at - run > 0 and buf[at - run - 1] == _BACKSLASH:
            run += 1
        if run == at:
            run += self._run_before
        return run % 2 == 0

    def _lone(self, at: int) -> None:
        self.ready = self._buf[:at]
        raise LoneSurrogate(self._base + at, self._buf[at : at + _ESCAPE])

    def _hand_out(self, n: int) -> bytes:
        buf = self._buf
        if not n:
            return b""
        out = buf[:n]
        trailing = len(out) - len(out.rstrip(b"\\"))
        self._run_before = self._run_before + n if trailing == n else trailing
        self._buf = buf[n:]
        self._base += n
        self._scan -= n
        if self._high >= 0:
            self._high -= n
        return out


def first_lone_surrogate(data: bytes) -> LoneSurrogate | None:
    """The first lone surrogate escape in `data` (all of one item's bytes), if any."""
    if b"\\u" not in data:
        return None
    try:
        _Scanner().feed(data, final=True)
    except LoneSurrogate as exc:
        return exc
    return None


def _held_at_damage(scanner: _Scanner) -> bytes:
    """The bytes held back when the stream breaks: an item they end is complete. A lone
    surrogate among them ends them before it (that item is then cut off with the rest)."""
    try:
        return scanner.feed(b"", final=True)
    except LoneSurrogate:
        return scanner.ready


def surrogate_checked(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """`chunks`' bytes, each lone surrogate escape raising `LoneSurrogate` once every byte
    before it has been yielded (a few bytes are held back, so that an escape or a pair split
    between two chunks is looked at whole; an error of `chunks` is raised after them)."""
    scanner = _Scanner()
    stream = itertools.chain(chunks, (None,))  # None: the end, decide what is held
    try:
        while True:
            try:
                chunk = next(stream)
            except StopIteration:
                return
            except Exception:  # a damaged stream (TruncatedInput): what is held comes first
                if held := _held_at_damage(scanner):
                    yield held
                raise
            try:
                ready = scanner.feed(chunk or b"", final=chunk is None)
            except LoneSurrogate:
                if scanner.ready:
                    yield scanner.ready
                raise
            if ready:
                yield ready
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
