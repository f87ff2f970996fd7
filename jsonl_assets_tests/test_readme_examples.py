"""Every config example in the README loads as written (its sources' files are not looked
for): the object-storage example did not (`description: support chats, cleaned` in a flow
mapping made a key `cleaned`, and its source had no `split`), nor did the adapter example
(its `support_chats` named a toolset it did not declare)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from jsonl_assets.core.config import ConfigError, load_config

README = Path(__file__).resolve().parent.parent / "README.md"
DATASET = {"name": "readme-example", "description": "a README example"}


def _config_blocks() -> list[tuple[int, Any]]:
    """(line, parsed YAML) of each ```yaml block of the README that is a config or a list
    of source entries."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"^```yaml\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        data = yaml.safe_load(match.group(1))
        line = text.count("\n", 0, match.start()) + 1
        is_sources = isinstance(data, list) and all(
            isinstance(s, dict) and "paths" in s for s in data
        )
        if is_sources or (isinstance(data, dict) and "sources" in data):
            blocks.append((line, data))
    return blocks


BLOCKS = _config_blocks()


def test_the_readme_has_config_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize(("line", "data"), BLOCKS, ids=[f"line-{n}" for n, _ in BLOCKS])
def test_a_readme_config_example_loads(tmp_path: Path, line: int, data: Any) -> None:
    config = {"sources": data} if isinstance(data, list) else dict(data)
    config.setdefault("dataset", DATASET)
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    try:
        load_config(path, list_files=False)
    except ConfigError as exc:
        pytest.fail(f"README line {line}: {exc}")


def test_a_missing_split_names_the_choices(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    source = {"name": "s", "paths": ["raw/*.jsonl"], "objective": "sft", "adapter": "chat"}
    path.write_text(yaml.safe_dump({"dataset": DATASET, "sources": [source]}))
    with pytest.raises(ConfigError) as info:
        load_config(path, list_files=False)
    assert info.value.key == "sources[0].split"
    assert info.value.message == "is required: one of train, validation, test, auto"
