"""Plain text: the whole file as one document, or paragraph-packed chunks.

Position kind `line`: the 1-based line on which the document or chunk starts, counted in the
text as decoded (with `unicode_escape`, an escaped `\\n` ends a line too: README, known
limit). Each record is
`{"text": ...}`. Options: `mode` (`"chunks"` default, or `"document"`), `max_chars` (4000, for
chunks), `encoding` (`utf-8`; a UTF-8 BOM is not text and is dropped).

Chunking rule (mode `chunks`, text_chunks.py), stated exactly:

* Lines end after each `"\\n"` (kept in the line; `"\\r\\n"` keeps its `"\\r"`); the last line
  may have no newline. A *blank* line is a whole line made only of whitespace (Unicode White_Space,
  `blank_text.py`; not U+001C..U+001F).
* A line longer than `max_chars` characters (newline included) is cut into pieces of exactly
  `max_chars` characters counted from the line start, the last piece holding the rest; pieces
  are never blank. Characters are code points of the text as decoded, a surrogate pair a codec
  decoded as two (`unicode_escape`: `\\ud83d\\ude00`) joined into one first
  (`surrogate_pairs.py`), so no cut splits a pair.
* A *paragraph unit* is a run of non-blank lines followed by the run of blank lines after it
  (blank lines at the very start of the file form a unit of their own).
* Units are packed greedily in file order: a unit joins the current chunk if the chunk stays
  within `max_chars` characters, otherwise the chunk is closed and the unit starts the next
  one. A unit longer than `max_chars` by itself closes the current chunk and is packed the same
  way line (piece) by line, its last chunk staying open for the units after it.
* Blank text is attached to a neighbouring chunk, at most `max_chars` characters of it: a
  packed chunk that is blank (`blank_text.is_blank`: only whitespace or invisible characters,
  such as the lone `"\\n"` of a line cut at `max_chars`, or blank lines that fit beside
  neither their paragraph nor the next one) is attached to the end of the chunk before it
  while the blank text attached there stays within `max_chars` characters; blank chunks at
  the file start are attached to the start of the first non-blank chunk, the ones nearest it
  within `max_chars` characters. A blank chunk left over (a blank run longer than `max_chars`:
  the rest of it after the chunk before, or the start of a leading run) stands alone, as does
  a file blank throughout (one chunk when it is at most `max_chars` characters).

So each chunk is an exact, contiguous span of the decoded text that keeps its separators: at
most `max_chars` characters, plus at most `max_chars` characters of blank text attached after
it (and, for the first chunk, before it), so memory stays bounded whatever a blank run's
length. Chunks follow each other without gap or overlap, and concatenating them gives the
file's text exactly. The split depends only on the text, not on how it was read.

A blank chunk is not a record (`read_text` yields nothing for it, as the JSONL reader yields
nothing for a blank line), except the last chunk of a file blank throughout (its one record,
which the `text` adapter rejects as `empty_text`): a file with text never gives a record the
adapter rejects as `empty_text`, and a paragraph is never rejected because of whitespace
after it. The text of the blank chunks is the only text of the file neither written nor
quarantined.

Bytes the encoding cannot decode are escaped (`csv_text.py`, as the CSV reader does: UTF-16/32
included, a lone surrogate unit or a file cut inside a character); a chunk (or the document)
holding any is rejected as `invalid_utf8` (`invalid_encoding` for other encodings) with its
exact bytes as raw (its text encoded again, marked `raw_reencoded`, for a codec that does not
give the file's bytes back: csv_text.reencodes), and the following chunks go on. Concatenating the accepted chunks' text,
the rejected chunks' raw bytes and the blank chunks' text in order reproduces the file (without BOM; a UTF-16/32
file without one is read in the machine's byte order, as Python's `bytes.decode` reads it). In
`document` mode a file whose decoded text is larger than `max_record_bytes` bytes is rejected
`too_large`.

A damaged gzip/zstd stream: in `chunks` mode the text decoded before the damage is chunked as
usual, except its cut line: the text after the last newline before the damage (the last
piece of that line, at most `max_chars` characters, with any blank text attached) is never written, it is rejected
`corrupt_file` with its bytes as raw, at its line; every line before it is kept. Blank lines
just before the cut line stay attached as blank text always is: to the chunk before them, or,
at the file start, to the cut line's rejection (which then starts at line 1). In
`document` mode the document is rejected `corrupt_file`, the bytes read before the damage as raw.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import Field, field_validator

from jsonl_assets.core.blank_text import is_blank
from jsonl_assets.core.compression import TruncatedInput
from jsonl_assets.core.options import Options
from jsonl_assets.core.readers.base import ReaderSpec, ReadItem
from jsonl_assets.core.readers.csv_text import (
    ESCAPED,
    ESCAPES,
    EscapeCounter,
    codec_name,
    file_codec,
    raw_reencoded,
    text_bytes,
    unknown_byte_order,
)
from jsonl_assets.core.readers.jsonl import RAW_PREFIX
from jsonl_assets.core.readers.source_file import SourceFile
from jsonl_assets.core.readers.stream_head import read_head
from jsonl_assets.core.readers.surrogate_pairs import join_pairs, join_pieces
from jsonl_assets.core.readers.text_chunks import chunk_text
from jsonl_assets.core.traces import Rejection

if TYPE_CHECKING:
    from jsonl_assets.core.readers import ReadLimits

DEFAULT_MAX_CHARS: Final = 4000
MODES: Final = ("chunks", "document")
_BOM_MAX: Final = 4  # bytes: the longest BOM (UTF-32)


def read_text(
    source: SourceFile, options: Mapping[str, Any], limits: ReadLimits, scratch_dir: Path
) -> Iterator[ReadItem]:
    """Text records (`{"text": ...}`) and rejections of one text file."""
    mode: str = options.get("mode", "chunks")
    encoding: str = options.get("encoding", "utf-8")  # canonical (TextOptions)
    stream = _StopAtDamage(source.chunks())
    start = read_head(iter(stream), _BOM_MAX)  # the damage is kept by _StopAtDamage
    head = start.data
    if head and unknown_byte_order(encoding, head):
        yield Rejection(
            position=0,
            reason="invalid_encoding",
            detail=f"{encoding} without a byte-order mark: its byte order is unknown (set the "
            f"encoding to {encoding}-le or {encoding}-be); the file was not read",
        )
        return
    bom, codec = file_codec("utf-8-sig" if encoding == "utf-8" else encoding, head)
    text_format = _TextFormat(
        encoding=encoding.removesuffix("-sig"),
        codec=codec,
        bad_text="invalid_utf8" if codec == "utf-8" else "invalid_encoding",
        damaged=bool(source.damage()),
    )
    body = start.stream(bom)
    if mode == "document":
        item, data = _document(body, text_format, limits.max_record_bytes)
        if stream.damage is not None:
            # A document cut short is not a good record: the whole file is rejected.
            raw = _document_raw(item, data)
            yield Rejection(position=1, reason="corrupt_file", detail=str(stream.damage), **raw)
        elif type(item) is tuple and text_format.damaged:
            # Its bytes, for its corrupt_file entry (readers/__init__.py).
            yield (1, item[1], data)
        elif item is not None:
            yield item
        return
    max_chars: int = options.get("max_chars", DEFAULT_MAX_CHARS)
    # The last two chunks: the last may hold the cut line, and blank lines before that line
    # must then be attached to the chunk before it.
    before: tuple[int, str] | None = None
    held: tuple[int, str] | None = None
    blank_file = True
    for chunk in chunk_text(decode_pieces(body, codec), max_chars):
        if before is not None:
            yield from text_format.chunk(*before)
        before, held = held, chunk
        blank_file = blank_file and is_blank(chunk[1])
    if stream.damage is None:
        if before is not None:
            yield from text_format.chunk(*before)
        if held is not None:  # a file blank throughout: its last chunk is its one record
            yield from text_format.chunk(*held, blank=blank_file)
        return
    yield from _cut_end(before, held, text_format, stream.damage)


def _cut_end(
    before: tuple[int, str] | None,
    held: tuple[int, str] | None,
    text_format: _TextFormat,
    damage: TruncatedInput,
) -> Iterator[ReadItem]:
    """The last chunks of a stream cut short: `held` (the last chunk) loses the text after its
    last newline (the cut line), rejected `corrupt_file`. What stays of `held` is a chunk, or,
    when blank (blank lines before the cut line), attached as blank text always is: to the
    chunk `before`, or with none, to the cut line's rejection."""
    line, text = held if held is not None else (1, "")
    end = text.rfind("\n") + 1
    kept, rest = text[:end], text[end:]
    cut_line = line + kept.count("\n")
    start = cut_line  # the line where the rejected text starts
    if kept and rest and is_blank(kept):
        if before is not None:
            before = (before[0], before[1] + kept)
        else:  # blank lines at the file start: attached to the cut line
            rest, start = text, line
        kept = ""
    if before is not None:
        yield from text_format.chunk(*before)
    if kept:
        yield from text_format.chunk(line, kept)
    cut = text_format.raw(rest) if rest else None
    what = "the line it cuts" if start == cut_line else f"the line it cuts (line {cut_line})"
    yield Rejection(
        position=start,
        reason="corrupt_file",
        detail=f"{damage}; "
        + (f"{what} is not written" if cut else "every line before it is kept"),
        raw=cut,
        raw_size=len(cut) if cut else None,
        unread_rest=not damage.cut,
        **(text_format.mark if cut else {}),
    )


