"""Only the twelve partitions name a dir (work_files.split_partition_key, partition_dirs):
any other key, from any entry point, is refused before anything is written. Before, a key
was split on `|` and joined onto the work dir as it was: `bogus|train` built
`<work_dir>/bogus/train/` and `../../escaped|train` wrote the stage files beside the work dir."""

from pathlib import Path

import pytest

from jsonl_assets.core.build import build_partition, dirs_for
from jsonl_assets.core.config import load_config
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.store.work_files import (
    PARTITION_KEYS,
    UnknownPartitionError,
    partition_dirs,
    split_partition_key,
)
from jsonl_assets_tests.conftest import notes_config

BAD_KEYS = ["bogus|train", "cpt|bogus", "cpt", "|train", "cpt|train|x", "../../escaped|train",
            "cpt|../../x", "CPT|train", " cpt|train"]  # fmt: skip


def _config(tmp_path: Path) -> Path:
    raw = tmp_path / "proj" / "raw" / "n.txt"
    raw.parent.mkdir(parents=True)
    raw.write_text("hello world\nsecond\n", encoding="utf-8")
    out = tmp_path / "proj"
    output = {"dir": str(out / "package"), "work_dir": str(out / "work"),
              "quarantine_dir": str(out / "quarantine")}  # fmt: skip
    return notes_config(out / "p.yaml", [str(raw)], output)


def test_the_twelve_keys_name_their_dirs(tmp_path: Path) -> None:
    assert tuple(f"{o}|{s}" for o in OBJECTIVES for s in SPLITS) == PARTITION_KEYS
    cfg = load_config(_config(tmp_path))
    for key in PARTITION_KEYS:
        objective, split = split_partition_key(key)
        dirs = dirs_for(cfg, key)
        assert dirs.key == key
        assert dirs.work == cfg.output.work_dir / objective / split


@pytest.mark.parametrize("key", BAD_KEYS)
def test_any_other_key_is_refused_in_one_line_naming_the_twelve(tmp_path: Path, key: str) -> None:
    cfg = load_config(_config(tmp_path))
    with pytest.raises(UnknownPartitionError) as refused:
        dirs_for(cfg, key)
    message = str(refused.value)
    assert message.startswith(f"unknown partition {key!r}: a partition is objective|split")
    assert all(k in message for k in PARTITION_KEYS) and "\n" not in message


@pytest.mark.parametrize(("objective", "split"), [("bogus", "train"), ("..", "train"),
                                                  ("cpt", "../../x"), ("cpt", "")])  # fmt: skip
def test_partition_dirs_refuses_an_objective_or_split_of_no_partition(
    tmp_path: Path, objective: str, split: str
) -> None:
    with pytest.raises(UnknownPartitionError, match="unknown partition"):
        partition_dirs(tmp_path / "w", tmp_path / "q", tmp_path / "p", objective, split)


@pytest.mark.parametrize("key", ["bogus|train", "../../escaped|train"])
def test_a_build_of_another_key_writes_nothing(tmp_path: Path, key: str) -> None:
    config = _config(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(UnknownPartitionError):
        build_partition(load_config(config), key)
    assert sorted(tmp_path.rglob("*")) == before  # no work dir, nothing beside it
