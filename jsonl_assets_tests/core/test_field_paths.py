"""One rule for the array index a path segment names (ASCII digits only), in every path the
config names: `id_field` (record_ids), the `mapping` adapter's paths (parts.get_path), and a
bad path is refused when the config loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.adapters import build_adapter, resolve_options
from jsonl_assets.core.adapters.base import AdapterError
from jsonl_assets.core.adapters.parts import get_path
from jsonl_assets.core.config import ConfigError, load_config
from jsonl_assets.core.field_paths import list_index, lookup_path, parse_path
from jsonl_assets.core.record_ids import MissingIdError, source_id

from ..conftest import write_config

# str.isdigit() takes all of these; int() refuses the first ones and reads the others as
# another number: none is an array index.
NOT_INDEXES = ["²", "³", "①", "٣", "１", "३", "٣0", "-1", "+1", " 1", "1 ", "1_0", "0x1"]


@pytest.mark.parametrize("segment", NOT_INDEXES)
def test_only_ascii_digits_name_an_array_index(segment: str) -> None:
    assert list_index(segment) is None
    assert parse_path(f"ids.{segment}") == (("ids", None), (segment, None))


@pytest.mark.parametrize(("segment", "index"), [("0", 0), ("7", 7), ("007", 7), ("12", 12)])
def test_ascii_digits_are_an_index(segment: str, index: int) -> None:
    assert list_index(segment) == index
    assert lookup_path({"ids": list(range(20))}, f"ids.{segment}") == index


@pytest.mark.parametrize("segment", NOT_INDEXES)
def test_a_segment_that_is_no_index_finds_nothing_in_an_array_and_never_crashes(
    segment: str,
) -> None:
    """Before: `ids.²` raised ValueError from int() and failed the whole partition; `ids.٣`
    read index 3."""
    raw: dict[str, Any] = {"ids": ["a", "b", "c", "d"], "by": {segment: "k"}}
    assert lookup_path(raw, f"ids.{segment}") is None
    assert lookup_path(raw, f"by.{segment}") == "k"  # an object key, as any other
    with pytest.raises(MissingIdError):
        source_id("s", raw, f"ids.{segment}")
    assert source_id("s", raw, f"by.{segment}") == "s:k"
    with pytest.raises(AdapterError) as err:
        get_path(raw, parse_path(f"ids.{segment}"), f"ids.{segment}")
    assert err.value.reason == "adapter:missing_field"


def test_the_mapping_adapter_judges_its_paths_by_the_same_rule() -> None:
    def adapt(raw: dict[str, Any], **paths: str) -> Any:
        options = resolve_options("mapping", {"objective": "sft", **paths}, "sft")
        return build_adapter("mapping", options)(raw)

    raw = {"turns": ["q", "a"], "ids": ["w", "x", "y", "z"], "by": {"²": "q"}}
    with pytest.raises(AdapterError) as err:  # before: ValueError when the options resolved
        adapt(raw, user="turns.²", assistant="turns.1")
    assert err.value.reason == "adapter:missing_field" and "turns.²" in err.value.detail
    assert adapt(raw, user="by.²", assistant="turns.1")[0].record["messages"][0]["content"] == [
        {"type": "text", "text": "q"}
    ]
    with pytest.raises(AdapterError) as err:  # before: the id was ids[3], "z"
        adapt(raw, user="turns.0", assistant="turns.1", id="ids.٣")
    assert err.value.reason == "adapter:missing_field" and "ids.٣" in err.value.detail


def _config(tmp_path: Path, id_field: str) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    (raw / "a.jsonl").write_text('{"messages": []}\n', encoding="utf-8")
    source = {"name": "a", "paths": ["raw/*.jsonl"], "objective": "sft", "adapter": "chat"}
    config = {
        "dataset": {"name": "t", "description": "d"},
        "sources": [{**source, "split": "train", "id_field": id_field}],
    }
    return write_config(tmp_path / "pipeline.yaml", config)


@pytest.mark.parametrize("id_field", ["ids..0", ".id", "id.", "a...b"])
def test_an_id_field_with_an_empty_segment_is_a_config_error(tmp_path: Path, id_field: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, id_field))
    assert info.value.key == "sources[0].id_field"
    assert "empty segment" in info.value.message


@pytest.mark.parametrize("id_field", ["ids.²", "meta.id", "ids.0"])
def test_an_id_field_of_good_segments_loads(tmp_path: Path, id_field: str) -> None:
    assert load_config(_config(tmp_path, id_field)).sources[0].id_field == id_field


def test_a_digit_segment_too_long_for_int_loads_and_is_judged_by_the_one_rule(
    tmp_path: Path,
) -> None:
    """Before: a segment of more than 4,300 digits failed the config load with Python's int()
    message ("use sys.set_int_max_str_digits()"). It is an index past the end of every array
    (none is that long) and, on an object, the key it spells."""
    big = "1" * 5000
    assert load_config(_config(tmp_path, f"d.{big}")).sources[0].id_field == f"d.{big}"
    path = parse_path(f"d.{big}")
    raw: dict[str, Any] = {"d": {big: "k1"}, "ids": ["a", "b"]}
    assert lookup_path(raw, f"d.{big}") == "k1"
    assert get_path(raw, path, "d") == "k1"
    assert source_id("s", raw, f"d.{big}") == "s:k1"
    assert lookup_path(raw, f"ids.{big}") is None
    with pytest.raises(AdapterError) as err:
        get_path(raw, parse_path(f"ids.{big}"), "ids")
    assert err.value.reason == "adapter:missing_field"
    # Leading zeros do not count: 5,000 zeros then 1 is index 1.
    assert list_index("0" * 5000 + "1") == 1
    assert lookup_path(raw, "ids." + "0" * 5000 + "1") == "b"