@dataclass(frozen=True)
class _TextFormat:
    encoding: str  # as named in details (canonical)
    codec: str  # the text's bytes in the file (csv_text.file_codec)
    bad_text: str  # the reason of a chunk holding undecodable bytes
    damaged: bool  # a member fails its check: every chunk is quarantined, with its bytes

    def raw(self, text: str) -> bytes:
        return text_bytes(text, self.codec)

    @property
    def mark(self) -> dict[str, str]:
        """A chunk's raw made by `raw` is its text encoded again for some codecs."""
        return raw_reencoded(self.codec)

    def chunk(self, line: int, text: str, blank: bool = False) -> Iterator[ReadItem]:
        """The chunk's record or rejection; none for a blank chunk (blank text no chunk
        could take: not a record, as the JSONL reader's blank lines are not) unless `blank`."""
        if ESCAPED.search(text) is not None:
            yield replace(self.undecodable(line, text, self.raw(text), "chunk"), **self.mark)
        elif blank or not is_blank(text):
            # In a damaged file its bytes, for its corrupt_file entry (readers/__init__.py).
            yield (line, {"text": text}, self.raw(text) if self.damaged else None)

    def undecodable(self, line: int, text: str, raw: bytes, what: str) -> Rejection:
        bad = ESCAPED.search(text)
        where = f" (first at character {bad.start()})" if bad is not None else ""
        return Rejection(
            position=line,
            reason=self.bad_text,
            detail=f"{what} starting at line {line} holds bytes that are not valid "
            f"{self.encoding}{where}",
            raw=raw,
            raw_size=len(raw),
        )


