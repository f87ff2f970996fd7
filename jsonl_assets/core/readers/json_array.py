"""JSON array: one top-level JSON array of objects (possibly many GB), streamed with ijson.

Position kind `item`: 1-based index of the item in the array. Only one item is held at a
time. ijson gives numbers exactly (int, Decimal); a Decimal is written as the float that holds
the same value, and an item holding a number orjson cannot write exactly (an integer beyond
64 bits, a decimal a double cannot hold, an exponent of more than 18 digits) is
`unsupported_value` (see exact_numbers.py). With the option
`items_path` (an ijson prefix, default `"item"`) an array nested in a top-level object is read,
e.g. `"data.item"` for `{"data": [...]}`.

Reason codes:
* `not_an_object`: an item that is not a JSON object;
* `duplicate_key`: an item with an object that repeats a key (duplicate_keys.KeysOnce);
* `too_large`: an item whose orjson serialisation exceeds `max_record_bytes`. ijson builds
  the value it reads whole, so a read more than the limit (and two read buffers) past the
  end of the last item stops it, and the file is read again as item spans (json_items.py,
  as after damage below): an item over the limit in bytes is skipped by bytes, never parsed
  (at most its first limit + 1 bytes held), and the items after it are parsed one by one,
  numbered as before. So is a value over the limit beside a nested `items_path` (`data.item`):
  scanned, not parsed (and not checked). Under an `items_path` through an array
  (`item.data.item`) there are no spans: such an item is built whole, then rejected;
* `parse_error`: invalid JSON (NaN, a bad token, a missing comma, a lone surrogate escape
  such as `"\\ud800"`: json_escapes.py); an item nested deeper than
  the 254 levels orjson writes (it reads 1,024) is a record, its bytes a faithful rendering
  (json_render.py), `unserializable` where the transform stage must write it, as the same
  JSONL line is; `invalid_utf8`: invalid UTF-8 inside a string (any kind: a
  byte that starts no character, a cut or overlong sequence, an encoded surrogate). Only the
  damaged item is rejected, with its bytes: the file is read again as item spans
  (json_items.py, which looks only at strings and brackets, so the damage does not move an
  item's ends), and each item after it is parsed on its own. Data after a top-level
  array's `]` is one `parse_error`. An `items_path` through object keys (`data.item`,
  `a.b.item`) is found the same way (every array there, in one pass, if an object repeats
  the key); one through an array (`item.data.item`) ends the file at the damage (the items
  before it are kept);
* `not_an_array`: nothing was found at `items_path` (position 0: the whole file), e.g. the
  file holds an object but `items_path` is the default `"item"`. With the default path this
  is seen from the first byte; with another path, only a file that yielded no item is
  scanned a second time (event by event) to tell an empty array from a missing one.

ijson never reads an integer of more than 640 digits (it would crash) nor nesting deeper
than 1,024 levels (its memory grows with the square of the depth): json_guard.py stops it
before such bytes, and each item is then parsed on its own, as after damage: such an item is
`unsupported_value` or `parse_error`, with its bytes. An item parsed on its own takes JSONL's
order of reasons: `too_large`, then `invalid_utf8` if its bytes are not UTF-8 (whatever else is
wrong with it), then the others.
"""

from __future__ import annotations

import io
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import ijson
import orjson
from pydantic import Field, field_validator

from jsonl_assets.core.options import Options
from jsonl_assets.core.readers.base import ReaderSpec, ReadItem, json_type_of
from jsonl_assets.core.readers.duplicate_keys import (
    KeysOnce,
    first_repeated,
    repeated_key_detail,
)
from jsonl_assets.core.readers.exact_numbers import (
    CountingDefault,
    json_default,
    value_problem,
)
from jsonl_assets.core.readers.invalid_utf8 import decoder_message, parser_reason, utf8_problem
from jsonl_assets.core.readers.json_escapes import (
    LoneSurrogate,
    first_lone_surrogate,
    surrogate_checked,
)
from jsonl_assets.core.readers.json_guard import Hostile, hostile_item
from jsonl_assets.core.readers.json_render import rendered_raw

# One parser on every machine: ijson's default is $IJSON_BACKEND, else the first backend that
# imports, and the pure-Python ones read some bad bytes differently (another reason, another
# item blamed). The compiled yajl2_c backend ships in ijson's wheels.
try:
    _IJSON: Final = ijson.get_backend("yajl2_c")
except ImportError as exc:  # pragma: no cover - a source build of ijson without its C part
    raise ImportError(
        "jsonl-assets reads JSON arrays with ijson's compiled yajl2_c backend, which this "
        "ijson install lacks; reinstall ijson from its wheel (pip install --force-reinstall "
        "--only-binary ijson ijson)"
    ) from exc
