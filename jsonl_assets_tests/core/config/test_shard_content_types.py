"""With `output.shard_by: content_type`, the content type a source's config gives its records
(`sources[].content_type`, else `sources[].metadata.content_type`) is held, when the config
loads, to the rule `transformed` holds each record's to (`content_type_name_problem`): a
value that cannot name a shard is a config error naming its key, not a source whose every
record is quarantined as `content_type_name`. Sharded by objective, nothing changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.config import ConfigError, load_config
from jsonl_assets.core.shard_families import content_type_problem

from ...conftest import write_config


def _config(tmp_path: Path, shard_by: str = "content_type", **source: Any) -> Path:
    (tmp_path / "raw").mkdir(exist_ok=True)
    (tmp_path / "raw" / "a.jsonl").write_text('{"messages": []}\n', encoding="utf-8")
    entry = {"name": "s", "paths": "raw/*.jsonl", "objective": "cpt", "adapter": "native",
             "split": "train", **source}  # fmt: skip
    data = {
        "dataset": {"name": "d", "description": "x"},
        "output": {"shard_by": shard_by},
        "sources": [entry],
    }
    return write_config(tmp_path / "pipeline.yaml", data)


@pytest.mark.parametrize("size", [101, 150, 230])
def test_a_source_content_type_too_long_for_a_shard_name_is_a_config_error(
    tmp_path: Path, size: int
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, content_type="a" * size))
    assert info.value.key == "sources[0].content_type", info.value
    assert f"at most 100 characters; it has {size}" in info.value.message, info.value
    assert len(info.value.message) < 400  # the value shown cut (value_text)


@pytest.mark.parametrize("value", ["Bad Name", "../x", "a" * 101, 7, True, ["x"]])
def test_a_source_metadata_content_type_that_cannot_name_a_shard_is_a_config_error(
    tmp_path: Path, value: Any
) -> None:
    """Without the source's own `content_type`, its `metadata.content_type` is what each
    record that sets none gets: held to the same rule, named by its own key."""
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, metadata={"content_type": value}))
    assert info.value.key == "sources[0].metadata.content_type", info.value
    assert info.value.message.startswith(content_type_problem(value).split(" ", 1)[1])


@pytest.mark.parametrize(
    "source",
    [
        {"content_type": "a" * 100},
        {"content_type": "code_2"},
        {"metadata": {"content_type": "forum"}},
        {"metadata": {"content_type": None}},
        {"metadata": {"other": "Bad Name"}},
        {},
    ],
)
def test_a_content_type_that_names_a_shard_loads(tmp_path: Path, source: dict[str, Any]) -> None:
    load_config(_config(tmp_path, **source))


@pytest.mark.parametrize(
    "source", [{"content_type": "a" * 150}, {"metadata": {"content_type": "Bad Name"}}]
)
def test_sharded_by_objective_the_content_type_names_no_shard_and_loads(
    tmp_path: Path, source: dict[str, Any]
) -> None:
    """It is only metadata then (the regex on `sources[].content_type` is as before)."""
    cfg = load_config(_config(tmp_path, "objective", **source))
    assert cfg.sources[0].content_type == source.get("content_type")


@pytest.mark.parametrize(
    "value", ["ok", "a" * 100, "a" * 101, "A", "_a", "a-b", "é", 0, 1.5, {"a": 1}, False]
)
def test_the_config_refuses_exactly_what_the_record_check_quarantines(
    tmp_path: Path, value: Any
) -> None:
    """One rule: a `metadata.content_type` loads iff a record holding it would be written."""
    try:
        load_config(_config(tmp_path, metadata={"content_type": value}))
        refused = False
    except ConfigError:
        refused = True
    assert refused == (content_type_problem(value) is not None)
