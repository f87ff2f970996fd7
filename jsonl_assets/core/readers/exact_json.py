"""JSON text parsed into exactly the value it holds, or refused: the readers' checks for one
JSON text held in a string (a tool call's `arguments`, a tool result, a `tools` field).

orjson reads an integer beyond 64 bits or a decimal with more precision than a double as a
nearby double, and keeps the last value of a repeated key, silently. `loads_exact` parses
with orjson and then runs the JSONL reader's checks on the same text: `exact_numbers`
(`suspect_offsets`, `jsonl_problem`, `number_problem` for a text that is one number, and
`token_problem` for a number orjson refuses as infinite) and `duplicate_keys.repeated_key`.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from jsonl_assets.core.picklable_errors import Picklable
from jsonl_assets.core.readers.duplicate_keys import repeated_key, repeated_key_detail
from jsonl_assets.core.readers.exact_numbers import (
    jsonl_problem,
    number_problem,
    suspect_offsets,
    token_problem,
)

UNSUPPORTED_VALUE: Final = "unsupported_value"
DUPLICATE_KEY: Final = "duplicate_key"
_JSON_WS: Final = b" \t\r\n"


class InexactJson(Picklable):
    """Valid JSON whose parsed value would not be what the text says. `kind` is
    `unsupported_value` (a number) or `duplicate_key`; `why` says which and where."""

    def __init__(self, kind: str, why: str) -> None:
        super().__init__(why)
        self.kind = kind
        self.why = why


def loads_exact(text: str | bytes) -> Any:
    """The value of the JSON `text`, exactly as written.

    Raises `orjson.JSONDecodeError` for text that is not JSON, and `InexactJson` for JSON
    that no parsed value holds exactly: a number orjson would change (`<path>: the number ...`)
    or an object that repeats a key.
    """
    try:
        value = orjson.loads(text)  # a str with a lone surrogate is a JSONDecodeError
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("number is infinity"):
            data = text.encode("utf-8", "surrogatepass") if type(text) is str else text
            why = token_problem(data) or f"a number is beyond the range of a double ({exc})"
            raise InexactJson(UNSUPPORTED_VALUE, why) from None
        raise
    data = text.encode("utf-8") if type(text) is str else text
    kind = type(value)
    if kind is int or kind is float:
        why = number_problem(data.strip(_JSON_WS).decode("ascii"))
        if why is not None:
            raise InexactJson(UNSUPPORTED_VALUE, f"$: {why}")
        return value
    if kind is not dict and kind is not list:
        return value
    if suspect_offsets(data) and (why := jsonl_problem(data)) is not None:
        raise InexactJson(UNSUPPORTED_VALUE, why)
    if (key := repeated_key(data, value)) is not None:
        raise InexactJson(DUPLICATE_KEY, repeated_key_detail(key))
    return value