from jsonl_assets.core.readers.json_items import Span, array_spans, arrays_at
from jsonl_assets.core.readers.json_stream import IJSON_BUFFER, GuardedReader, TooFar
from jsonl_assets.core.readers.jsonl import RAW_PREFIX
from jsonl_assets.core.readers.source_file import SourceFile
from jsonl_assets.core.traces import Rejection

if TYPE_CHECKING:
    from jsonl_assets.core.readers import ReadLimits


def read_json_array(
    source: SourceFile, options: Mapping[str, Any], limits: ReadLimits, scratch_dir: Path
) -> Iterator[ReadItem]:
    """Records and rejections of one JSON array file, in item order."""
    items_path: str = options.get("items_path", "item")
    keys = items_path.split(".")[:-1]
    by_spans = items_path.split(".")[-1] == "item" and "item" not in keys
    limit = limits.max_record_bytes
    # Past the limit with no item ended, ijson would build what it is reading whole: stop it
    # and find the items by bytes instead (when they can be: the path goes through keys).
    stream = GuardedReader(
        surrogate_checked(source.chunks()), limit if by_spans else None, len(keys) + 1
    )
    try:
        if items_path == "item":
            first = stream.peek_first_byte()
            if first is None:
                return
            if first != b"[":
                yield _not_an_array(items_path, f"the top-level value starts with {first!r}")
                return
        # A member fails its check: every item is quarantined, each with its bytes, so the
        # items are read as spans (as after damage), none by the streaming parser.
        damaged = by_spans and bool(source.damage())
        count = _Damage(0, "", "", "", too_far=True) if damaged else None
        if count is None:
            count = yield from _items(stream, items_path, limit)
    finally:
        stream.close()
    if isinstance(count, _Damage):
        if by_spans:
            yield from _after_damage(source, count, limit, keys, damaged)
        else:
            yield count.rejection("; the rest of the file was not read", unread_rest=True)
        return
    if count == 0 and not _path_holds_array(source, items_path):
        yield _not_an_array(items_path, "no array was found there")


# ijson's yajl2_c reads every number through Decimal, which raises on an exponent past its
# 18 digits (valid JSON such as 1e99999999999999999999): that item cannot be read exactly.
_HUGE_EXPONENT: Final = (
    "a number with an exponent beyond what can be read exactly (more than 18 digits); the "
    "record is not written rather than altered"
)


@dataclass(frozen=True, slots=True)
class _Damage:
    """Where and why the parser stopped: after `index` items."""

    index: int
    reason: str
    message: str
    where: str
    # no damage: an item (or what surrounds the array) is over the limit, or holds a number
    # the parser cannot read (each item is then parsed on its own)
    too_far: bool = False

    def rejection(self, then: str, unread_rest: bool) -> Rejection:
        return Rejection(
            position=self.index + 1,
            reason=self.reason,
            detail=f"invalid JSON after item {self.index} ({self.where}): {self.message}{then}",
            unread_rest=unread_rest,
        )

    def item_rejection(self, span: Span) -> Rejection:
        """The damaged item, with its bytes: `invalid_utf8` if they are not UTF-8 (a bad byte
        outside a string is an invalid character to the parser), as in JSONL."""
        not_utf8 = utf8_problem(span.data) if self.reason == "parse_error" else None
        return Rejection(
            position=self.index + 1,
            reason="invalid_utf8" if not_utf8 else self.reason,
            detail=f"item {self.index + 1}: invalid JSON ({self.where}): {self.message}"
            + (f" ({not_utf8})" if not_utf8 else "")
            + "; the items after it are read",
            **_raw(span),
        )


def _items(
    stream: GuardedReader, items_path: str, limit: int
) -> Generator[ReadItem, None, int | _Damage]:
    """The items at `items_path`; returns how many were seen, or where the parser stopped."""
    converted = CountingDefault()
    index = 0
    try:
        for value in _IJSON.items(stream, items_path, buf_size=IJSON_BUFFER, map_type=KeysOnce):
            index += 1
            yield _judged(index, value, limit, converted)
            stream.item_ended()
    except TooFar:
        return _Damage(index, "", "", "", too_far=True)
    except Hostile as exc:  # not read: each item is then judged on its own (json_guard.py)
        reason = "parse_error" if exc.deep else "unsupported_value"
        return _Damage(index, reason, str(exc), f"by byte {stream.consumed}", too_far=True)
    except ijson.JSONError as exc:
        message = _ijson_message(exc)
        reason = parser_reason(message, None)
        where = f"in decompressed bytes {stream.consumed_before_last_read}-{stream.consumed}"
        return _Damage(index, reason, message, where)
    except LoneSurrogate as exc:
        return _Damage(index, "parse_error", str(exc), "in a string")
    except InvalidOperation:
        # No item to blame yet: the number may lie beside the array (scanned, not checked);
        # each item is then parsed on its own, and one holding it is unsupported_value.
        return _Damage(index, "", "", "", too_far=True)
    except UnicodeDecodeError as exc:  # yajl2_c lets overlong forms and surrogates through
        where = f"in decompressed bytes {stream.consumed_before_last_read}-{stream.consumed}"
        return _Damage(index, "invalid_utf8", decoder_message(exc), where)
    return index


