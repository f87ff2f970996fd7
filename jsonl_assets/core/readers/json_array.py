"""JSON array: one top-level JSON array of objects (possibly many GB), streamed with ijson.

Position kind `item`: 1-based index of the item in the array. Only one item is held at a
time. ijson gives numbers exactly (int, Decimal); a Decimal is written as the float that holds
the same value, and an item holding a number orjson cannot write exactly (an integer beyond
64 bits, a decimal a double cannot hold) is `unsupported_value` (see exact_numbers.py). With the option
`items_path` (an ijson prefix, default `"item"`) an array nested in a top-level object is read,
e.g. `"data.item"` for `{"data": [...]}`.

Reason codes:
* `not_an_object`: an item that is not a JSON object;
* `too_large`: an item whose orjson serialisation exceeds `max_record_bytes`;
* `parse_error`: invalid JSON (NaN, trailing comma, ...) or nesting deeper
  than orjson can serialise. The items before it are kept and the file ends there: a JSON
  document cannot be resynchronised after a syntax error. Invalid UTF-8 inside a string is
  reported as `invalid_utf8`, also ending the file;
* `not_an_array`: nothing was found at `items_path` (position 0: the whole file), e.g. the
  file holds an object but `items_path` is the default `"item"`. With the default path this
  is seen from the first byte; with another path, only a file that yielded no item is
  scanned a second time (event by event) to tell an empty array from a missing one.

Known limit: ijson's cost per event grows with nesting depth, so a hostile file nested tens of
thousands of levels deep is parsed slowly (quadratically) before it is rejected.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import ijson
import orjson
from pydantic import Field, field_validator

from jsonl_assets.core.options import Options
from jsonl_assets.core.readers.base import ReaderSpec, ReadItem, json_type_of
from jsonl_assets.core.readers.exact_numbers import (
    CountingDefault,
    decimals_as_floats,
    json_default,
    value_problem,
)
from jsonl_assets.core.readers.jsonl import BOM, RAW_PREFIX
from jsonl_assets.core.readers.source_file import ChunkReader, SourceFile
from jsonl_assets.core.traces import Rejection

if TYPE_CHECKING:
    from jsonl_assets.core.readers import ReadLimits

IJSON_BUFFER: Final = 1 << 16
_WS: Final = b" \t\r\n"


def read_json_array(
    source: SourceFile, options: Mapping[str, Any], limits: ReadLimits, scratch_dir: Path
) -> Iterator[ReadItem]:
    """Records and rejections of one JSON array file, in item order."""
    items_path: str = options.get("items_path", "item")
    stream = _BomSkippingReader(source.chunks())
    try:
        if items_path == "item":
            first = stream.peek_first_byte()
            if first is None:
                return
            if first != b"[":
                yield _not_an_array(items_path, f"the top-level value starts with {first!r}")
                return
        count = yield from _items(stream, items_path, limits.max_record_bytes)
    finally:
        stream.close()
    if count == 0 and not _path_holds_array(source, items_path):
        yield _not_an_array(items_path, "no array was found there")


def _items(
    stream: _BomSkippingReader, items_path: str, limit: int
) -> Generator[ReadItem, None, int | None]:
    """The items at `items_path`; returns how many were seen, or None after a parse error."""
    dumps = orjson.dumps
    converted = CountingDefault()
    index = 0
    try:
        for value in ijson.items(stream, items_path, buf_size=IJSON_BUFFER):
            index += 1
            if type(value) is not dict:
                yield Rejection(
                    position=index,
                    reason="not_an_object",
                    detail=f"item {index} is a JSON {json_type_of(value)}, not an object",
                    raw=_serialise_prefix(value),
                )
                continue
            decimals = converted.count
            try:
                data = dumps(value, default=converted)
            except orjson.JSONEncodeError as exc:
                why = value_problem(value)
                if why is not None:
                    yield Rejection(
                        position=index,
                        reason="unsupported_value",
                        detail=f"item {index}: {why}; the record is not written rather than "
                        "altered",
                    )
                    continue
                yield Rejection(
                    position=index,
                    reason="parse_error",
                    detail=f"item {index} cannot be serialised: {exc} "
                    "(orjson nests at most 254 levels)",
                )
                continue
            size = len(data)
            if size > limit:
                yield Rejection(
                    position=index,
                    reason="too_large",
                    detail=f"item {index} is {size} bytes as JSON, over the limit of "
                    f"{limit} bytes (max_record_bytes)",
                    raw=data[:RAW_PREFIX],
                    raw_truncated=True,
                    raw_size=size,
                )
                continue
            if converted.count != decimals:
                value = decimals_as_floats(value)  # as written
            yield (index, value, data)  # the extract stage writes these bytes as they are
    except ijson.JSONError as exc:
        message = _ijson_message(exc)
        reason = "invalid_utf8" if "invalid bytes in UTF8" in message else "parse_error"
        yield Rejection(
            position=index + 1,
            reason=reason,
            detail=f"invalid JSON after item {index} (in decompressed bytes "
            f"{stream.consumed_before_last_read}-{stream.consumed}): {message}; "
            "the rest of the file was not read",
        )
        return None
    return index


def _not_an_array(items_path: str, why: str) -> Rejection:
    return Rejection(
        position=0,
        reason="not_an_array",
        detail=f"no items at items_path {items_path!r}: {why}; a JSON array file must hold "
        "one top-level array, or set the option items_path (e.g. 'data.item')",
    )


def _path_holds_array(source: SourceFile, items_path: str) -> bool:
    """Whether the container of `items_path` is an (empty) array: a second, event-level pass.

    Only run when no item was found, to tell an empty array from a wrong path.
    """
    if not items_path.endswith("item"):
        return False
    container = items_path[: -len("item")].rstrip(".")
    stream = _BomSkippingReader(source.chunks())
    try:
        for prefix, event, _ in ijson.parse(stream, buf_size=IJSON_BUFFER):
            if prefix == container:
                return bool(event == "start_array")
    except ijson.JSONError:
        return False
    finally:
        stream.close()
    return False


def _ijson_message(exc: ijson.JSONError) -> str:
    arg = exc.args[0] if exc.args else exc
    text = arg.decode("utf-8", "backslashreplace") if isinstance(arg, bytes) else str(arg)
    # yajl adds a context excerpt and a caret line; keep the first line and the excerpt.
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[:2])


def _serialise_prefix(value: Any) -> bytes | None:
    try:
        return orjson.dumps(value, default=json_default)[:RAW_PREFIX]
    except orjson.JSONEncodeError:
        return None


class _BomSkippingReader(ChunkReader):
    """A ChunkReader that drops a leading UTF-8 BOM and can peek at the first JSON byte."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__(chunks)
        self._started = False
        self.consumed_before_last_read = 0

    def _start(self) -> None:
        self._started = True
        head = b""
        while len(head) < len(BOM) and self._fill():
            head += self._buf[self._pos :]
            self._buf = b""
            self._pos = 0
        if head.startswith(BOM):
            head = head[len(BOM) :]
        self._buf = head

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
        self.consumed_before_last_read = self.consumed
        return super().read(n)


class JsonArrayOptions(Options):
    items_path: str = Field(
        "item",
        description="ijson prefix of the items: 'item' for a top-level array, 'data.item' for "
        '{"data": [...]}',
    )

    @field_validator("items_path")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("json_array option items_path must not be empty")
        return value


SPEC: Final = ReaderSpec(
    name="json_array",
    extensions=(".json",),
    position_kind="item",
    read=read_json_array,
    options=JsonArrayOptions,
    doc="One top-level JSON array of objects, streamed item by item.",
)
