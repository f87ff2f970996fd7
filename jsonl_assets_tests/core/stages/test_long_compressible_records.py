"""A record as long as `limits.max_record_bytes` allows, of highly compressible text, is
published: its shard decompresses past a default verify's expansion floor (64 MiB), and the
build reads back what it wrote under the caps of its own record limit
(`verify_limits.limits_for_records`). Before, the build's shards_verified check read the shard
under the default cap, stopped partway ("1 records found, 2 expected"), and no rerun could
publish the package."""

from __future__ import annotations

from pathlib import Path

import orjson

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets.core.verify.verify_limits import VerifyLimits
from jsonl_assets_tests.conftest import write_config

MiB = 1 << 20


def test_a_record_past_the_default_expansion_floor_is_published(tmp_path: Path) -> None:
    long = {"id": "long", "text": "a" * (70 * MiB)}
    short = {"id": "short", "text": "a short note"}
    (tmp_path / "notes.jsonl").write_bytes(orjson.dumps(long) + b"\n" + orjson.dumps(short) + b"\n")
    config = write_config(
        tmp_path / "p.yaml",
        {
            "dataset": {"name": "long", "description": "one long compressible record"},
            "limits": {"max_record_bytes": 100 * MiB},
            "sources": [{"name": "n", "paths": ["notes.jsonl"], "objective": "cpt",
                         "adapter": "text", "split": "train", "id_field": "id"}],
        },
    )  # fmt: skip
    cfg = load_config(config)
    result = build_partition(cfg, "cpt|train")
    assert result.verification is not None and result.verification["passed"], result.verification
    assert publish(cfg).manifest.published  # type: ignore[union-attr]
    floor = VerifyLimits(max_line_bytes=100 * MiB, expansion_floor=100 * MiB)
    assert verify_package(cfg.output.dir, limits=floor).ok