def _judged(index: int, value: Any, limit: int, converted: CountingDefault) -> ReadItem:
    """Item `index` as a record `(index, value, its JSON bytes)`, or why it is rejected."""
    if not isinstance(value, dict):  # a KeysOnce (see _items)
        return Rejection(
            position=index,
            reason="not_an_object",
            detail=f"item {index} is a JSON {json_type_of(value)}, not an object",
            **_prefix_or_rendered(value, limit),
        )
    try:
        data = orjson.dumps(value, default=converted)
    except orjson.JSONEncodeError as exc:
        raw = rendered_raw(value, limit)  # ijson gives values, not bytes: json_render.py
        if (key := first_repeated(value)) is not None:
            return Rejection(
                position=index,
                reason="duplicate_key",
                detail=f"item {index}: {repeated_key_detail(key)}",
                **raw,
            )
        why = value_problem(value)
        if why is not None:
            return Rejection(
                position=index,
                reason="unsupported_value",
                detail=f"item {index}: {why}; the record is not written rather than altered",
                **raw,
            )
        if "raw_truncated" in raw:
            return Rejection(
                position=index,
                reason="too_large",
                detail=f"item {index} is over the limit of {limit} bytes as JSON "
                "(max_record_bytes)",
                **raw,
            )
        if "Recursion limit" not in str(exc):
            return Rejection(
                position=index,
                reason="parse_error",
                detail=f"item {index} cannot be serialised: {exc}",
                **raw,
            )
        # Nested past the 254 levels orjson writes: a record, as the same JSONL line is.
        data = raw["raw"]
    size = len(data)
    if size > limit:
        return Rejection(
            position=index,
            reason="too_large",
            detail=f"item {index} is {size} bytes as JSON, over the limit of {limit} bytes "
            "(max_record_bytes)",
            raw=data[:RAW_PREFIX],
            raw_truncated=True,
            raw_size=size,
        )
    # Plain dicts, with the values as written (a Decimal as the float that holds it).
    return (index, orjson.loads(data), data)  # the extract stage writes these bytes


def _after_damage(
    source: SourceFile, damage: _Damage, limit: int, keys: list[str], own_bytes: bool = False
) -> Iterator[ReadItem]:
    """The file read again as the item spans of the array under `keys` (none: the top-level
    array): the `damage.index` items read before are passed over, the next one is rejected
    with the parser's message and its bytes (parsed on its own if the parser only went too
    far), and every item after it is parsed on its own. An item over `limit` bytes is skipped
    by bytes, never parsed, and so is what surrounds the array. With `own_bytes` (a file
    whose records are all quarantined), a good item's raw is its bytes, not its JSON."""
    converted = CountingDefault()
    index = 0
    found: list[bool] = []  # True once an array under the keys was found
    for span, first in _spans_at(source, keys, limit, found):
        if span.tail:
            yield Rejection(
                position=index + 1,
                reason="parse_error",
                detail=f"{span.size} bytes of data after the end of the array",
                **_raw(span),
            )
            return
        index += 1
        if index <= damage.index:
            continue
        if index == damage.index + 1 and not damage.too_far:
            yield damage.item_rejection(span)
            continue
        item = _parsed(span, index, first, limit, converted)
        yield (index, item[1], span.data) if own_bytes and type(item) is tuple else item
    if damage.too_far and index == 0 and keys and not found:
        yield _not_an_array(".".join([*keys, "item"]), "no array was found there")
    elif index <= damage.index and not damage.too_far:  # the spans ended first
        yield damage.rejection("", unread_rest=False)


