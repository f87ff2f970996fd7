"""The statistics the build measures as its chunks accept records (merged without the
duplicates) equal the ones measured again from the published shards, whatever the chunks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest
import yaml

from jsonl_assets.core.build import built_partitions
from jsonl_assets.core.config import load_config
from jsonl_assets.core.report.statistics import load_manifest, measured_cells, package_cells
from jsonl_assets_tests.conftest import build_with_core
from jsonl_assets_tests.core.report.conftest import tiny_config


@pytest.fixture(scope="module")
def measured_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tiny package built with the report on (the suite turns it off), so its chunks
    measured their records."""
    with _report_on():
        config = tiny_config(tmp_path_factory.mktemp("measured") / "data")
        build_with_core(config)
    yield config


@contextmanager
def _report_on() -> Iterator[None]:
    was = os.environ.get("JSONL_ASSETS_REPORT")
    os.environ["JSONL_ASSETS_REPORT"] = "1"
    try:
        yield
    finally:
        if was is None:
            os.environ.pop("JSONL_ASSETS_REPORT", None)
        else:
            os.environ["JSONL_ASSETS_REPORT"] = was


def _measured_equal_remeasured(config: Path) -> list[dict]:
    cfg = load_config(config)
    manifest = load_manifest(cfg.output.dir)
    measured = measured_cells(built_partitions(cfg)[0])
    listed = {(e["objective"], e["split"]) for e in manifest["files"]}
    assert set(measured) == listed  # every published cell was measured by the build
    taken = [c.to_json() for c in package_cells(cfg.output.dir, manifest, 1, measured)]
    again = [c.to_json() for c in package_cells(cfg.output.dir, manifest, 1)]
    assert taken == again
    return taken


def test_the_builds_statistics_equal_the_shards(measured_package: Path) -> None:
    cells = _measured_equal_remeasured(measured_package)
    assert sum(c["records"] for c in cells) == 104


@pytest.mark.slow
def test_the_builds_statistics_equal_the_shards_of_the_corpus(tmp_path: Path, corpus: Path) -> None:
    # The sharegpt, qa_reference, alpaca and text adapters, JSON arrays and text files.
    from jsonl_assets_tests.test_corpus_build import corpus_config

    config = corpus_config(tmp_path)
    with _report_on():
        build_with_core(config)
    cells = _measured_equal_remeasured(config)
    assert {c["objective"] for c in cells} == {"sft", "rft", "cpt"}


@pytest.mark.slow
def test_the_builds_statistics_equal_the_shards_with_many_chunks(tmp_path: Path) -> None:
    # 4 KiB chunks: a duplicate id and the record it repeats fall in different chunks.
    config = tiny_config(tmp_path / "data")
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["output"]["chunk_bytes"] = 4096
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with _report_on():
        build_with_core(config)
    plan = orjson.loads(
        (tmp_path / "data" / "work" / "sft" / "train" / "chunks" / "plan.json").read_bytes()
    )
    assert len(plan["report"]["chunks"]) > 3
    assert sum(c["records"] for c in _measured_equal_remeasured(config)) == 104


def test_with_the_report_off_nothing_is_measured(tiny_package: Path) -> None:
    # JSONL_ASSETS_REPORT=0 (the suite's setting): the chunks measure nothing, the shards
    # results hold no statistics, and a report written later measures the shards.
    assert measured_cells(built_partitions(load_config(tiny_package))[0]) == {}


def test_a_stale_measure_is_not_used(measured_package: Path) -> None:
    # Statistics of other shards (the sha256s differ) are ignored: the shards are measured.
    cfg = load_config(measured_package)
    manifest = load_manifest(cfg.output.dir)
    measured = measured_cells(built_partitions(cfg)[0])
    key = next(iter(measured))
    shas, stats = measured[key]
    wrong = dict(measured) | {key: (shas, {**stats, "records": stats["records"] + 1})}
    other = dict(measured) | {key: (["0" * 64], {**stats, "records": stats["records"] + 1})}
    again = [c.to_json() for c in package_cells(cfg.output.dir, manifest, 1)]
    assert [c.to_json() for c in package_cells(cfg.output.dir, manifest, 1, other)] == again
    assert [c.to_json() for c in package_cells(cfg.output.dir, manifest, 1, wrong)] != again
