"""Reading an untrusted package in bounded time and memory (used by `verify`).

* `open_regular` opens a file only if it is a regular file, and follows symlinks only while
  they stay inside the package: a FIFO, device, socket or directory is refused without being
  read (opened with O_NONBLOCK, so even a FIFO that appears in a race cannot block).
* `shard_stream.ShardStream` reads at most the size the file had when it was opened (a
  growing file cannot keep the verifier busy) and hashes what it reads.
* `capped` stops a decompressed stream past `VerifyLimits.decompressed_cap` bytes, counted
  over the whole file (every gzip member or zstd frame of it together).
* `bounded_blocks` splits chunks into blocks of lines but never holds more than
  `max_line_bytes` of one line: a longer line is reported by its length and its bytes are
  dropped as they stream by.
  `bounded_blocks` gives the same lines a chunk's worth at a time, and `block_lines` the
  lines of a block with each run of blank lines as its count, found with bytes operations.
* Past `VerifyLimits.max_shard_errors` errors a shard's records are no longer parsed.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from jsonl_assets.core.picklable_errors import Picklable
from jsonl_assets.core.store.base import store_for
from jsonl_assets.core.store.url import is_url

MiB: Final = 1 << 20
DEFAULT_MAX_METADATA_BYTES: Final = 16 * MiB
DEFAULT_MAX_LINE_BYTES: Final = 16 * MiB  # the build's limits.max_record_bytes default
DEFAULT_MAX_EXPANSION: Final = 1000
DEFAULT_EXPANSION_FLOOR: Final = 64 * MiB
# Hashing runs at about 1 GiB/s: a shard past this (a sparse `truncate -s 1T` file, say) is an
# error without being read, so verify's time stays bounded by what it will read.
DEFAULT_MAX_SHARD_BYTES: Final = 64 << 30
# Past this many errors in one shard its records are no longer parsed (a shard of 50 million
# 2-byte invalid lines would otherwise cost 50 million parses and findings); the file is
# still read to the end for its size, sha256 and decompression. Warnings do not count: a
# valid record may warn (F12), and blank lines (D2) are counted in bulk.
DEFAULT_MAX_SHARD_ERRORS: Final = 100_000

# A block whose lines average fewer bytes than this has its blank lines found by runs.
DENSE_LINE: Final = 64
# With b"\n", JSON's whitespace (RFC 8259): a line of only these is blank. Form feed and
# vertical tab, which bytes.isspace() accepts, are not JSON whitespace: such a line is D1.
_SPACE_BUT_NEWLINE: Final = b" \t\r"
_NONBLANK: Final = re.compile(rb"[^\n]+")

_KINDS: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


@dataclass(frozen=True, slots=True)
class VerifyLimits:
    """Caps for reading a package; each is a CLI flag of `jsonl-assets verify`.

    A compressed file may decompress to `max(max_expansion x its on-disk bytes,
    expansion_floor)` bytes: real JSONL rarely compresses beyond 20-50x, while a
    decompression bomb reaches 1,000x (gzip) to 30,000x (zstd).
    """

    max_metadata_bytes: int = DEFAULT_MAX_METADATA_BYTES
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_expansion: int = DEFAULT_MAX_EXPANSION
    expansion_floor: int = DEFAULT_EXPANSION_FLOOR
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES
    max_shard_errors: int = DEFAULT_MAX_SHARD_ERRORS

    def decompressed_cap(self, on_disk: int) -> int:
        return max(self.expansion_floor, self.max_expansion * on_disk)


# The caps of a default `verify`: the shard writer keeps every shard within them, so a package
# a default build publishes passes a default `verify`.
DEFAULT_LIMITS: Final = VerifyLimits()


def limits_for_records(max_record_bytes: int, **caps: int) -> VerifyLimits:
    """The caps under which the build reads back what it wrote, records of up to
    `max_record_bytes` (`limits.max_record_bytes`): the default ones, but a line as long as
    a record may be, and a shard may decompress to one such record with its newline (alone
    in its frame: it cannot be cut, so the writer's rotation cannot keep it under the
    default floor)."""
    return VerifyLimits(
        max_line_bytes=max(DEFAULT_LIMITS.max_line_bytes, max_record_bytes),
        expansion_floor=max(DEFAULT_LIMITS.expansion_floor, max_record_bytes + 1),
        **caps,
    )


class Unreadable(Picklable):
    """A file that is not opened. `kind`: missing, outside, unresolvable, not_regular, error."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class ExpansionExceeded(Picklable):
    """A compressed file decompressed to more than its cap."""

    def __init__(self, cap: int) -> None:
        super().__init__(
            f"decompresses to more than {cap} bytes (--max-expansion x on-disk size, at least "
            "--expansion-floor); the rest was not read"
        )
        self.cap = cap