class _StopAtDamage:
    """Chunks until a TruncatedInput, which is kept instead of raised."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self.damage: TruncatedInput | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        except TruncatedInput as exc:
            self.damage = exc


def decode_pieces(chunks: Iterable[bytes], codec: str) -> Iterator[str]:
    """Incrementally decoded text; undecodable bytes are escaped (csv_text.ESCAPES), and
    surrogate pairs a codec decoded as two code points are joined (surrogate_pairs.py)."""
    pieces = _decoded(chunks, codec)
    if codec == "utf-8":  # it decodes no surrogate: escapes only, never a pair
        return (text for text, _ in pieces)
    return join_pieces(pieces)


def _decoded(chunks: Iterable[bytes], codec: str) -> Iterator[tuple[str, bool]]:
    """`(text, escapes)`: each piece decoded, and whether a byte was escaped so far."""
    decoder = codecs.getincrementaldecoder(codec)(errors=ESCAPES)
    start = EscapeCounter.count
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            yield text, EscapeCounter.count != start
    text = decoder.decode(b"", final=True)
    if text:
        yield text, EscapeCounter.count != start


def _document(
    chunks: Iterable[bytes], text_format: _TextFormat, limit: int
) -> tuple[ReadItem | None, bytes]:
    """The whole text (the bytes after the BOM) as one record, or its rejection (None for an
    empty file), and the bytes read (a prefix when too large)."""
    parts: list[bytes] = []
    size = 0
    over = False
    for chunk in chunks:
        size += len(chunk)
        if size <= limit:
            parts.append(chunk)
        elif not over:
            # Too large: keep only a prefix and count the rest.
            over = True
            parts = [b"".join([*parts, chunk])[:RAW_PREFIX]]
    data = b"".join(parts)
    if size > limit:
        too_large = Rejection(
            position=1,
            reason="too_large",
            detail=f"document is {size} bytes, over the limit of {limit} bytes "
            "(max_record_bytes); use mode 'chunks'",
            raw=data[:RAW_PREFIX],
            raw_truncated=True,
            raw_size=size,
        )
        return too_large, data
    if not data:
        return None, data
    start = EscapeCounter.count
    text = data.decode(text_format.codec, ESCAPES)
    text = join_pairs(text, escapes=EscapeCounter.count != start)
    if ESCAPED.search(text) is None:
        return (1, {"text": text}, None), data
    return text_format.undecodable(1, text, data, "document"), data


def _raw_mark(options: Mapping[str, Any]) -> dict[str, str]:
    """A good chunk's raw in a damaged file is its text encoded again (`_TextFormat.raw`); a
    document's is the bytes read."""
    if options.get("mode", "chunks") == "document":
        return {}
    encoding: str = options.get("encoding", "utf-8")
    return raw_reencoded(file_codec("utf-8-sig" if encoding == "utf-8" else encoding, b"")[1])


