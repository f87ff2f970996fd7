"""JSONL: one JSON object per line, UTF-8.

Position kind `line`: 1-based physical line numbers; blank and whitespace-only lines are
counted but yield nothing. Lines are split by this module over big decompressed chunks
(never `for line in file`), so a line longer than `max_record_bytes` is never held whole:
once the pending partial line passes the limit the reader skips to the next newline, keeping
only a 1 KiB prefix for the quarantine entry.

Accepted: a UTF-8 BOM at the start of the file, CRLF line ends, blank lines, a last line
without a newline. `raw` of a record is its exact bytes without newline, CR or BOM. The size
checked against the limit (and reported as `raw_size`) is the line's bytes without its line
end (`\n` or `\r\n`; a CR ending the file's last line is dropped too, as from its `raw`), so a
record gets the same verdict whatever the file's line ends, and whatever the chunking.

Reason codes: `invalid_utf8`, `parse_error`, `not_an_object`, `too_large`,
`unsupported_value` (a number orjson cannot hold exactly, see exact_numbers.py),
`duplicate_key` (an object repeats a key, see duplicate_keys.py); and, when the
compressed stream is damaged, `corrupt_file` for the line that was cut (with its partial
bytes), after every complete line before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from jsonl_assets.core.compression import TruncatedInput
from jsonl_assets.core.readers.base import ReaderSpec, ReadItem, json_type_of
from jsonl_assets.core.readers.duplicate_keys import repeated_key, repeated_key_detail
from jsonl_assets.core.readers.exact_numbers import (
    jsonl_problem,
    suspect_lines,
    suspect_offsets,
    token_problem,
)
from jsonl_assets.core.readers.source_file import SourceFile
from jsonl_assets.core.readers.stream_head import read_head
from jsonl_assets.core.traces import Rejection

if TYPE_CHECKING:
    from jsonl_assets.core.readers import ReadLimits

BOM: Final = b"\xef\xbb\xbf"
RAW_PREFIX: Final = 1024
_JSON_WS: Final = b" \t\r"


def read_jsonl(
    source: SourceFile, options: Mapping[str, Any], limits: ReadLimits, scratch_dir: Path
) -> Iterator[ReadItem]:
    """Records and rejections of one JSONL file, in line order."""
    return iter_jsonl(source.chunks(), limits.max_record_bytes)


def iter_jsonl(chunks: Iterable[bytes], limit: int, first_line: int = 0) -> Iterator[ReadItem]:
    """The JSONL state machine over decompressed chunks (see the module doc). `first_line`:
    the lines before the first chunk (a chunk of a file read from a newline mid-file; a BOM
    is stripped only at the file's start)."""
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    lineno = first_line
    parts: list[bytes] = []  # the pending partial line, as received
    plen = 0
    skipping = False  # inside a line already known to be too large
    skip_prefix = b""
    skip_size = 0
    skip_last = b""  # the last byte skipped: a CR there may be the line end's
    stream = _strip_bom(chunks) if first_line == 0 else iter(chunks)
    try:
        for chunk in stream:
            if not chunk:
                continue
            if skipping:
                nl = chunk.find(b"\n")
                if nl < 0:
                    skip_size += len(chunk)
                    skip_last = chunk[-1:] or skip_last
                    continue
                skip_size += nl
                if nl:
                    skip_last = chunk[nl - 1 : nl]
                lineno += 1
                yield _too_large(lineno, skip_prefix, skip_size - (skip_last == b"\r"), limit)
                skipping = False
                chunk = chunk[nl + 1 :]
                if not chunk:
                    continue
            if b"\n" not in chunk:
                parts.append(chunk)
                plen += len(chunk)
                if _over(plen, chunk, limit):
                    skip_prefix = _prefix(parts)
                    skip_size = plen
                    skip_last = chunk[-1:]
                    parts = []
                    plen = 0
                    skipping = True
                continue
            if parts:
                parts.append(chunk)
                data = b"".join(parts)
            else:
                data = chunk
            suspects = {lineno + 1 + n for n in suspect_lines(data)} or None
            lines = data.split(b"\n")
            tail = lines.pop()
            big = len(data) > limit  # only then can a line be over the limit
            cr = b"\r" in data  # only then can a line end with CR
            del data
            for line in lines:
                lineno += 1
                if cr and line[-1:] == b"\r":
                    line = line[:-1]
                if big and len(line) > limit:
                    yield _too_large(lineno, line[:RAW_PREFIX], len(line), limit)
                    continue
                try:
                    value = loads(line)
                except decode_error as exc:
                    rejection = _classify(lineno, line, exc)
                    if rejection is not None:
                        yield rejection
                    continue
                if type(value) is not dict:
                    yield _not_an_object(lineno, value, line)
                elif suspects and lineno in suspects and (why := jsonl_problem(line)):
                    yield _unsupported(lineno, why, line)
                elif (key := repeated_key(line, value)) is not None:
                    yield _repeated(lineno, key, line)
                else:
                    yield (lineno, value, line)
            if _over(len(tail), tail, limit):
                skip_prefix = tail[:RAW_PREFIX]
                skip_size = len(tail)
                skip_last = tail[-1:]
                parts = []
                plen = 0
                skipping = True
            elif tail:
                parts = [tail]
                plen = len(tail)
            else:
                parts = []
                plen = 0
    except TruncatedInput as exc:
        # The line being assembled when the stream broke is the damaged one.
        partial = skip_prefix if skipping else _prefix(parts)
        size = skip_size if skipping else plen
        yield Rejection(
            position=lineno + 1,
            reason="corrupt_file",
            detail=str(exc),
            raw=partial or None,
            raw_truncated=size > len(partial),
            raw_size=size or None,
            unread_rest=not exc.cut,
        )
        return
    if skipping:
        yield _too_large(lineno + 1, skip_prefix, skip_size - (skip_last == b"\r"), limit)
    elif parts:
        line = b"".join(parts)
        if line[-1:] == b"\r":
            line = line[:-1]
        lineno += 1
        try:
            value = loads(line)
        except decode_error as exc:
            rejection = _classify(lineno, line, exc)
            if rejection is not None:
                yield rejection
            return
        if type(value) is not dict:
            yield _not_an_object(lineno, value, line)
        elif suspect_offsets(line) and (why := jsonl_problem(line)):
            yield _unsupported(lineno, why, line)
        elif (key := repeated_key(line, value)) is not None:
            yield _repeated(lineno, key, line)
        else:
            yield (lineno, value, line)


def _strip_bom(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks with a UTF-8 BOM at the very start removed (even if split over chunks); a
    stream that breaks inside those first bytes raises after them (stream_head.py)."""
    start = read_head(iter(chunks), len(BOM))
    return start.stream(len(BOM) if start.data.startswith(BOM) else 0)


def _prefix(parts: list[bytes]) -> bytes:
    out = bytearray()
    for part in parts:
        out += part[: RAW_PREFIX - len(out)]
        if len(out) >= RAW_PREFIX:
            break
    return bytes(out)


def _over(size: int, data: bytes, limit: int) -> bool:
    """Whether a pending partial line of `size` bytes, ending with `data`, is already over
    the limit: one byte more is allowed only for a CR, which may be its line end's."""
    return size > limit and (size > limit + 1 or data[-1:] != b"\r")


def _too_large(lineno: int, prefix: bytes, size: int, limit: int) -> Rejection:
    """Line `lineno` of `size` bytes (line end not counted): `prefix` is its first bytes as
    skipped, cut to `size` (a short line's prefix may hold the CR of its line end)."""
    prefix = prefix[:size]
    return Rejection(
        position=lineno,
        reason="too_large",
        detail=f"line is {size} bytes, over the limit of {limit} bytes (max_record_bytes)",
        raw=prefix,
        raw_truncated=size > len(prefix),
        raw_size=size,
    )


def _line(lineno: int, reason: str, detail: str, line: bytes) -> Rejection:
    """Line `lineno` rejected whole, with its bytes."""
    return Rejection(position=lineno, reason=reason, detail=detail, raw=line, raw_size=len(line))


def _not_an_object(lineno: int, value: Any, line: bytes) -> Rejection:
    detail = f"line holds a JSON {json_type_of(value)}, not an object"
    return _line(lineno, "not_an_object", detail, line)


def _unsupported(lineno: int, why: str, line: bytes) -> Rejection:
    detail = f"line {lineno}: {why}; the record is not written rather than altered"
    return _line(lineno, "unsupported_value", detail, line)


def _repeated(lineno: int, key: str, line: bytes) -> Rejection:
    return _line(lineno, "duplicate_key", f"line {lineno}: {repeated_key_detail(key)}", line)


def _classify(lineno: int, line: bytes, exc: orjson.JSONDecodeError) -> Rejection | None:
    """The rejection for a line orjson refused, or None for a blank line."""
    if not line.strip(_JSON_WS):
        return None
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as uexc:
        return Rejection(
            position=lineno,
            reason="invalid_utf8",
            detail=f"line is not valid UTF-8: {uexc.reason} at byte {uexc.start}",
            raw=line,
            raw_size=len(line),
        )
    message = str(exc)
    if message.startswith("number is infinity"):
        why = token_problem(line) or f"a number is beyond the range of a double (at byte {exc.pos})"
        return _unsupported(lineno, why, line)
    if message.startswith("depth limit exceeded"):
        detail = (
            "JSON nested deeper than orjson's limit of 1024 levels of arrays/objects "
            f"(at byte {exc.pos})"
        )
    else:
        detail = f"invalid JSON: {message}"
    return Rejection(
        position=lineno, reason="parse_error", detail=detail, raw=line, raw_size=len(line)
    )


SPEC: Final = ReaderSpec(
    name="jsonl",
    extensions=(".jsonl", ".ndjson"),
    position_kind="line",
    read=read_jsonl,
    doc="One JSON object per line (UTF-8). BOM, CRLF and blank lines are accepted.",
)
