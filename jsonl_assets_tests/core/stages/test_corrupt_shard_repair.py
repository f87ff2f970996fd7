"""A published shard changed in place at the same size (bit rot, a zero-filled block, a hand
edit) is written again by the next build: the shards stage reuses a package file of the
shard's name only if it holds exactly the staged bytes (its sha256), and a partition whose
shards failed verification - shards_verified, or the package's verification at publication -
is built again rather than reused on its shards' sizes. With --force or without, with the
work dir kept or cleared, the rebuild ends with a package that verifies."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import yaml

from jsonl_assets.core.build import build_partition, dirs_for, publish
from jsonl_assets.core.config import PipelineConfig, load_config
from jsonl_assets.core.partition_state import BUILD, partition_state
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets_tests.conftest import write_config

KEY = "cpt|train"


def _config(sample_project: Path) -> PipelineConfig:
    data = yaml.safe_load(sample_project.read_text())
    data["output"] = {**data.get("output", {}), "max_records_per_shard": 40}
    write_config(sample_project, data)
    return load_config(sample_project)


def _shards(cfg: PipelineConfig) -> dict[str, str]:
    package = cfg.output.dir
    return {
        p.relative_to(package).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((package / "data").glob("cpt-train-*/cpt-train-*"))
    }


def _built(cfg: PipelineConfig, force: bool = False) -> dict[str, str]:
    result = build_partition(cfg, KEY, force=force)
    assert result.verification is not None and result.verification["passed"]
    return _shards(cfg)


def _flip_a_byte(cfg: PipelineConfig) -> Path:
    """One byte of the first shard inverted, its size kept."""
    shard = sorted((cfg.output.dir / "data").glob("cpt-train-*/cpt-train-*"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    return shard


def _published_and_valid(cfg: PipelineConfig) -> None:
    publication = publish(cfg)
    assert not publication.problems
    assert publication.manifest is not None and publication.manifest.published
    assert verify_package(cfg.output.dir).error_count == 0


def test_a_forced_rebuild_replaces_a_shard_flipped_in_place(sample_project: Path) -> None:
    cfg = _config(sample_project)
    reference = _built(cfg)
    assert len(reference) >= 3
    _flip_a_byte(cfg)
    assert _shards(cfg) != reference
    assert _built(cfg, force=True) == reference
    _published_and_valid(cfg)


def test_a_failed_verification_makes_the_next_build_write_the_shards_again(
    sample_project: Path,
) -> None:
    cfg = _config(sample_project)
    reference = _built(cfg)
    _flip_a_byte(cfg)
    # The stage's marker is intact by size: reused, and shards_verified fails.
    failed = build_partition(cfg, KEY)
    assert failed.verification is not None and not failed.verification["passed"]
    # The staged copies were dropped after the first adoption: the record stages run again.
    assert _built(cfg) == reference
    _published_and_valid(cfg)


def test_a_publication_that_finds_a_changed_shard_makes_the_partition_build_again(
    sample_project: Path,
) -> None:
    """The corruption happens after shards_verified passed: the partition looks up to date
    until the publication's verification reads the shard; from then on it is not."""
    cfg = _config(sample_project)
    reference = _built(cfg)
    _published_and_valid(cfg)
    _flip_a_byte(cfg)
    publication = publish(cfg)
    assert publication.manifest is not None and not publication.manifest.published
    assert partition_state(cfg, dirs_for(cfg, KEY)) == BUILD
    assert _built(cfg) == reference
    _published_and_valid(cfg)


def test_a_cleared_work_dir_rebuild_replaces_a_flipped_shard(sample_project: Path) -> None:
    cfg = _config(sample_project)
    reference = _built(cfg)
    _flip_a_byte(cfg)
    shutil.rmtree(cfg.output.work_dir)
    assert _built(cfg) == reference
    _published_and_valid(cfg)