def file_kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: Path, root: Path | None) -> tuple[BinaryIO, int]:
    """Open `path` for reading; return the file and its size. Raise `Unreadable` unless it is
    a regular file whose real path lies inside `root` (no containment check when None).
    An object-storage URL (no symlinks, no special files) is opened through its store."""
    if is_url(path):
        return _open_object(path)
    try:
        real = Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:
        raise Unreadable("missing", "does not exist") from None
    except PermissionError as exc:  # a folder on the way may not be searched: C13, not C12
        raise Unreadable("error", f"cannot be opened: {_why(exc)}") from None
    except (OSError, RuntimeError, ValueError) as exc:
        raise Unreadable("unresolvable", f"cannot be resolved: {_why(exc)}") from None
    if root is not None:
        try:
            real_root = Path(os.path.realpath(root))
        except (OSError, ValueError) as exc:
            raise Unreadable("unresolvable", f"cannot be resolved: {_why(exc)}") from None
        if real != real_root and real_root not in real.parents:
            raise Unreadable("outside", "resolves outside the package directory")
    try:
        before = os.stat(real, follow_symlinks=False)
        if not stat.S_ISREG(before.st_mode):
            raise Unreadable("not_regular", f"is not a regular file ({file_kind(before.st_mode)})")
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        fd = os.open(real, flags)
    except Unreadable:
        raise
    except OSError as exc:
        raise Unreadable("error", f"cannot be opened: {_why(exc)}") from None
    try:
        after = os.fstat(fd)
        if not stat.S_ISREG(after.st_mode) or (after.st_dev, after.st_ino) != (
            before.st_dev,
            before.st_ino,
        ):
            raise Unreadable("not_regular", "is not a regular file (it changed while opened)")
        return os.fdopen(fd, "rb"), after.st_size
    except BaseException:
        os.close(fd)
        raise


def _open_object(path: Path) -> tuple[BinaryIO, int]:
    store = store_for(path)
    try:
        st = store.stat(path)
        if st is None:
            raise Unreadable("missing", "does not exist")
        if st.is_dir:
            raise Unreadable("not_regular", "is not a regular file (a folder)")
        return store.open_read(path), st.size
    except OSError as exc:
        raise Unreadable("error", f"cannot be opened: {_why(exc)}") from None


def read_capped(path: Path, root: Path | None, cap: int) -> bytes:
    """The bytes of a regular file of at most `cap` bytes (else `Unreadable`, kind too_large)."""
    handle, size = open_regular(path, root)
    with handle:
        if size > cap:
            raise Unreadable("too_large", f"is {size} bytes, more than {cap}")
        try:
            data = handle.read(cap + 1)
        except OSError as exc:
            raise Unreadable("error", f"cannot be read: {_why(exc)}") from None
    if len(data) > cap:
        raise Unreadable("too_large", f"is more than {cap} bytes")
    return data


def _why(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else None) or str(exc)


