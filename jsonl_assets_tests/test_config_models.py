"""The pydantic config schema: every error names the file, the dotted key down to the option,
and the allowed names (adapter options through the union keyed on the adapter name, read
options through the options model of each file's format)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.config import ConfigError, load_config

from .conftest import write_config


def _config(tmp_path: Path, **source: Any) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    (raw / "a.jsonl").write_text('{"messages": []}\n', encoding="utf-8")
    (raw / "b.txt").write_text("some text\n", encoding="utf-8")
    entry = {"name": "a", "paths": ["raw/*.jsonl"], "objective": "sft", "split": "auto"}
    entry.update(source)
    entry = {k: v for k, v in entry.items() if v is not None}
    config = {"dataset": {"name": "t", "description": "d"}, "sources": [entry]}
    return write_config(tmp_path / "pipeline.yaml", config)


CASES = [
    (
        {"adapter": "qa_reference", "objective": "rft", "options": {"keep_solution": 1}},
        "sources[0].options.keep_solution",
        ["must be bool", "qa_reference"],
    ),
    (
        {"adapter": "chat", "options": {"text_field": "body"}},
        "sources[0].options.text_field",
        ["unknown option 'text_field'", "messages_field", "toolset_id"],
    ),
    (
        {
            "adapter": "text",
            "objective": "cpt",
            "paths": ["raw/*.txt"],
            "read_options": {"max_chars": "10"},
        },
        "sources[0].read_options.max_chars",
        ["must be int", "format 'text'"],
    ),
    (
        {
            "adapter": "text",
            "objective": "cpt",
            "paths": ["raw/*.txt"],
            "read_options": {"items_path": "x"},
        },
        "sources[0].read_options.items_path",
        ["unknown option 'items_path'", "encoding", "max_chars", "mode"],
    ),
    ({"adapter": None}, "sources[0].adapter", ["required", "chat", "sharegpt", "mapping"]),
    ({"adapter": "chat", "options": ["x"]}, "sources[0].options", ["mapping"]),
    ({"adapter": "chat", "paths": ["raw/*.jsonl", ""]}, "sources[0].paths[1]", ["non-empty", "''"]),
]


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("99 99 99 99 99", "five-field cron"),
        ("*/5 * * * * *", "five fields"),
        ("0 0 30 2 *", "February"),
        ("0 3 * *", "five-field cron"),
        ("0 0 15W * *", "nearest-weekday"),
        ("0 0 31 4 *", "never fires"),
        ("0 0 31 2,4 *", "never fires"),
        ("0 0 30,31 2 *", "never fires"),
    ],
)
def test_a_cron_dagster_would_refuse_is_a_config_error(
    tmp_path: Path, cron: str, words: str
) -> None:
    path = _config(tmp_path, adapter="chat")
    path.write_text(path.read_text() + f"schedule:\n  cron: '{cron}'\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "schedule.cron" and words in info.value.message, info.value


def test_a_cron_dagster_accepts_loads(tmp_path: Path) -> None:
    for cron in ("0 3 * * mon-fri", "@daily", "*/15 1-5 * 1,6 0"):
        path = _config(tmp_path, adapter="chat")
        path.write_text(path.read_text() + f"schedule:\n  cron: '{cron}'\n")
        assert load_config(path).schedule_cron == cron


@pytest.mark.parametrize("when", ["2025-02-30T12:00:00Z", "2025-03-01T25:61:99Z", "2025-03-01"])
def test_an_impossible_created_at_is_a_config_error(tmp_path: Path, when: str) -> None:
    """The shape alone is not enough: `verify` would warn A10 on the published package."""
    path = _config(tmp_path, adapter="chat")
    text = path.read_text()
    path.write_text(text.replace("dataset:\n", f"dataset:\n  created_at: '{when}'\n", 1))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "dataset.created_at" and "ISO-8601" in info.value.message


@pytest.mark.parametrize(
    ("source", "key"),
    [
        ({"content_type": "doc\n"}, "sources[0].content_type"),
        ({"name": "notes\n"}, "sources[0].name"),
    ],
)
def test_a_trailing_newline_does_not_pass_a_name_pattern(
    tmp_path: Path, source: dict[str, str], key: str
) -> None:
    """`re.match` with `$` accepted "doc\\n": the newline reached shard names, the ledger and
    record ids."""
    path = _config(tmp_path, adapter="chat", **source)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == key and "must match" in info.value.message, info.value


@pytest.mark.parametrize("team", ["data team", "-bad", "x" * 64, "é"])
def test_a_ui_team_out_of_its_pattern_says_the_rule(tmp_path: Path, team: str) -> None:
    """It said "must be a non-empty string" of a non-empty string, and hid the rule."""
    path = _config(tmp_path, adapter="chat")
    text = path.read_text(encoding="utf-8")
    path.write_text(f"{text}ui:\n  team: {team!r}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "ui.team", info.value
    assert "at most 63 letters, digits, '_', '.' or '-'" in info.value.message
    assert repr(team) in info.value.message and "non-empty" not in info.value.message


def test_a_created_at_with_a_trailing_newline_is_a_config_error(tmp_path: Path) -> None:
    path = _config(tmp_path, adapter="chat")
    text = path.read_text()
    path.write_text(
        text.replace("dataset:\n", 'dataset:\n  created_at: "2024-02-29T23:59:59Z\\n"\n')
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "dataset.created_at" and "ISO-8601" in info.value.message


def test_a_real_created_at_loads(tmp_path: Path) -> None:
    path = _config(tmp_path, adapter="chat")
    text = path.read_text()
    path.write_text(text.replace("dataset:\n", "dataset:\n  created_at: '2024-02-29T23:59:59Z'\n"))
    assert load_config(path).dataset.created_at == "2024-02-29T23:59:59Z"


@pytest.mark.parametrize(("source", "key", "words"), CASES, ids=[c[1] for c in CASES])
def test_option_errors_name_the_option_and_the_allowed_names(
    tmp_path: Path, source: dict[str, Any], key: str, words: list[str]
) -> None:
    path = _config(tmp_path, **source)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.file == str(path)
    assert info.value.key == key, info.value
    for word in words:
        assert word in info.value.message, info.value


def test_nested_unknown_key_lists_the_keys_allowed_there(tmp_path: Path) -> None:
    path = _config(tmp_path, adapter="chat")
    text = path.read_text() + "thresholds:\n  per_objective:\n    sft:\n      max_bogus_rate: 0.1\n"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "thresholds.per_objective.sft.max_bogus_rate"
    assert (
        "max_invalid_rate" in info.value.message and "max_parse_failure_rate" in info.value.message
    )


def test_resolved_options_are_the_models_defaults(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, adapter="qa_reference", objective="rft"))
    assert cfg.sources[0].adapter_options["grading"] == "exact_match"
    assert cfg.sources[0].adapter_options["objective"] == "rft"
