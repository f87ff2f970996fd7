"""`defaults` is checked when the config loads as `verify` checks it in metadata.json (A13:
`system` is an array of valid content parts; A14: `toolset_id` names a toolset; A15:
`reasoning_policy` is a string): a typo used
to pass loading, run the whole build and fail at the manifest with "1 errors" and no reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from jsonl_assets.core.config import ConfigError, load_config

TOOLSETS = [{"id": "calc", "tools": [{"name": "add", "input_schema": {"type": "object"}}]}]


def _with_defaults(config: Path, defaults: Any, toolsets: Any = None) -> Path:
    data = yaml.safe_load(config.read_text())
    data["defaults"] = defaults
    if toolsets is not None:
        data["toolsets"] = toolsets
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


@pytest.mark.parametrize(
    ("defaults", "toolsets", "key", "words"),
    [
        ({"toolset_id": "no_such_toolset"}, None, "defaults.toolset_id", "unknown toolset"),
        ({"toolset_id": "no_such_toolset"}, TOOLSETS, "defaults.toolset_id", "A14"),
        ({"toolset_id": 5}, TOOLSETS, "defaults.toolset_id", "must be a string"),
        ({"system": 5}, None, "defaults.system", "array of content parts"),
        ({"system": [{"type": "text"}]}, None, "defaults.system[0]", "A13"),
        ({"reasoning_policy": 5}, None, "defaults.reasoning_policy", "A15"),
        ({"reasoning_policy": ["train"]}, None, "defaults.reasoning_policy", "must be a string"),
        ({"reasoning_policy": {}}, None, "defaults.reasoning_policy", "must be a string"),
    ],
)
def test_defaults_the_verifier_would_refuse_are_config_errors(
    sample_project: Path, defaults: Any, toolsets: Any, key: str, words: str
) -> None:
    config = _with_defaults(sample_project, defaults, toolsets)
    with pytest.raises(ConfigError) as info:
        load_config(config, list_files=False)
    assert info.value.file == str(config)
    assert info.value.key == key and words in info.value.message, info.value


def test_valid_defaults_load(sample_project: Path) -> None:
    defaults = {
        "toolset_id": "calc",
        "system": [{"type": "text", "text": "Be helpful."}],
        "reasoning_policy": "train",
    }
    cfg = load_config(_with_defaults(sample_project, defaults, TOOLSETS), list_files=False)
    assert cfg.defaults == defaults


def test_a_toolset_the_build_derives_may_be_the_default(sample_project: Path) -> None:
    """`tools-<hash>` toolsets come from the records (chat `tools`): they exist only after
    the transformed stage, so the manifest checks them (a package naming one verifies)."""
    defaults = {"toolset_id": "tools-94fdaf43f9d9"}
    cfg = load_config(_with_defaults(sample_project, defaults), list_files=False)
    assert cfg.defaults == defaults
