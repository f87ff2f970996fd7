"""A project in a folder whose name holds glob characters (`proj[v2]/`) reads its relative
source globs from that folder: the folder's name is taken literally (only the pattern's own
wildcards are wildcards), so its files match, and a sibling `projv/` that `[v2]` would match
is never read nor taken for the source root."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson

from jsonl_assets.core.config import load_config
from jsonl_assets.core.config.source_globs import expand_glob, literal, rooted, split_root
from jsonl_assets_tests.conftest import SAMPLE_DATA, build_with_core, read_shard

SIBLING = "from the sibling folder"


def _projects(tmp_path: Path) -> Path:
    project = tmp_path / "proj[v2]"
    shutil.copytree(SAMPLE_DATA / "raw", project / "raw")
    shutil.copyfile(SAMPLE_DATA / "pipeline.yaml", project / "pipeline.yaml")
    sibling = tmp_path / "projv" / "raw" / "cpt"
    sibling.mkdir(parents=True)
    row = {"messages": [{"role": "document", "content": SIBLING}]}
    (sibling / "zz_sibling.jsonl").write_bytes(orjson.dumps(row) + b"\n")
    return project / "pipeline.yaml"


def test_an_escaped_root_matches_only_its_own_folder(tmp_path: Path) -> None:
    root = _projects(tmp_path).parent
    pattern = rooted(root, "raw/cpt/*.jsonl")
    matched = [Path(p) for p in expand_glob(pattern)]
    assert matched and all(p.is_relative_to(root) for p in matched)
    assert split_root(pattern) == (root / "raw" / "cpt", ["*.jsonl"])
    assert rooted(root, "/abs/[x]/*.jsonl") == "/abs/[x]/*.jsonl"
    assert literal("proj[[]v2]") == "proj[v2]" and literal("proj[v2]") is None
    assert literal("a[*]b[?]") == "a*b?" and literal("*.jsonl") is None


def test_a_project_in_a_bracketed_folder_builds_from_its_own_files(tmp_path: Path) -> None:
    config = _projects(tmp_path)
    cfg = load_config(config)
    files = [i.path for s in cfg.sources for i in s.inputs]
    assert files and all(Path(f).is_relative_to(config.parent) for f in files)
    package = build_with_core(config)
    lines = [r for s in sorted((package / "data").glob("*/*.jsonl*")) for r in read_shard(s)]
    assert lines and SIBLING not in orjson.dumps(lines).decode()