def _spans_at(
    source: SourceFile, keys: list[str], limit: int, found: list[bool]
) -> Iterator[tuple[Span, bool]]:
    """The item spans of the top-level array, then its tail if any; or those of every array
    under `keys`, in file order (an object that repeats the path's key holds several, and
    ijson reads them all), all in one pass over the file. Each span comes with whether it is
    the first of its array."""
    stream = GuardedReader(source.chunks())
    chunks: Iterator[bytes] = iter(lambda: stream.read(IJSON_BUFFER), b"")
    try:
        arrays = arrays_at(chunks, keys, limit) if keys else iter([array_spans(chunks, limit)])
        for spans in arrays:
            if keys and not found:
                found.append(True)
            for n, span in enumerate(spans):
                yield span, n == 0
    finally:
        stream.close()


def _parsed(
    span: Span, index: int, first: bool, limit: int, converted: CountingDefault
) -> ReadItem:
    """One item's span parsed on its own (the same parser, the same checks). The reasons'
    precedence is JSONL's: `too_large` first, then any invalid UTF-8 in the item's bytes is
    `invalid_utf8` (whatever else is wrong: a lone surrogate escape, nesting past 1,024
    levels, a number no value holds), then the other reasons."""
    judged = _parsed_alone(span, index, first, limit, converted)
    if not isinstance(judged, Rejection) or judged.reason in ("too_large", "invalid_utf8"):
        return judged
    not_utf8 = utf8_problem(span.data)
    if not_utf8 is None:
        return judged
    return replace(judged, reason="invalid_utf8", detail=f"{judged.detail} ({not_utf8})")


def _parsed_alone(
    span: Span, index: int, first: bool, limit: int, converted: CountingDefault
) -> ReadItem:
    if not span.closed:
        where = "inside it" if span.size else "before the array's `]`"
        return Rejection(
            position=index,
            reason="parse_error",
            detail=f"item {index}: the file ends {where}",
            **_raw(span),
        )
    if span.commas != (not first):  # the first item of its array follows no comma
        return Rejection(
            position=index,
            reason="parse_error",
            detail=f"item {index}: {span.commas} commas between it and the item before, not one",
            **_raw(span),
        )
    if span.size > limit:
        return Rejection(
            position=index,
            reason="too_large",
            detail=f"item {index} is {span.size} bytes, over the limit of {limit} bytes "
            "(max_record_bytes)",
            **_raw(span),
        )
    if (hostile := hostile_item(span.data)) is not None:
        reason, why = hostile
        return Rejection(position=index, reason=reason, detail=f"item {index}: {why}", **_raw(span))
    try:
        if (lone := first_lone_surrogate(span.data)) is not None:
            raise lone
        values = list(_IJSON.items(io.BytesIO(b"[" + span.data + b"]"), "item", map_type=KeysOnce))
    except ijson.JSONError as exc:
        message = _ijson_message(exc)
        return Rejection(
            position=index,
            reason=parser_reason(message, span.data),
            detail=f"item {index}: invalid JSON: {message}",
            **_raw(span),
        )
    except LoneSurrogate as exc:
        return Rejection(
            position=index,
            reason="parse_error",
            detail=f"item {index}: invalid JSON: {exc}",
            **_raw(span),
        )
    except UnicodeDecodeError as exc:
        return Rejection(
            position=index,
            reason="invalid_utf8",
            detail=f"item {index}: invalid JSON: {decoder_message(exc)}",
            **_raw(span),
        )
    except InvalidOperation:
        return Rejection(
            position=index,
            reason="unsupported_value",
            detail=f"item {index}: {_HUGE_EXPONENT}",
            **_raw(span),
        )
    judged = _judged(index, values[0], limit, converted)
    if isinstance(judged, Rejection) and judged.reason != "too_large":  # its bytes, not rendered
        return Rejection(position=index, reason=judged.reason, detail=judged.detail, **_raw(span))
    return judged


def _raw(span: Span) -> dict[str, Any]:
    """A rejected span's bytes as a Rejection's raw (a prefix of a large one)."""
    if not span.size:
        return {}
    if span.size == len(span.data):  # all of it was kept (at most max_record_bytes + 1)
        return {"raw": span.data}
    return {"raw": span.data[:RAW_PREFIX], "raw_truncated": True, "raw_size": span.size}


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
    stream = GuardedReader(source.chunks(), None, container.count(".") + 1)
    try:
        for prefix, event, _ in _IJSON.parse(stream, buf_size=IJSON_BUFFER):
            if prefix == container:
                return bool(event == "start_array")
    except (ijson.JSONError, UnicodeDecodeError, Hostile):
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


def _prefix_or_rendered(value: Any, limit: int) -> dict[str, Any]:
    """A value's JSON prefix, or its rendering when orjson cannot write it (json_render.py)."""
    try:
        return {"raw": orjson.dumps(value, default=json_default)[:RAW_PREFIX]}
    except orjson.JSONEncodeError:
        return rendered_raw(value, limit)


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
