"""A source's `metadata` that gives `license` or `content_type` other than the source's own
key of that name (which the build sets as the record's metadata) is a config error naming
`sources[i].metadata.<key>`: one of the two values used to be dropped without a word. So is
`metadata.trace` (the build's) and a blank metadata key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.config import ConfigError, load_config

from ...conftest import write_config


def _config(tmp_path: Path, **source: Any) -> Path:
    (tmp_path / "raw").mkdir(exist_ok=True)
    (tmp_path / "raw" / "a.jsonl").write_text('{"messages": []}\n', encoding="utf-8")
    entry = {
        "name": "s",
        "paths": "raw/*.jsonl",
        "objective": "cpt",
        "adapter": "native",
        "split": "train",
        **source,
    }
    data = {"dataset": {"name": "d", "description": "x"}, "sources": [entry]}
    return write_config(tmp_path / "pipeline.yaml", data)


@pytest.mark.parametrize(
    ("source", "key", "words"),
    [
        ({"license": "MIT", "metadata": {"license": "GPL-3.0"}}, "license", "clashes"),
        (
            {"content_type": "code", "metadata": {"content_type": "prose"}},
            "content_type",
            "clashes",
        ),
        ({"license": "MIT", "metadata": {"license": 5}}, "license", "clashes"),
        ({"metadata": {"trace": {"file": "x"}}}, "trace", "the build sets"),
    ],
)
def test_a_metadata_key_the_build_sets_otherwise_is_a_config_error(
    tmp_path: Path, source: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, **source))
    assert info.value.key == f"sources[0].metadata.{key}", info.value
    assert words in info.value.message, info.value


@pytest.mark.parametrize("blank", ["", " ", "\u200b"])
def test_a_blank_metadata_key_is_a_config_error(tmp_path: Path, blank: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, metadata={blank: "v", "ok": 1}))
    assert info.value.key == "sources[0].metadata" and "blank" in info.value.message


@pytest.mark.parametrize(
    "source",
    [
        {"license": "MIT", "metadata": {"license": "MIT", "team": "a"}},
        {"metadata": {"license": "GPL-3.0"}},
        {"license": "MIT", "content_type": "code", "metadata": {"lang": "en"}},
    ],
)
def test_agreeing_or_separate_metadata_loads(tmp_path: Path, source: dict[str, Any]) -> None:
    cfg = load_config(_config(tmp_path, **source))
    assert cfg.sources[0].metadata == source["metadata"]
