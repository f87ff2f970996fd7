"""`loads_exact`: JSON text held in a string parsed into exactly the value it writes, or
refused with the readers' reasons (a number orjson would change, a repeated key)."""

from __future__ import annotations

import orjson
import pytest

from jsonl_assets.core.readers.exact_json import DUPLICATE_KEY, InexactJson, loads_exact


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, {"b": "x:y"}], "c": 18446744073709551615}',
        '{"n": -9223372036854775808, "f": 0.1, "g": 1.5e300, "h": 1e20}',
        "[1, 2, 3]",
        '"just a string"',
        " 0.1 ",
        "12345678901234567",  # 17 digits, within 64 bits
        "null",
        b'{"bytes": 1}',
    ],
)
def test_exact_json_is_parsed_as_orjson_parses_it(text: str | bytes) -> None:
    assert loads_exact(text) == orjson.loads(text)


@pytest.mark.parametrize(
    ("text", "kind", "needle"),
    [
        ('{"order_no": 123456789012345678901234567890}', "unsupported_value", "order_no:"),
        ('{"a": [1, {"b": 18446744073709551616}]}', "unsupported_value", "a[1].b:"),
        ('{"amount": 0.1000000000000000000001}', "unsupported_value", "would be written as 0.1 "),
        ('{"a": 1e400}', "unsupported_value", "beyond the range of a double"),
        ('{"a": 1e-400}', "unsupported_value", "would be written as 0.0 "),
        ("[9007199254740993.0]", "unsupported_value", "[0]:"),
        ("123456789012345678901234567890", "unsupported_value", "$: "),
        ("1e400", "unsupported_value", "beyond the range"),
        ('{"x": 1, "x": 2}', "duplicate_key", "'x'"),
        ('[{"s": "shipped", "s": "lost"}]', "duplicate_key", "'s'"),
        ('{"a\\u003a": 1, "a:": 2}', "duplicate_key", "'a:'"),
    ],
)
def test_json_no_parsed_value_holds_is_refused(text: str, kind: str, needle: str) -> None:
    """Before: orjson.loads wrote 1.2345678901234568e+29, 0.1, the last of a repeated key."""
    with pytest.raises(InexactJson) as err:
        loads_exact(text)
    assert err.value.kind == kind
    assert needle in err.value.why, err.value.why


@pytest.mark.parametrize("text", ["{'a': 1}", "", "{", '{"a": "\ud800"}'])
def test_text_that_is_not_json_is_a_decode_error(text: str) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        loads_exact(text)


def test_a_repeated_key_beside_a_value_nested_1000_deep_is_refused() -> None:
    """orjson reads 1,024 levels; the repeated-key pass used the standard library's parser,
    which stops near 1,000, and then said "no repeat": a tool call's arguments passed."""
    text = b'{"a": 1, "a": 2, "d": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    with pytest.raises(InexactJson) as caught:
        loads_exact(text)
    assert caught.value.kind == DUPLICATE_KEY
