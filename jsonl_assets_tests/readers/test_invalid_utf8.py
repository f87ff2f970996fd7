"""Every kind of invalid UTF-8 is `invalid_utf8` in a JSON array, as in JSONL, wherever it
is in the item and whichever way the array is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
from jsonl_assets.core.traces import Rejection

BAD = {
    "overlong": b"\xc0\xaf",
    "overlong3": b"\xe0\x80\xaf",
    "surrogate": b"\xed\xa0\x80",
    "ff": b"\xff",
    "latin1": b"\xe9",
    "cut": b"\xe2\x82",
    "above_max": b"\xf4\x90\x80\x80",
}


def outcome(tmp_path: Path, name: str, data: bytes, fmt: str, **options: Any) -> list[Any]:
    path = tmp_path / name
    path.write_bytes(data)
    items = read_source(SourceFile(path, name), fmt, options, ReadLimits(), tmp_path)
    return [i.reason if isinstance(i, Rejection) else "ok" for i in items]


@pytest.mark.parametrize("kind", sorted(BAD))
def test_json_array_items_with_any_invalid_utf8_are_invalid_utf8_as_in_jsonl(
    tmp_path: Path, kind: str
) -> None:
    bad = BAD[kind]
    items = [
        b'{"text":"ok"}',
        b'{"text":"in a value ' + bad + b'"}',
        b'{"k' + bad + b'":"in a key"}',
        b'{"text":"outside a string"' + bad + b"}",
        b'{"text":"ok"}',
    ]
    expected = ["ok", "invalid_utf8", "invalid_utf8", "invalid_utf8", "ok"]
    assert outcome(tmp_path, "a.jsonl", b"\n".join(items), "jsonl") == expected
    assert outcome(tmp_path, "a.json", b"[" + b",".join(items) + b"]", "json_array") == expected
    nested = b'{"data":[' + b",".join(items) + b"]}"
    assert outcome(tmp_path, "d.json", nested, "json_array", items_path="data.item") == expected
    # each kind as the first damage the streaming parser meets
    for item in items[1:4]:
        alone = b'[{"text":"ok"},' + item + b',{"text":"ok"}]'
        assert outcome(tmp_path, "b.json", alone, "json_array") == ["ok", "invalid_utf8", "ok"]


def test_a_lone_surrogate_escape_in_the_first_bytes_is_rejected_not_raised(
    tmp_path: Path,
) -> None:
    assert outcome(tmp_path, "s.json", b'["\\ud800"]', "json_array") == ["parse_error"]


# Whatever else is wrong with an item, its invalid UTF-8 decides its reason (JSONL's order).
ALSO_WRONG = {
    "lone_surrogate_escape": b'{"text":"\\ud800","b":"%s"}',
    "deeper_than_1024": b'{"text":"%s","d":' + b"[" * 1100 + b"]" * 1100 + b"}",
    "integer_of_5000_digits": b'{"text":"%s","n":' + b"9" * 5000 + b"}",
    "nan": b'{"text":"%s","n":NaN}',
}


@pytest.mark.parametrize("also", sorted(ALSO_WRONG))
@pytest.mark.parametrize("kind", ["ff", "overlong", "surrogate"])
def test_invalid_utf8_wins_over_any_other_reason_wherever_the_item_is(
    tmp_path: Path, also: str, kind: str
) -> None:
    """The same item is `invalid_utf8` in JSONL, first in a JSON array, and after an earlier
    damaged item (each item then parsed on its own): never `parse_error` by where it is."""
    item = ALSO_WRONG[also].replace(b"%s", BAD[kind])
    good, damaged = b'{"text":"ok"}', b'{"text":NaN}'
    for items, expected in (
        ([good, item, good], ["ok", "invalid_utf8", "ok"]),
        ([damaged, good, item, good], ["parse_error", "ok", "invalid_utf8", "ok"]),
    ):
        assert outcome(tmp_path, "a.jsonl", b"\n".join(items), "jsonl") == expected
        array = b"[" + b",".join(items) + b"]"
        assert outcome(tmp_path, "a.json", array, "json_array") == expected, items
