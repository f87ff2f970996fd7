"""The one engine-free build path: `core/build.py` builds a partition (one pass, then the
shards step) and publishes the package from the results the stages persisted in the work dir.

The Dagster assets, the CLI and these tests call the same functions; no hand-off file
(`extracted.jsonl`, `transformed.jsonl`) is ever written, the multi-asset cannot be split, and
the manifest is published from the work dir alone, whatever the Dagster instance holds.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.stage_report import ShardsDetails, ValidateDetails

from .conftest import materialize

HAND_OFFS = ("extracted.jsonl", "transformed.jsonl", "transformed.files", "validated.rejects")


def test_build_partition_writes_no_hand_off_file_and_reuses(sample_project: Path) -> None:
    cfg = load_config(sample_project)
    first = build_partition(cfg, "sft|train")
    assert [r.stage for r in first.stages] == ["extracted", "transformed", "validated"]
    assert first.shards is not None and first.verification is not None
    assert first.verification["passed"]
    assert isinstance(first.stages[2].details, ValidateDetails)
    assert isinstance(first.shards.details, ShardsDetails)
    assert first.shards.details.shards
    work = sample_project.parent / "work" / "sft" / "train"
    assert not [p.name for p in work.iterdir() if p.name in HAND_OFFS]
    again = build_partition(cfg, "sft|train")
    assert all(r.reused for r in again.stages) and again.shards is not None
    assert again.shards.reused


def test_publish_reads_the_persisted_results_not_the_dagster_instance(
    sample_project: Path,
) -> None:
    """Built through Dagster in one instance, published from another, empty one: the
    manifest comes from the work dir's typed results."""
    with dg.instance_for_test() as first:
        for key in ("sft|train", "cpt|train"):
            assert materialize(sample_project, first, key).success
    with dg.instance_for_test() as second:
        assert materialize(sample_project, second, None).success
    package = sample_project.parent / "package"
    assert (package / "metadata.json").is_file()
    result = publish(load_config(sample_project))
    assert result.problems == [] and result.manifest is not None and result.manifest.published
    assert [(p.objective, p.split) for p in result.partitions if p.shards] == [
        ("sft", "train"),
        ("cpt", "train"),
    ] or sorted((p.objective, p.split) for p in result.partitions if p.shards) == [
        ("cpt", "train"),
        ("sft", "train"),
    ]


def test_the_record_stages_cannot_be_materialised_one_by_one(
    sample_project: Path, instance: dg.DagsterInstance
) -> None:
    from jsonl_assets.defs.assets import TRANSFORMED, record_stages
    from jsonl_assets.defs.resources import PipelineResource

    with pytest.raises(dg.DagsterInvalidDefinitionError) as raised:
        dg.materialize(
            [record_stages],
            selection=[TRANSFORMED],
            partition_key="sft|train",
            instance=instance,
            resources={"pipeline": PipelineResource(config_path=str(sample_project))},
        )
    assert "subset" in str(raised.value.__cause__)


def test_a_publication_before_any_partition_is_built_says_to_build_them(
    sample_project: Path,
) -> None:
    """A manifest materialised first (nothing built) is told which partitions to build; it
    said the sources of every built partition held no records and that no partition had a
    source."""
    cfg = load_config(sample_project)
    said = publish(cfg).problems
    assert len(said) == 1 and said[0].startswith("nothing to publish yet"), said
    assert "sft|train, sft|validation" in said[0] and "(11 fed by the config's sources)" in said[0]
    assert "held no records" not in said[0] and not (sample_project.parent / "package").exists()
