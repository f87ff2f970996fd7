"""A name the config gives (an adapter's record key or path option, a dataset tag, a toolset
id or tool name, a metadata key) must not be blank (`blank_text.is_blank`): it is a config
error naming the dotted key, before any data is read, not a source quarantined whole as
`adapter:missing_field` after the build read it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.adapters import ADAPTERS
from jsonl_assets.core.config import ConfigError, load_config

from ...conftest import write_config

BLANKS = ["", " ", "\u200b", "\u3000\t"]


def _config(tmp_path: Path, source: dict[str, Any], **top: Any) -> Path:
    (tmp_path / "raw").mkdir(exist_ok=True)
    (tmp_path / "raw" / "a.jsonl").write_text('{"messages": []}\n', encoding="utf-8")
    entry = {"name": "s", "paths": "raw/*.jsonl", "split": "train", **source}
    data = {"dataset": {"name": "d", "description": "x"}, "sources": [entry], **top}
    return write_config(tmp_path / "pipeline.yaml", data)


def _error(config: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(config)
    return info.value


def _string_options() -> list[tuple[str, str, str]]:
    """(adapter, objective, option) for every string option that names something."""
    found = []
    for name, spec in sorted(ADAPTERS.items()):
        for option, field in spec.options.model_fields.items():
            if option in getattr(spec.options, "TEXT_OPTIONS", ()) or "str" not in str(
                field.annotation
            ):
                continue
            found.append((name, sorted(spec.objectives)[0], option))
    return found


@pytest.mark.parametrize("blank", BLANKS)
@pytest.mark.parametrize(("adapter", "objective", "option"), _string_options())
def test_a_blank_name_option_is_a_config_error(
    tmp_path: Path, adapter: str, objective: str, option: str, blank: str
) -> None:
    options: dict[str, Any] = {option: blank}
    if adapter == "mapping" and option != "objective":
        options["objective"] = objective
    config = _config(tmp_path, {"objective": objective, "adapter": adapter, "options": options})
    error = _error(config)
    assert error.key == f"sources[0].options.{option}", error
    assert "blank" in error.message, error


def test_the_repro_options_are_among_those_checked() -> None:
    checked = {(a, o) for a, _, o in _string_options()}
    assert {
        ("chat", "messages_field"),
        ("alpaca", "output_field"),
        ("chat", "toolset_id"),
    } <= checked
    assert ("prompt_response", "prompt_field") in checked


def test_a_text_option_may_be_a_space(tmp_path: Path) -> None:
    options = {"grading": "any_of", "answers_separator": " "}
    config = _config(tmp_path, {"objective": "rft", "adapter": "qa_reference", "options": options})
    assert load_config(config).sources[0].adapter_options["answers_separator"] == " "


@pytest.mark.parametrize("blank", BLANKS)
def test_a_blank_tag_is_a_config_error(tmp_path: Path, blank: str) -> None:
    dataset = {"name": "d", "description": "x", "tags": ["ok", blank]}
    config = _config(tmp_path, {"objective": "sft", "adapter": "chat"}, dataset=dataset)
    error = _error(config)
    assert error.key == "dataset.tags[1]" and "blank" in error.message, error


@pytest.mark.parametrize(
    ("toolsets", "key"),
    [
        ([{"id": " ", "tools": [{"name": "f"}]}], "toolsets[0].id"),
        ([{"id": "t", "tools": [{"name": "f"}, {"name": "\u200b"}]}], "toolsets[0].tools[1].name"),
    ],
)
def test_a_blank_toolset_id_or_tool_name_is_a_config_error(
    tmp_path: Path, toolsets: list[Any], key: str
) -> None:
    config = _config(tmp_path, {"objective": "sft", "adapter": "chat"}, toolsets=toolsets)
    error = _error(config)
    assert error.key == key and "blank" in error.message, error
