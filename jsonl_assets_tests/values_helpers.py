"""A small cpt project built with the real CLI, for the value, damage and file-name tests."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import orjson
import yaml

from jsonl_assets_tests.conftest import package_shards, read_shard
from jsonl_assets_tests.test_restart import run_cli_build


def doc(i: int, **meta: Any) -> dict[str, Any]:
    """A native cpt record; `meta` goes into its metadata."""
    return {
        "messages": [{"role": "document", "content": f"Garden note number {i}: water the ferns."}],
        "metadata": {"n": i, **meta},
    }


def doc_line(i: int, **meta: Any) -> bytes:
    return orjson.dumps(doc(i, **meta))


def make_cpt_project(root: Path, paths: list[str], fmt: str | None = None) -> Path:
    """A config under `root` with one native cpt source (split train) over `paths`."""
    source: dict[str, Any] = {
        "name": "notes",
        "paths": paths,
        "objective": "cpt",
        "adapter": "native",
        "split": "train",
    }
    if fmt:
        source["format"] = fmt
    config = {
        "dataset": {"name": "values-test", "description": "values, damage and names"},
        "output": {"dir": "package", "work_dir": "work", "quarantine_dir": "quarantine"},
        "thresholds": {
            "max_parse_failure_rate": 1.0,
            "max_duplicate_id_rate": 1.0,
            "max_invalid_rate": 1.0,
        },
        "sources": [source],
    }
    path = root / "pipeline.yaml"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def build(config: Path) -> subprocess.CompletedProcess[str]:
    return run_cli_build(config, keys=("cpt|train",))


def shard_lines(config: Path) -> list[bytes]:
    """The raw lines of every shard of the package, in shard order."""
    from jsonl_assets.core.compression import iter_decompressed

    lines: list[bytes] = []
    for path in package_shards(config.parent / "package"):
        with open(path, "rb") as handle:
            data = b"".join(iter_decompressed(handle, "zstd"))
        lines += [line for line in data.split(b"\n") if line]
    return lines


def shard_records(config: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in package_shards(config.parent / "package"):
        out += read_shard(path)
    return out


def quarantined(config: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((config.parent / "quarantine").rglob("*.jsonl")):
        out += [orjson.loads(line) for line in path.read_bytes().splitlines() if line]
    return out
