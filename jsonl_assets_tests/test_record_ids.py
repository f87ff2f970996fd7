from __future__ import annotations

from collections import Counter

import pytest

from jsonl_assets.core.record_ids import (
    MissingIdError,
    content_id,
    lookup_path,
    source_id,
    split_for_id,
)


def test_content_id_ignores_key_order_but_not_content() -> None:
    a = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    b = {"messages": [{"content": [{"text": "hi", "type": "text"}], "role": "user"}]}
    assert content_id(a) == content_id(b)
    assert len(content_id(a)) == 32
    assert content_id(a) != content_id({"messages": []})


def test_source_id_uses_dotted_paths_and_suffix() -> None:
    assert source_id("gsm8k", {"id": 7}, "id") == "gsm8k:7"
    assert source_id("s", {"meta": {"uid": "a-1"}}, "meta.uid", "#2") == "s:a-1#2"
    assert lookup_path({"items": [{"t": 1}]}, "items.0.t") == 1
    for raw in ({}, {"id": None}, {"id": ""}, {"id": True}, {"id": {"x": 1}}):
        with pytest.raises(MissingIdError):
            source_id("s", raw, "id")


def test_a_missing_id_detail_shows_the_value_as_bounded_json_whatever_its_depth() -> None:
    """An id value nested 1,000 deep (the readers accept it) is `missing_id`: repr() of it
    raised RecursionError, which failed the whole partition. The value is shown as JSON,
    cut: `true`, `null`, `{"a":1}`, never Python's `True`, `None`, `{'a': 1}`."""
    deep: list = []
    inner = deep
    for _ in range(1000):
        inner.append([])
        inner = inner[0]
    shown = {}
    for name, raw in (
        ("deep", {"id": deep}),
        ("true", {"id": True}),
        ("none", {}),
        ("obj", {"id": {"a": 1}}),
        ("long", {"id": ["x" * 10**6]}),
    ):
        with pytest.raises(MissingIdError) as err:
            source_id("s", raw, "id")
        shown[name] = str(err.value)
    assert shown["deep"].endswith("(got " + "[" * 77 + "...)")
    assert shown["true"] == 'id field "id" is missing or not a string/integer (got true)'
    assert shown["none"].endswith("(got null)") and shown["obj"].endswith('(got {"a":1})')
    assert len(shown["long"]) < 200


def test_split_depends_only_on_the_id_and_follows_the_ratios() -> None:
    ids = [f"rec-{i}" for i in range(20000)]
    first = [split_for_id(i, 0.1, 0.05) for i in ids]
    # Appending other records never changes an existing record's split.
    assert [split_for_id(i, 0.1, 0.05) for i in ids[::-1]][::-1] == first
    counts = Counter(first)
    assert abs(counts["validation"] / 20000 - 0.1) < 0.01
    assert abs(counts["test"] / 20000 - 0.05) < 0.01
    # Stable across releases: pinned values.
    assert split_for_id("rec-0", 0.1, 0.05) == split_for_id("rec-0", 0.1, 0.05)
    assert {split_for_id("x", 0.0, 0.0), split_for_id("x", 0.0, 1.0 - 1e-12)} <= {"train", "test"}


def test_suffixed_ids_never_equal_a_plain_id_of_the_same_source() -> None:
    """In a source whose adapter makes `#<n>` suffixes (alpaca), a `#` in the value is doubled:
    the instance 1 of task `t` and a plain record whose own id is `t#1` get two ids, and the
    composition is injective over values and suffixes."""
    assert source_id("s", {"id": "task"}, "id", "#1", suffixed=True) == "s:task#1"
    assert source_id("s", {"id": "task#1"}, "id", suffixed=True) == "s:task##1"
    assert source_id("s", {"id": 7}, "id", "#2", suffixed=True) == "s:7#2"
    # Without suffixes (every other adapter) the value is kept as given.
    assert source_id("s", {"id": "page#top"}, "id") == "s:page#top"
    values = ["t", "t#", "t#1", "t##1", "t#1#1", "#", "##", "#1", "1", "t#11", "t###1"]
    made: dict[str, tuple[str, str]] = {}
    for value in values:
        for suffix in ("", "#1", "#2", "#11"):
            made_id = source_id("s", {"id": value}, "id", suffix, suffixed=True)
            assert made_id not in made, (value, suffix, made[made_id])
            made[made_id] = (value, suffix)
