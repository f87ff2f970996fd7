"""JSON text walked token by token, without recursion, for the second passes over a text
orjson read: the first repeated key, the first number orjson did not read exactly (and its
path), and the value with every number exact (what `verify` checks).

orjson reads 1,024 levels; the standard library's parser recurses in Python and stops near
1,000, so a pass built on it gave up (silently) on a text orjson had accepted. Here a level
costs one list item, and memory is bounded by the text: the passes stop at their first
finding and build a path only for it.

The text must be valid JSON (orjson accepted it, or accepted it once its infinite numbers
were written `null`): tokens are found by one regular expression and commas, colons and
whitespace between them are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Final

import orjson

# One token each: a string, `{`/`[`, `}`/`]`, a number, a literal (the group is the kind).
_TOKEN: Final = re.compile(
    rb'("[^"\\]*(?:\\.[^"\\]*)*")|([{\[])|([}\]])|(-?[0-9][0-9.eE+-]*)|(true|false|null)'
)
STRING: Final = 1
OPEN: Final = 2
CLOSE: Final = 3
NUMBER: Final = 4
LITERAL: Final = 5
KEY: Final = 6
_LITERALS: Final = {b"true": True, b"false": False, b"null": None}


def events(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(kind, token) in document order; an object's key is a `KEY`, not a `STRING`."""
    in_object: list[bool] = []  # per open container: whether it is an object
    expect_key = False
    for match in _TOKEN.finditer(data):
        kind = match.lastindex or 0
        token = match.group()
        if kind == STRING and expect_key:
            expect_key = False
            yield KEY, token
            continue
        if kind == OPEN:
            yield OPEN, token
            expect_key = token == b"{"
            in_object.append(expect_key)
            continue
        if kind == CLOSE and in_object:
            in_object.pop()
        yield kind, token
        expect_key = bool(in_object) and in_object[-1]


def text_of(token: bytes) -> str:
    """A string token's text."""
    if b"\\" not in token:
        return token[1:-1].decode("utf-8")
    text = orjson.loads(token)
    assert type(text) is str
    return text


def first_repeated_key(data: bytes) -> str | None:
    """The first key an object in `data` repeats, in document order, or None."""
    seen: list[set[str] | None] = []  # per open container: an object's keys so far
    for kind, token in events(data):
        if kind == KEY:
            keys = seen[-1]
            assert keys is not None
            key = text_of(token)
            if key in keys:
                return key
            keys.add(key)
        elif kind == OPEN:
            seen.append(set() if token == b"{" else None)
        elif kind == CLOSE and seen:
            seen.pop()
    return None


def first_number_problem(data: bytes, problem: Callable[[str], str | None]) -> str | None:
    """`<path>: <why>` for the first number token of `data` that `problem` objects to, or
    None. The path is built for that number only (`a.b[3]`, `$` for the root)."""
    where: list[bytes | int] = []  # per open container: its key token, or its item index
    for kind, token in events(data):
        if kind == KEY:
            where[-1] = token
            continue
        if kind == CLOSE:
            if where:
                where.pop()
            continue
        if where and type(where[-1]) is int:
            where[-1] += 1  # type: ignore[operator]
        if kind == OPEN:
            where.append(b'""' if token == b"{" else -1)
        elif kind == NUMBER and (why := problem(token.decode("ascii"))) is not None:
            return f"{path_text(where)}: {why}"
    return None


def path_text(where: list[bytes | int]) -> str:
    """`a.b[3]` for the keys and indexes `where` (the root is `$`)."""
    here = ""
    for step in where:
        if type(step) is int:
            here += f"[{step}]"
        else:
            assert type(step) is bytes
            key = text_of(step)
            here = f"{here}.{key}" if here else key
    return here or "$"


def build_value(
    data: bytes, parse_int: Callable[[str], Any], parse_float: Callable[[str], Any]
) -> Any:
    """The value of `data` with its numbers read by `parse_int`/`parse_float` (an object
    that repeats a key keeps the last value, as orjson and the standard library do)."""
    root: Any = None
    open_: list[Any] = []  # the open containers, outermost first
    keys: list[str] = []  # per open container: its current key ("" for an array)
    for kind, token in events(data):
        if kind == KEY:
            keys[-1] = text_of(token)
            continue
        if kind == CLOSE:
            if open_:
                open_.pop()
                keys.pop()
            continue
        value: Any
        if kind == OPEN:
            value = {} if token == b"{" else []
        elif kind == STRING:
            value = text_of(token)
        elif kind == NUMBER:
            is_int = b"." not in token and b"e" not in token and b"E" not in token
            value = (parse_int if is_int else parse_float)(token.decode("ascii"))
        else:
            value = _LITERALS[token]
        if not open_:
            root = value
        elif type(open_[-1]) is list:
            open_[-1].append(value)
        else:
            open_[-1][keys[-1]] = value
        if kind == OPEN:
            open_.append(value)
            keys.append("")
    return root