def capped(chunks: Iterator[bytes], cap: int) -> Iterator[bytes]:
    """Pass `chunks` through until `cap` bytes; then raise ExpansionExceeded."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > cap:
            keep = len(chunk) - (total - cap)
            if keep > 0:
                yield chunk[:keep]
            raise ExpansionExceeded(cap)
        yield chunk


def bounded_blocks(chunks: Iterator[bytes], max_line: int) -> Iterator[bytes | int]:
    """The lines of `chunks` (without their newlines), by blocks: each bytes item is one or
    more whole lines joined by `\\n` (`item.split(b"\\n")` gives them, so a block never ends
    with its last newline), an int the length of a line longer than `max_line` (never held).
    The `\\r` of a `\\r\\n` line end stays on its line but does not count toward `max_line`.
    A chunk's lines stay in one block, so a caller can count or scan them with bytes
    operations instead of one step per line. A final line without a newline is yielded; an
    incomplete line before an exception from `chunks` is not (unless it is already too long:
    its length so far is yielded, then the exception is raised)."""
    room = max_line + 1  # a line may hold one byte more, if that byte is a CR
    pending: list[bytes] = []
    pending_len = 0
    skipping = False  # inside an over-long line: its bytes are counted, not kept
    try:
        for chunk in chunks:
            if pending or skipping:
                newline = chunk.find(b"\n")
                if newline < 0:
                    pending_len += len(chunk)
                    if not skipping:
                        if pending_len > room:
                            pending, skipping = [], True
                        else:
                            pending.append(chunk)
                    continue
                length = pending_len + newline
                if not skipping:
                    pending.append(chunk[:newline])
                    line = b"".join(pending)
                if skipping or _too_long(line, max_line):
                    yield length
                else:
                    yield line
                pending, pending_len, skipping = [], 0, False
                chunk = chunk[newline + 1 :]
            last = chunk.rfind(b"\n")
            if last >= 0:
                body = chunk[:last]
                if len(body) <= max_line:
                    yield body
                else:
                    yield from _split_long(body, max_line)
            tail = chunk[last + 1 :]
            if tail:
                pending_len = len(tail)
                if pending_len > room:
                    skipping = True
                else:
                    pending.append(tail)
    except Exception:
        # already too long, wherever the stream broke: still reported
        if skipping or _too_long(b"".join(pending), max_line):
            yield pending_len
        raise
    if skipping:
        yield pending_len
    elif pending:
        line = b"".join(pending)
        yield pending_len if _too_long(line, max_line) else line


def _too_long(line: bytes, max_line: int) -> bool:
    """Whether `line` is longer than `max_line`, not counting one final CR."""
    return len(line) > max_line + line.endswith(b"\r")


def _split_long(body: bytes, max_line: int) -> Iterator[bytes | int]:
    """The lines of `body` as blocks of short lines and the lengths of the long ones."""
    short: list[bytes] = []
    for part in body.split(b"\n"):
        if not _too_long(part, max_line):
            short.append(part)
            continue
        if short:
            yield b"\n".join(short)
            short = []
        yield len(part)
    if short:
        yield b"\n".join(short)


def block_lines(block: bytes) -> Iterator[bytes | int]:
    """The lines of a `bounded_blocks` block in order: a line that is not blank as bytes, a
    run of n blank lines (empty or JSON whitespace only: space, tab, CR) as n.

    In a block of short lines (a lines bomb) the runs are found with bytes operations: one
    count for a block of newlines only, else one regex match per line that is not blank."""
    newlines = block.count(b"\n")
    if newlines == len(block):
        yield newlines + 1
        return
    if len(block) >= DENSE_LINE * (newlines + 1):
        blank = 0
        for line in block.split(b"\n"):
            if not line.strip(_SPACE_BUT_NEWLINE):
                blank += 1
                continue
            if blank:
                yield blank
                blank = 0
            yield line
        if blank:
            yield blank
        return
    # In `marks` every blank line is empty and each other line is one match.
    marks = block.translate(None, _SPACE_BUT_NEWLINE)
    lines = block.split(b"\n")
    i = pos = 0
    for match in _NONBLANK.finditer(marks):
        blank = match.start() - pos
        if blank:
            yield blank
            i += blank
        yield lines[i]
        i += 1
        pos = match.end() + 1
    if newlines + 1 > i:
        yield newlines + 1 - i
