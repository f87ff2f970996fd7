"""An input an adapter did not foresee (it raises a ValueError, a TypeError, a
decimal.InvalidOperation, ... instead of an AdapterError; a TypeError is orjson's
JSONEncodeError, `unserializable` as before) is quarantined as `adapter:failed`
with its trace and raw bytes, and the build goes on with the other records. Before, one such
input ended the whole build (`qa_reference` on the answer `1e999999999999999999999`: "rft|train:
record_stages: decimal.InvalidOperation")."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from jsonl_assets.core.adapters import ADAPTERS
from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.stages.transform_stage import FAILED
from jsonl_assets_tests.conftest import package_shards, read_shard, write_config

ERRORS = {
    "value": ValueError("bad value"),
    "decimal": ArithmeticError("decimal.InvalidOperation"),
    "key": KeyError("k"),
    "attribute": AttributeError("no attribute"),
}


def _failing(build: Any) -> Any:
    """alpaca's factory, whose adapter raises `ERRORS[raw["fail"]]` for an input that asks."""

    def failing_build(options: Mapping[str, Any]) -> Any:
        adapt = build(options)

        def adapt_or_fail(raw: Any) -> Any:
            if isinstance(raw, dict) and raw.get("fail") in ERRORS:
                Decimal(1)  # the adapter's own work before it fails
                raise ERRORS[raw["fail"]]
            return adapt(raw)

        return adapt_or_fail

    return failing_build


def test_an_input_the_adapter_did_not_foresee_is_quarantined_and_the_build_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = ADAPTERS["alpaca"]
    monkeypatch.setitem(ADAPTERS, "alpaca", dataclasses.replace(spec, build=_failing(spec.build)))
    rows = [{"instruction": f"q{i}", "output": f"a{i}"} for i in range(3)]
    rows[1:1] = [{"instruction": "x", "output": "y", "fail": kind} for kind in ERRORS]
    (tmp_path / "a.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "adapter failures"},
            "sources": [
                {
                    "name": "a",
                    "paths": ["a.jsonl"],
                    "objective": "sft",
                    "adapter": "alpaca",
                    "split": "train",
                    "license": "MIT",
                }
            ],
            "thresholds": {"max_adapter_reject_rate": 1.0},
        },
    )
    cfg = load_config(config)
    build_partition(cfg, "sft|train")
    publish(cfg)

    written = [r for p in package_shards(cfg.output.dir) for r in read_shard(p)]
    lines = [1, len(ERRORS) + 2, len(ERRORS) + 3]  # q0, q1, q2
    assert sorted(r["metadata"]["trace"]["line"] for r in written) == lines
    quarantined = [
        orjson.loads(line)
        for path in sorted(cfg.output.quarantine_dir.rglob("transformed.jsonl"))
        for line in path.read_bytes().splitlines()
    ]
    assert [q["reason"] for q in quarantined] == [FAILED] * len(ERRORS)
    assert [q["trace"]["line"] for q in quarantined] == list(range(2, 2 + len(ERRORS)))
    for entry, (kind, exc) in zip(quarantined, ERRORS.items(), strict=True):
        assert f"the adapter failed on this input ({type(exc).__name__}: " in entry["detail"]
        assert orjson.loads(entry["raw"])["fail"] == kind
