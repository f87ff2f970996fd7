"""Every toolset id a config names is checked when it loads, as `defaults.toolset_id` is:
an adapter's `toolset_id` option naming an undeclared toolset loaded fine, then every record
was read, adapted and quarantined `schema:D8`, and the build failed its invalid-rate check
(the README's own `support_chats` example did so)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from jsonl_assets.core.adapters.toolsets import make_toolset, toolset_id_for
from jsonl_assets.core.config import ConfigError, load_config

TOOLSETS = [{"id": "support-tools", "tools": [{"name": "lookup_order"}]}]


def _config(tmp_path: Path, source: dict[str, Any], **top: Any) -> Path:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.jsonl").write_text('{"messages": []}\n')
    base = {"name": "s", "paths": ["raw/*.jsonl"], "objective": "sft", "split": "train"}
    data = {"dataset": {"name": "t", "description": "d"}, **top, "sources": [base | source]}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("adapter", ["chat", "sharegpt"])
@pytest.mark.parametrize("toolsets", [None, TOOLSETS])
def test_an_adapter_option_naming_an_undeclared_toolset_is_a_config_error(
    tmp_path: Path, adapter: str, toolsets: Any
) -> None:
    top = {} if toolsets is None else {"toolsets": toolsets}
    source = {"adapter": adapter, "options": {"toolset_id": "nope"}}
    config = _config(tmp_path, source, **top)
    with pytest.raises(ConfigError) as info:
        load_config(config)
    err = info.value
    assert err.file == str(config) and err.key == "sources[0].options.toolset_id", err
    assert "unknown toolset 'nope'" in err.message
    hint = "declares no `toolsets`" if toolsets is None else "declared toolsets: 'support-tools'"
    assert hint in err.message, err.message


def test_the_error_comes_before_any_file_is_listed(tmp_path: Path) -> None:
    source = {"adapter": "chat", "options": {"toolset_id": "nope"}, "paths": ["none/*.jsonl"]}
    with pytest.raises(ConfigError, match=r"options\.toolset_id: unknown toolset"):
        load_config(_config(tmp_path, source))


@pytest.mark.parametrize("adapter", ["chat", "sharegpt"])
@pytest.mark.parametrize("named", ["support-tools", "tools-94fdaf43f9d9"])
def test_a_declared_or_derived_toolset_may_be_named(
    tmp_path: Path, adapter: str, named: str
) -> None:
    """`tools-<12 hex>` is derived from records' tools: known only once they are read."""
    source = {"adapter": adapter, "options": {"toolset_id": named}}
    cfg = load_config(_config(tmp_path, source, toolsets=TOOLSETS))
    assert cfg.sources[0].adapter_options["toolset_id"] == named


def test_an_unknown_default_toolset_names_the_declared_ones(tmp_path: Path) -> None:
    config = _config(
        tmp_path, {"adapter": "chat"}, toolsets=TOOLSETS, defaults={"toolset_id": "nope"}
    )
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert info.value.key == "defaults.toolset_id"
    assert "unknown toolset 'nope'" in info.value.message
    assert "declared toolsets: 'support-tools'" in info.value.message


GET_W = {"name": "get_w", "description": "weather", "input_schema": {"type": "object"}}


@pytest.mark.parametrize("tools", [[{"name": "other_tool"}], [GET_W, {"name": "other_tool"}]])
def test_a_declared_toolset_may_not_take_the_id_other_tools_derive(
    tmp_path: Path, tools: list[dict[str, Any]]
) -> None:
    """A config toolset under the id that records' own tools derive took the place of the
    derived toolset without a word: every such record was then quarantined `schema:E2`
    ("'get_w' is not a tool of toolset ...") for the config's mistake."""
    derived = toolset_id_for([GET_W])
    toolsets = [*TOOLSETS, {"id": derived, "tools": tools}]
    config = _config(tmp_path, {"adapter": "chat"}, toolsets=toolsets)
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert info.value.key == "toolsets[1].id", info.value
    assert f"'{derived}' has the shape of the ids the build derives" in info.value.message
    assert f"these tools derive '{toolset_id_for(tools)}'" in info.value.message


def test_a_derived_toolset_copied_as_it_is_may_be_declared(tmp_path: Path) -> None:
    """The toolset a package's metadata.json lists for records' tools, copied unchanged into
    the config: its tools derive its id, so it is the very toolset such records derive."""
    toolset = make_toolset([GET_W])
    config = _config(tmp_path, {"adapter": "chat"}, toolsets=[toolset])
    assert load_config(config).toolsets == (toolset,)
