from __future__ import annotations

import hashlib

import orjson
import pytest

from jsonl_assets.core.adapters.base import AdapterError
from jsonl_assets.core.adapters.parts import (
    REASON_CODES,
    CallTracker,
    embedded_json,
    get_path,
    parse_arguments,
    result_value,
)
from jsonl_assets.core.adapters.toolsets import (
    toolset_from_declared,
    toolset_from_names,
    toolset_id_for,
)
from jsonl_assets.core.field_paths import parse_path


def test_paths() -> None:
    value = {"data": {"items": [{"text": "a"}, {"text": "b"}], "0": "key zero"}}
    assert get_path(value, parse_path("data.items.1.text"), "data.items.1.text") == "b"
    assert get_path(value, parse_path("data.0"), "data.0") == "key zero"  # digits are dict keys too
    assert get_path(value, parse_path("data"), "data") is value["data"]
    for bad in ("data.items.2.text", "data.missing", "data.items.x", "data.items.0.text.more"):
        with pytest.raises(AdapterError) as err:
            get_path(value, parse_path(bad), bad)
        assert err.value.reason == "adapter:missing_field"
        assert repr(bad) in err.value.detail
    for bad_path in ("", "a..b", ".a", "a."):
        with pytest.raises(ValueError):
            parse_path(bad_path)


def test_toolset_id_is_the_hash_of_the_canonical_tool_list() -> None:
    tools = [{"name": "b", "description": "B"}, {"name": "a"}]
    expected = (
        "tools-" + hashlib.sha256(orjson.dumps(tools, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]
    )
    assert toolset_id_for(tools) == expected
    # key order inside a tool does not matter; list order does
    assert toolset_id_for([{"description": "B", "name": "b"}, {"name": "a"}]) == expected
    assert toolset_id_for(list(reversed(tools))) != expected
    by_names = toolset_from_names(["zeta", "alpha", "zeta"])
    assert by_names["tools"] == [{"name": "alpha"}, {"name": "zeta"}]
    assert list(by_names) == ["id", "tools"]
    assert toolset_from_declared("", "tools") is None
    assert toolset_from_declared("[]", "tools") is None
    assert toolset_from_declared([], "tools") is None
    declared = toolset_from_declared(
        '[{"name": "f", "parameters": {"type": "object"}, "description": null}]', "tools"
    )
    assert declared is not None and declared["tools"] == [
        {"name": "f", "input_schema": {"type": "object"}}
    ]


def test_arguments_and_results() -> None:
    assert parse_arguments('{"a": [1, 2]}', "x") == {"a": [1, 2]}
    assert parse_arguments("  ", "x") == {}
    assert parse_arguments(None, "x") == {}
    assert parse_arguments({"k": 1}, "x") == {"k": 1}
    with pytest.raises(AdapterError) as err:
        parse_arguments("{'a': 1}", "messages[1].arguments")
    assert err.value.reason == "adapter:bad_arguments_json"
    assert "messages[1].arguments" in err.value.detail
    assert result_value('{"ok": true}') == {"ok": True}
    assert result_value('  {"ok": true}') == {"ok": True}
    assert result_value("[1, 2]") == {"content": "[1, 2]"}
    assert result_value("{not json") == {"content": "{not json"}
    assert result_value("") == {"content": ""}


def test_embedded_json_is_parsed_exactly_or_refused_naming_the_field() -> None:
    """One function parses every JSON text an adapter finds in a string: arguments, results,
    ShareGPT function calls, `tools`. Before: orjson.loads changed the numbers and kept the
    last value of a repeated key."""
    assert embedded_json('{"n": 18446744073709551615, "f": 0.1}', "x") == {
        "n": 18446744073709551615,
        "f": 0.1,
    }
    for text, reason, needle in (
        ('{"n": 123456789012345678901234567890}', "adapter:unsupported_value", "n: the number"),
        ('{"f": 0.30000000000000000001}', "adapter:unsupported_value", "would be written as 0.3 "),
        ('{"k": 1, "k": 2}', "adapter:duplicate_key", "repeats the key 'k'"),
    ):
        with pytest.raises(AdapterError) as err:
            embedded_json(text, "messages[3].arguments")
        assert err.value.reason == reason
        assert err.value.detail.startswith("messages[3].arguments is JSON text")
        assert needle in err.value.detail, err.value.detail
        with pytest.raises(AdapterError) as err:
            parse_arguments(text, "messages[3].arguments")
        assert err.value.reason == reason
        # A result has a lossless fallback: its text.
        assert result_value(text) == {"content": text}
    with pytest.raises(orjson.JSONDecodeError):
        embedded_json("{not json", "x")


def test_call_tracker() -> None:
    t = CallTracker()
    assert t.call("search", None) == "call_1"
    assert t.call("fetch", "abc") == "abc"
    assert t.call("search", None) == "call_3"
    fork = t.fork()
    assert t.answer(None, "search", "m") == ("call_1", "search")
    assert t.answer("abc", None, "m") == ("abc", "fetch")
    assert t.answer(None, None, "m") == ("call_3", "search")
    with pytest.raises(AdapterError) as err:
        t.answer(None, None, "messages[7]")
    assert err.value.reason == "adapter:unmatched_tool_result" and "messages[7]" in err.value.detail
    assert t.answer("abc", None, "m") == ("abc", "fetch")  # answering a known id twice is allowed
    assert fork.answer(None, None, "m") == ("call_1", "search")  # the fork kept its own state
    assert t.called_names() == ["fetch", "search"]


def test_reason_codes_are_stable_and_prefixed() -> None:
    assert len(set(REASON_CODES)) == len(REASON_CODES)
    assert all(code.startswith("adapter:") for code in REASON_CODES)
