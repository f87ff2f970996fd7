"""A jsonl-assets package of another dataset in `output.dir` (copied, downloaded, a mistyped
path) is refused, named, and left as it was, unless the build is told to replace it
(`--replace-other-dataset`; core/store/package_files.py `check_dataset`).

Before: any metadata.json of our generator was "ours", whoever built it: a config of dataset
`beta` with a fresh work dir replaced `alpha`'s metadata.json at once and retired (then
removed) its shards, exit 0, no word."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import dagster as dg
import orjson
import pytest
import yaml

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.store.package_files import OtherDatasetError
from jsonl_assets_tests.conftest import build_with_core, materialize, write_config

KEY = "cpt|train"


def _project(root: Path, name: str, package: str, records: int) -> Path:
    (root / "raw").mkdir(parents=True, exist_ok=True)
    lines = "".join(f'{{"id": "{name}{i}", "text": "{name} note {i}"}}\n' for i in range(records))
    (root / "raw" / "notes.jsonl").write_text(lines, encoding="utf-8")
    return write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": name, "description": f"the {name} dataset"},
            "output": {"dir": package, "max_records_per_shard": 10, "retention_hours": 0},
            "sources": [{"name": "notes", "paths": ["raw/*.jsonl"], "objective": "cpt",
                         "adapter": "text", "split": "train", "id_field": "id"}],
        },
    )  # fmt: skip


def _files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def _name(package: Path) -> str:
    return str(orjson.loads((package / "metadata.json").read_bytes())["dataset"]["name"])


@pytest.fixture
def alpha_copy(tmp_path: Path) -> Path:
    """alpha's package, built in its own project, copied into beta's as `downloads/alpha`."""
    built = build_with_core(_project(tmp_path / "alpha", "alpha", "package", 25))
    copy = tmp_path / "beta" / "downloads" / "alpha"
    shutil.copytree(built, copy, ignore=shutil.ignore_patterns(".jsonl-assets*"))
    return copy


def test_another_datasets_package_is_refused_and_kept(tmp_path: Path, alpha_copy: Path) -> None:
    before = _files(alpha_copy)
    cfg = load_config(_project(tmp_path / "beta", "beta", "downloads/alpha", 7))
    with pytest.raises(OtherDatasetError) as info:  # the shards step: before it adds a file
        build_partition(cfg, KEY)
    said = str(info.value)
    assert f"the package dir {alpha_copy} holds the package of another dataset" in said
    assert "names 'alpha', this config's dataset.name is 'beta'" in said
    assert "--replace-other-dataset" in said and "Nothing was deleted or replaced" in said
    assert _files(alpha_copy) == before
    # The publication refuses the same way (beta's shards added meanwhile by a build told to).
    build_partition(cfg, KEY, replace_other_dataset=True)
    added = _files(alpha_copy)
    with pytest.raises(OtherDatasetError, match="names 'alpha'"):
        publish(cfg)
    assert _files(alpha_copy) == added and _name(alpha_copy) == "alpha"
    # Told to: beta replaces it (alpha's shards retired and, retention_hours 0, removed).
    result = publish(cfg, replace_other_dataset=True)
    assert result.manifest is not None and result.manifest.published
    assert _name(alpha_copy) == "beta"
    assert not set(before) - {"metadata.json"} & set(_files(alpha_copy))
    build_with_core(cfg.path)  # its own package now: no flag needed


def test_the_same_dataset_is_rebuilt_from_a_fresh_work_dir_or_renamed(tmp_path: Path) -> None:
    config = _project(tmp_path, "alpha", "package", 25)
    package = build_with_core(config)
    shutil.rmtree(tmp_path / "work")  # "with or without the work dir"
    (tmp_path / "raw" / "notes.jsonl").write_text('{"id": "x", "text": "only"}\n')
    build_with_core(config)
    assert _name(package) == "alpha"
    # Renamed with its work dir kept: the work dir recorded the package's shards.
    doc = yaml.safe_load(config.read_text())
    doc["dataset"]["name"] = "alpha-renamed"
    (tmp_path / "raw" / "notes.jsonl").write_text('{"id": "y", "text": "other"}\n')
    build_with_core(write_config(config, doc))
    assert _name(package) == "alpha-renamed"


def test_the_dagster_steps_refuse_in_one_line(tmp_path: Path, alpha_copy: Path) -> None:
    before = _files(alpha_copy)
    config = _project(tmp_path / "beta", "beta", "downloads/alpha", 7)
    with dg.instance_for_test() as instance:
        result = materialize(config, instance, KEY)
        assert not result.success
        failures = [
            e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE
        ]
        assert len(failures) == 1, failures
        error = failures[0].step_failure_data.error
        assert error is not None and error.cls_name == "Failure"
        assert "\n" not in error.message.rstrip("\n") and error.cause is None
        assert "holds the package of another dataset" in error.message
        assert _files(alpha_copy) == before
        # Told to (the resource's switch, as `--replace-other-dataset` sets it): replaced.
        assert materialize(config, instance, KEY, replace_other_dataset=True).success
        result = materialize(config, instance, None)  # the manifest, without the switch
        assert not result.success and _name(alpha_copy) == "alpha"
        assert materialize(config, instance, None, replace_other_dataset=True).success
    assert _name(alpha_copy) == "beta"


def _variant(config: Path, name: str, shard_records: int) -> Path:
    """A config beside `config`: the same sources (and a small validation split, one shard
    whatever `shard_records`) and output.dir, its own work and quarantine dirs, dataset
    `name`, `shard_records` records per shard."""
    lines = "".join(f'{{"id": "v{i}", "text": "check {i}"}}\n' for i in range(3))
    (config.parent / "valid").mkdir(exist_ok=True)
    (config.parent / "valid" / "notes.jsonl").write_text(lines, encoding="utf-8")
    doc = yaml.safe_load(config.read_text())
    doc["sources"].append({**doc["sources"][0], "name": "checks", "paths": ["valid/*.jsonl"]})
    doc["sources"][1]["split"] = "validation"
    doc["dataset"]["name"] = name
    doc["output"].update(
        work_dir=f"work-{name}", quarantine_dir=f"q-{name}", max_records_per_shard=shard_records
    )
    return write_config(config.with_name(f"{name}.yaml"), doc)


@pytest.mark.parametrize("beta_shard_records", [10, 20], ids=["all-shards-shared", "some"])
def test_shards_in_common_do_not_make_another_datasets_package_ours(
    tmp_path: Path, beta_shard_records: int
) -> None:
    """Before: a work dir that had recorded ANY shard the package lists "built" it. Shards are
    content-addressed, so beta - alpha's sources with other settings, published over alpha's
    package on purpose - shares shard files with alpha's earlier build, and alpha's plain
    rebuild replaced beta's metadata.json and retired its shards, exit 0, no word."""
    base = _project(tmp_path, "base", "package", 25)
    alpha = load_config(_variant(base, "alpha", 10))
    beta = load_config(_variant(base, "beta", beta_shard_records))
    package = build_with_core(alpha.path)
    alphas = set(_files(package))
    with pytest.raises(OtherDatasetError, match="names 'alpha'"):
        build_partition(beta, KEY)
    for key in (KEY, "cpt|validation"):
        build_partition(beta, key, replace_other_dataset=True)
    assert publish(beta, replace_other_dataset=True).manifest.published  # type: ignore[union-attr]
    before = _files(package)
    assert {n for n in set(before) & alphas if n.startswith("data/")}  # shards in common
    if beta_shard_records == 10:  # its shards are all in the package: reused, nothing added
        build_partition(alpha, KEY)
    else:
        with pytest.raises(OtherDatasetError, match="names 'beta', this config's dataset"):
            build_partition(alpha, KEY)
    with pytest.raises(OtherDatasetError, match="names 'beta'"):
        publish(alpha)
    assert _files(package) == before and _name(package) == "beta"
    # beta's own work dir, renamed: still its package.
    renamed = yaml.safe_load(beta.path.read_text())
    renamed["dataset"]["name"] = "beta-renamed"
    build_with_core(write_config(beta.path, renamed))
    assert _name(package) == "beta-renamed"


def test_a_work_dir_from_before_the_publish_record_needs_all_the_shards(tmp_path: Path) -> None:
    """A work dir without `manifest/published.json` (an older version's): its package is
    still recognised when renamed (its ledgers recorded all the shards), another dataset's
    that shares only some shards with it is not."""
    base = _project(tmp_path, "base", "package", 25)
    alpha = _variant(base, "alpha", 10)
    package = build_with_core(alpha)
    (tmp_path / "work-alpha" / "manifest" / "published.json").unlink()
    doc = yaml.safe_load(alpha.read_text())
    doc["dataset"]["name"] = "alpha-renamed"
    build_with_core(write_config(alpha, doc))
    assert _name(package) == "alpha-renamed"
    beta = load_config(_variant(base, "beta", 20))  # its validation shard is alpha's too
    for key in (KEY, "cpt|validation"):
        build_partition(beta, key, replace_other_dataset=True)
    assert publish(beta, replace_other_dataset=True).manifest.published  # type: ignore[union-attr]
    (tmp_path / "work-alpha" / "manifest" / "published.json").unlink()
    with pytest.raises(OtherDatasetError, match="names 'beta'"):
        build_partition(load_config(alpha), KEY)
    assert _name(package) == "beta"
