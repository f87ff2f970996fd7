"""The public corpus (../shared/corpus) built through Dagster with data/corpus_pipeline.yaml.

Every folder of the corpus goes into one package: the ShareGPT JSON array and the alpaca seed
tasks -> sft, GSM8K -> rft with numeric references, Tiny Shakespeare -> cpt chunks. The config
is the committed one, with its globs pointed at the corpus and its output into tmp_path.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import dagster as dg
import orjson
import pytest
import yaml

from jsonl_assets.core.config import load_config
from jsonl_assets.core.rules.spec_vocabulary import SPLITS
from jsonl_assets.core.stages.shard_stage import MARKER as SHARDS_MARKER
from jsonl_assets.core.stages.transform_stage import upstream_marker
from jsonl_assets.core.store.work_files import partition_dirs
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets.defs import checks
from jsonl_assets.defs.partitions import all_partition_keys
from jsonl_assets_tests.conftest import (
    CORPUS,
    REPO,
    materialize,
    read_shard,
    shard_relpaths,
    write_config,
)

CONFIG = REPO / "data" / "corpus_pipeline.yaml"
CORPUS_PREFIX = "../../shared/corpus/"

pytestmark = pytest.mark.usefixtures("corpus")  # skips the module without the corpus


def corpus_config(tmp_path: Path) -> Path:
    """The committed corpus config, its globs made absolute, its output dirs in tmp_path."""
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for source in data["sources"]:
        paths = source["paths"]
        assert all(p.startswith(CORPUS_PREFIX) for p in paths), paths
        source["paths"] = [str(CORPUS / p[len(CORPUS_PREFIX) :]) for p in paths]
    data["output"].update(dir="package", work_dir="work", quarantine_dir="quarantine")
    return write_config(tmp_path / "corpus_pipeline.yaml", data)


def test_every_corpus_folder_builds_into_one_valid_package(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    config = corpus_config(tmp_path)
    cfg = load_config(config)
    assert {s.name for s in cfg.sources} == {
        "sharegpt_dummy",
        "gsm8k_test",
        "alpaca_seed",
        "tinyshakespeare",
    }
    assert {s.inputs[0].format for s in cfg.sources} == {"json_array", "jsonl", "text"}
    wanted = {
        f"{s.objective}|{split}"
        for s in cfg.sources
        for split in (SPLITS if s.split == "auto" else (s.split,))
    }
    keys = [k for k in all_partition_keys() if k in wanted]
    assert keys == [
        "sft|train",
        "sft|validation",
        "sft|test",
        "rft|test",
        "cpt|train",
        "cpt|validation",
        "cpt|test",
    ]
    for key in keys:
        result = materialize(config, instance, key)
        assert result.success, key
        assert all(e.passed for e in result.get_asset_check_evaluations()), key
    manifest = materialize(config, instance, None)
    assert manifest.success
    assert all(e.passed for e in manifest.get_asset_check_evaluations())

    package = tmp_path / "package"
    report = verify_package(package, forbid_split_leakage=True)
    assert report.ok, report.findings[:5]

    # read = written + quarantined per source, summed over the partitions of each source.
    totals: dict[str, Counter[str]] = {}
    out = cfg.output
    for key in keys:
        objective, split = key.split("|")
        dirs = partition_dirs(out.work_dir, out.quarantine_dir, out.dir, objective, split)
        _, shards_report = upstream_marker(dirs, SHARDS_MARKER)
        for name, counts in shards_report["per_source"].items():
            assert counts["read"] == counts["written"] + counts["quarantined"], (key, name)
            totals.setdefault(name, Counter()).update(
                {k: counts[k] for k in ("read", "written", "quarantined")}
            )
    seed_tasks = [
        json.loads(line)
        for line in (CORPUS / "alpaca-seed" / "seed_tasks.jsonl").read_text().splitlines()
    ]
    instances = sum(len(task["instances"]) for task in seed_tasks)
    assert (len(seed_tasks), instances) == (175, 175)
    expected = {"sharegpt_dummy": 500, "gsm8k_test": 1319, "alpaca_seed": instances}
    for name, count in expected.items():
        assert totals[name] == Counter(read=count, written=count, quarantined=0), name
    shakespeare = totals["tinyshakespeare"]
    assert shakespeare["read"] == shakespeare["written"] > 250 and shakespeare["quarantined"] == 0

    # The package holds what the accounting says, and the records are the corpus' content.
    metadata = orjson.loads((package / "metadata.json").read_bytes())
    listed = sorted(s["path"] for f in metadata["files"] for s in f["shards"])
    assert sorted(shard_relpaths(package)) == listed
    records = [r for path in listed for r in read_shard(package / path)]
    by_source = Counter(r["metadata"]["trace"]["source"] for r in records)
    assert by_source == Counter({name: c["written"] for name, c in totals.items()})

    # sharegpt: own ids; alpaca: task id + instance suffix; both in all three splits.
    ids = {r["id"] for r in records}
    assert "sharegpt_dummy:identity_0" in ids and "alpaca_seed:seed_task_0#1" in ids

    # gsm8k: every reference is the number after `####`, graded numerically.
    gsm8k = (CORPUS / "gsm8k" / "test.jsonl").read_text(encoding="utf-8").splitlines()
    rft = [r for r in records if r["metadata"]["trace"]["source"] == "gsm8k_test"]
    for record in rft:
        line = json.loads(gsm8k[record["metadata"]["trace"]["line"] - 1])
        final = re.search(r"####\s*(.+?)\s*$", line["answer"]).group(1).replace(",", "")
        assert record["reference"]["grading"] == {"type": "numeric", "tolerance": 0}
        assert record["reference"]["answer"] == float(final)
        assert record["messages"][0]["content"][0]["text"] == line["question"]

    # tinyshakespeare: the chunks, in line order, are the file's text exactly.
    chunks = sorted(
        (r["metadata"]["trace"]["line"], r["messages"][0]["content"][0]["text"])
        for r in records
        if r["metadata"]["trace"]["source"] == "tinyshakespeare"
    )
    text = (CORPUS / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    assert "".join(chunk for _, chunk in chunks) == text
    assert max(len(chunk) for _, chunk in chunks) <= 4000
    assert not any(p.stat().st_size for p in (tmp_path / "quarantine").rglob("*.jsonl"))
    assert checks.PACKAGE_VALID in {e.check_name for e in manifest.get_asset_check_evaluations()}