def _document_raw(item: ReadItem | None, data: bytes) -> dict[str, Any]:
    """The raw fields of a document cut short: the bytes read before the cut (after the BOM),
    as read (its text encoded again differs: `unicode_escape`, UTF-7, ISO-2022)."""
    if item is None:
        return {}
    if isinstance(item, Rejection):
        return {"raw": item.raw, "raw_truncated": item.raw_truncated, "raw_size": item.raw_size}
    return {"raw": data, "raw_size": len(data)}


class TextOptions(Options):
    mode: Literal["chunks", "document"] = Field(
        "chunks",
        description="'chunks': paragraph-packed chunks of at most max_chars; "
        "'document': the whole file is one record",
    )
    max_chars: int = Field(
        DEFAULT_MAX_CHARS,
        description="largest chunk, in characters (besides blank text attached to it)",
    )
    encoding: str = Field("utf-8", description="a Python codec name; a UTF-8 BOM is dropped")

    @field_validator("encoding")
    @classmethod
    def _codec(cls, value: str) -> str:
        return codec_name(value, "text option")

    @field_validator("max_chars")
    @classmethod
    def _positive(cls, value: int) -> int:  # a field validator: its error names the option
        if value < 1:
            raise ValueError("text option max_chars must be at least 1")
        return value


SPEC: Final = ReaderSpec(
    name="text",
    extensions=(".txt", ".text", ".md"),
    position_kind="line",
    read=read_text,
    options=TextOptions,
    raw_mark=_raw_mark,
    doc="Plain text, as one document or as chunks split at blank lines.",
)
