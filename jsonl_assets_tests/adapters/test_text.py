from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from jsonl_assets.core.adapters import build_adapter, resolve_options
from jsonl_assets.core.adapters.base import Adapted, AdapterError
from jsonl_assets.core.rules import RecordContext, record_problems


def adapter(**options: Any) -> Any:
    return build_adapter("text", resolve_options("text", options, "cpt"))


def adapt(raw: Any, **options: Any) -> Adapted:
    [out] = adapter(**options)(raw)
    return out


def assert_valid(a: Adapted) -> None:
    assert "id" not in a.record and "metadata" not in a.record
    problems = record_problems(a.record, "cpt", RecordContext())
    assert problems == [], problems


def test_plain_document_is_kept_verbatim() -> None:
    text = "  Rock pools form where retreating tides leave water trapped among stones…\n\nSee-Anemonen 🌊\n"
    out = adapt({"text": text, "meta": {"url": "https://example.org"}})
    assert orjson.dumps(out.record) == orjson.dumps(
        {"messages": [{"role": "document", "content": [{"type": "text", "text": text}]}]}
    )
    assert out.metadata is None
    assert_valid(out)


@pytest.mark.parametrize("text", ["\x1c", "\x1d", "\x1e", "\x1f", " \x1f\n", "\x01"])
def test_control_characters_are_text_not_whitespace(text: str) -> None:
    # U+001C..U+001F are control characters (White_Space=No) that str.isspace() counts.
    out = adapt({"text": text})
    assert out.record["messages"][0]["content"] == [{"type": "text", "text": text}]


def test_title_becomes_a_leading_json_part() -> None:
    raw = {"title": "Rock Pools", "body": "Rock pools form where...", "metadata": {"year": 2021}}
    out = adapt(raw, text_field="body", title_field="title")
    assert out.record["messages"] == [
        {"role": "document", "content": [{"type": "json", "data": {"title": "Rock Pools"}}]},
        {"role": "document", "content": [{"type": "text", "text": "Rock pools form where..."}]},
    ]
    assert out.metadata == {"year": 2021}
    assert_valid(out)
    untitled = adapt({"body": "Just text.", "title": ""}, text_field="body", title_field="title")
    assert len(untitled.record["messages"]) == 1


def test_tinyshakespeare_speeches(tmp_path: Path, corpus: Path) -> None:
    path = corpus / "tinyshakespeare" / "input.txt"
    speeches = path.read_text(encoding="utf-8").split("\n\n")[:300]
    fn = adapter()
    for speech in speeches:
        [out] = fn({"text": speech})
        assert out.record["messages"][0]["content"][0]["text"] == speech
        assert_valid(out)


@pytest.mark.parametrize(
    ("raw", "options", "reason", "needle"),
    [
        ({"text": ""}, {}, "adapter:empty_text", "text"),
        ({"text": " \n\t "}, {}, "adapter:empty_text", "whitespace"),
        ({"text": "\u3000\xa0\u2028\x85"}, {}, "adapter:empty_text", "whitespace"),
        ({"content": "x"}, {}, "adapter:missing_field", "text"),
        ({"text": ["a", "b"]}, {}, "adapter:wrong_type", "text"),
        ({"text": "x", "title": 3}, {"title_field": "title"}, "adapter:wrong_type", "title"),
    ],
)
def test_malformed(raw: Any, options: dict[str, Any], reason: str, needle: str) -> None:
    with pytest.raises(AdapterError) as err:
        adapt(raw, **options)
    assert err.value.reason == reason
    assert needle in err.value.detail


def test_option_validation() -> None:
    assert resolve_options("text", None, "cpt") == {
        "text_field": "text",
        "title_field": None,
        "objective": "cpt",
    }
    with pytest.raises(ValueError, match=r"cannot produce 'sft'.*\['cpt'\]"):
        resolve_options("text", None, "sft")
    with pytest.raises(ValueError, match="unknown option 'chunk_size'"):
        resolve_options("text", {"chunk_size": 10}, "cpt")


def test_a_whitespace_only_title_is_kept_as_given() -> None:
    # It vanished (no part, no trace); only "" and null are no title.
    out = adapt({"text": "body", "title": "\t"}, title_field="title")
    assert out.record["messages"][0] == {
        "role": "document",
        "content": [{"type": "json", "data": {"title": "\t"}}],
    }
    assert_valid(out)
    for none in ("", None):
        assert (
            len(adapt({"text": "body", "title": none}, title_field="title").record["messages"]) == 1
        )
