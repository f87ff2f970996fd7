"""The build's leakage check is the verifier's `PackageIds` over the validated stage's id
digests: a leak is each copy of an id whose first copy is in an earlier split."""

from __future__ import annotations

from pathlib import Path

import yaml

from jsonl_assets.core.build import build_partition, built_partitions
from jsonl_assets.core.config import load_config
from jsonl_assets.core.stages.manifest_stage import LEAKAGE_EXAMPLES, split_leakage


def test_copies_in_three_splits_are_counted_per_later_copy(sample_project: Path) -> None:
    raw = sample_project.parent / "raw" / "cpt"
    data = yaml.safe_load(sample_project.read_text())
    notes = next(s for s in data["sources"] if s["name"] == "garden_notes")
    notes["split"] = "train"
    for split in ("test", "validation"):  # the same notes, in the other two splits
        (raw / split).mkdir()
        (raw / split / "notes.jsonl").write_bytes((raw / "garden_notes.jsonl").read_bytes())
        data["sources"].append(
            {
                **notes,
                "name": f"notes_{split}",
                "paths": [f"raw/cpt/{split}/*.jsonl"],
                "split": split,
            }
        )
    sample_project.write_text(yaml.safe_dump(data, sort_keys=False))
    cfg = load_config(sample_project)
    for split in ("test", "train", "validation"):
        build_partition(cfg, f"cpt|{split}")
    partitions, _ = built_partitions(cfg)
    leaked, examples = split_leakage(cfg, partitions)
    notes_count = len((raw / "garden_notes.jsonl").read_bytes().splitlines())
    assert leaked == 2 * notes_count  # the validation and the test copy of each note
    assert len(examples) == LEAKAGE_EXAMPLES
    first = examples[0]
    assert first["splits"] == ["train", "validation"]  # splits in the order of SPLITS
    assert first["first"]["source"] == "garden_notes"
    assert first["second"]["source"] == "notes_validation"
    assert first["first"]["line"] == first["second"]["line"]
    assert split_leakage(cfg, list(reversed(partitions))) == (leaked, examples)
