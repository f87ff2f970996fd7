"""metadata.json's own rules (verify/manifest.py): A4 judges a blank dataset name as the config
does (blank_text.is_blank), so a name the config takes is one the build's own verify takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from jsonl_assets.core.blank_text import is_blank
from jsonl_assets.core.config import ConfigError, load_config
from jsonl_assets.core.verify.manifest import check_manifest
from jsonl_assets.core.verify.report import Sink

from ...conftest import write_config

# Control characters str.strip() takes for whitespace (content here), White_Space, format
# characters and fillers (blank), and visible text around them.
NAMES = [
    "\x1f", "\x1c\x1d\x1e", " \x1f ", "\x01", "a", "\u200b", "\u00a0\u3000", "\u2800", "",
    " ", "\t\n", "\ufeff\u200d", "\u3164x", "\x1f\u200b",
]  # fmt: skip


def _a4(name: str) -> list[str]:
    sink = Sink()
    check_manifest({"schema_version": "1", "dataset": {"name": name}, "files": []}, sink)
    return [f.message for f in sink.findings if f.rule == "A4"]


def _config_takes(tmp_path: Path, name: str) -> bool:
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    (raw / "a.jsonl").write_text('{"text": "t"}\n', encoding="utf-8")
    source = {
        "name": "a",
        "paths": ["raw/a.jsonl"],
        "objective": "cpt",
        "adapter": "text",
        "split": "train",
    }
    config = {"dataset": {"name": name, "description": "d"}, "sources": [source]}
    try:
        load_config(write_config(tmp_path / "pipeline.yaml", config))
    except ConfigError as exc:
        assert "dataset.name: must be a non-empty string, not blank" in str(exc)
        return False
    return True


@pytest.mark.parametrize("name", NAMES)
def test_a4_and_the_config_judge_a_blank_name_by_one_definition(tmp_path: Path, name: str) -> None:
    blank = is_blank(name)
    assert _config_takes(tmp_path, name) is not blank
    assert bool(_a4(name)) is blank
    if blank:
        assert _a4(name) == [f"dataset.name: is blank (no visible character): {name!r}"]


def test_control_characters_str_strip_removes_are_a_name() -> None:
    assert _a4("\x1f") == []
    assert _a4("\x1c\x1d\x1e\x1f") == []
