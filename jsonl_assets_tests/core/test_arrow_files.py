"""Arrow files of the work dir are read by their name, never as a glob: a work dir named
`work[1]` builds (polars no longer finds "expanded paths were empty"), and its files are
never taken from a sibling `work1` that `[1]` would match."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import yaml

from jsonl_assets.core.arrow_files import scan_ipc_file
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets_tests.conftest import build_with_core, read_shard, write_config


def test_a_bracketed_folder_is_read_not_its_glob_sibling(tmp_path: Path) -> None:
    own, sibling = tmp_path / "work[1]", tmp_path / "work1"
    for folder, value in ((own, 1), (sibling, 2)):
        folder.mkdir()
        pl.DataFrame({"a": [value]}).write_ipc(folder / "ids.arrow")
    assert scan_ipc_file(own / "ids.arrow").collect()["a"].to_list() == [1]


def test_a_work_dir_with_glob_brackets_builds(sample_project: Path) -> None:
    data = yaml.safe_load(sample_project.read_text())
    data["output"] = {**data["output"], "work_dir": "work[1]"}
    write_config(sample_project, data)
    decoy = sample_project.parent / "work1"  # what `work[1]` matches as a glob
    decoy.mkdir()
    package = build_with_core(sample_project)
    assert (sample_project.parent / "work[1]" / "cpt" / "train").is_dir()
    assert not any(decoy.iterdir())
    assert verify_package(package).error_count == 0
    shards = sorted((package / "data").glob("*/*.jsonl*"))
    assert sum(len(read_shard(s)) for s in shards) > 0
