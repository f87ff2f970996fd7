"""A glob that meets a symlink whose target cannot be resolved (`/proc/1/cwd` when reading it
is refused: EACCES on readlink) does not stop the load: `os.path.realpath` raised a bare
PermissionError out of `load_config`, which the CLI printed as `output.work_dir: [Errno 13]`.
The link is named by the glob (a folder it cannot enter, or a path that is not a file) and
the other files are read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jsonl_assets.core.config import load_config
from jsonl_assets.core.config.source_globs import match_glob

pytestmark = pytest.mark.skipif(
    os.path.isdir("/proc/1/cwd"),  # followed (stat) when its link can be read
    reason="/proc/1/cwd can be followed here: no link with an unresolvable target",
)


def _tree(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.jsonl").write_text('{"messages": [{"role": "document", "content": "doc"}]}\n')
    (raw / "p1").symlink_to("/proc/1")
    return raw


def test_a_walk_through_an_unresolvable_link_names_it(tmp_path: Path) -> None:
    raw = _tree(tmp_path)
    links: dict = {}
    files, others = match_glob(os.path.join(raw, "**", "*.jsonl"), links)
    assert files == [str(raw / "a.jsonl")]
    assert str(raw / "p1" / "cwd") in others, others


def test_a_matched_unresolvable_link_names_it(tmp_path: Path) -> None:
    raw = _tree(tmp_path)
    links: dict = {}
    _, others = match_glob(os.path.join(raw, "p1", "cwd"), links)
    assert str(raw / "p1" / "cwd") in others, others


def test_the_config_loads(tmp_path: Path) -> None:
    _tree(tmp_path)
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        "dataset: {name: t, description: d}\n"
        "sources:\n  - {name: s, paths: ['raw/**/*.jsonl'], objective: cpt, adapter: native, "
        "split: train}\n"
    )
    cfg = load_config(path)
    inputs = {i.rel: i.not_a_file for i in cfg.sources[0].inputs}
    assert inputs["raw/a.jsonl"] is None
    assert any(rel.endswith("p1/cwd") and why for rel, why in inputs.items()), inputs
