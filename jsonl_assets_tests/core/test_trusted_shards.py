"""The shards the manifest's verification trusts by sha256: only those whose records were
judged with every toolset they reference known (README "Guarantees")."""

from __future__ import annotations

from pathlib import Path

import orjson

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.stages.manifest_stage import ManifestResult
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets_tests.conftest import write_config

DERIVED = "tools-bd4483d038ea"  # the toolset the chat record below derives: {only_here}
CHAT = {
    "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
    "tools": [{"type": "function", "function": {"name": "only_here"}}],
}


TRAIN = {"objective": "sft", "split": "train"}
VALIDATION = {"objective": "sft", "split": "validation"}


def _native(tool: str) -> dict[str, object]:
    return {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "q"}]},
            {
                "role": "assistant",
                "content": [{"type": "tool_call", "name": tool, "call_id": "c", "arguments": {}}],
            },
            {
                "role": "tool",
                "content": [{"type": "tool_result", "name": tool, "call_id": "c", "result": {}}],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "a"}]},
        ]
    }


def _build(tmp_path: Path, tool: str) -> ManifestResult:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "chat.jsonl").write_bytes(orjson.dumps(CHAT) + b"\n")
    (raw / "native.jsonl").write_bytes(orjson.dumps(_native(tool)) + b"\n")
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "d"},
            "splits": {"validation": 0.0, "test": 0.0},
            "defaults": {"toolset_id": DERIVED},
            "sources": [
                {"name": "s", "paths": ["raw/chat.jsonl"], "adapter": "chat", **TRAIN},
                {"name": "n", "paths": ["raw/native.jsonl"], "adapter": "native", **VALIDATION},
            ],
        },
    )
    cfg = load_config(config)
    for key in ("sft|train", "sft|validation"):
        build_partition(cfg, key)
    manifest = publish(cfg).manifest
    assert manifest is not None
    return manifest


def test_shards_relying_on_a_default_toolset_another_partition_derives_are_verified(
    tmp_path: Path,
) -> None:
    """A record of sft|validation inherits `defaults.toolset_id`, a toolset only sft|train
    derives: its partition could not judge its call (E2), so the manifest reads its shard
    record by record and refuses the package, saying why (it trusted the shard by hash and
    published a package verify calls INVALID)."""
    manifest = _build(tmp_path, "not_in_it")
    assert not manifest.published
    assert [f.rule for f in manifest.findings if f.severity == "error"] == ["E2"]
    (hint,) = manifest.hints
    assert hint.startswith("sft|validation: ") and DERIVED in hint and "`toolsets`" in hint
    assert not (tmp_path / "package" / "metadata.json").exists()


def test_a_valid_call_through_that_default_toolset_is_published(tmp_path: Path) -> None:
    manifest = _build(tmp_path, "only_here")
    assert manifest.published
    assert manifest.hints == []
    assert verify_package(tmp_path / "package").error_count == 0
