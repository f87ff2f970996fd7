"""Source globs: expanded by a walk that visits each real directory once (a symlink loop under
`**` ends at once), with the same matches as `glob.glob(recursive=True)` on ordinary trees;
a glob with `[`/`]` that matches nothing says how to match them literally; file names that are
not UTF-8 are matched and passed on."""

from __future__ import annotations

import base64
import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jsonl_assets.core.config import ConfigError, load_config

from .conftest import write_config

LINE = '{"text": "hello"}\n'


def _config(tmp_path: Path, *patterns: str) -> Path:
    return write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "d"},
            "sources": [
                {
                    "name": "a",
                    "paths": list(patterns),
                    "objective": "cpt",
                    "adapter": "text",
                    "split": "train",
                    "format": "jsonl",
                }
            ],
        },
    )


def test_a_symlink_loop_under_double_star_ends_at_once(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / "x").mkdir(parents=True)
    (raw / "y").mkdir()
    (raw / "x" / "a.jsonl").write_text(LINE)
    (raw / "y" / "b.jsonl").write_text(LINE)
    # Each folder links to the other twice: every level of the walk doubles the paths,
    # until the kernel's limit of 40 symlinks in a path (2^40 paths).
    for a, b in (("x", "y"), ("y", "x")):
        os.symlink(f"../{b}", raw / a / f"to_{b}1")
        os.symlink(f"../{b}", raw / a / f"to_{b}2")
    config = _config(tmp_path, "raw/**/*.jsonl")
    # A fresh interpreter, so the old walk (2^40 paths) cannot hang the test run.
    code = (
        "import sys; from jsonl_assets.core.config import load_config; "
        "print(*[i.rel for i in load_config(sys.argv[1]).sources[0].inputs])"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    # A file is named by the path the glob matched it at (symlinks not resolved): the walk,
    # in name order, enters y first through raw/x/to_y1.
    assert run.stdout.split() == ["raw/x/a.jsonl", "raw/x/to_y1/b.jsonl"]


def _tree(root: Path) -> None:
    for rel in (
        "a.jsonl",
        "b.json",
        ".hidden.jsonl",
        "sub/c.jsonl",
        "sub/deep/d.jsonl",
        "sub/deep/e.csv",
        "sub/.hid/f.jsonl",
        "other/g1.jsonl",
        "other/g2.jsonl",
        "v[1]/h.jsonl",
    ):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(LINE)
    os.symlink("a.jsonl", root / "link.jsonl")
    os.symlink("sub/deep", root / "deeplink")


@pytest.mark.parametrize(
    "pattern",
    [
        "*.jsonl",
        "**/*.jsonl",
        "**",
        "sub/**",
        "sub/**/*.jsonl",
        "**/deep/*",
        "*/*.jsonl",
        "other/g?.jsonl",
        "other/g[2].jsonl",
        "v[[]1]/*.jsonl",
        ".*.jsonl",
        "sub/.hid/*.jsonl",
        "a.jsonl",
        "missing/*.jsonl",
        "**/**/*.csv",
        "deeplink/*.csv",
    ],
)
def test_same_matches_as_glob_on_ordinary_trees(tmp_path: Path, pattern: str) -> None:
    from jsonl_assets.core.config.source_globs import expand_glob

    _tree(tmp_path)
    # As the config names inputs: by their real path (a file reached through two links once).
    expected = {
        os.path.realpath(p)
        for p in glob.glob(str(tmp_path / pattern), recursive=True)
        if os.path.isfile(p)
    }
    got = {os.path.realpath(p) for p in expand_glob(str(tmp_path / pattern))}
    assert got == expected


def test_a_glob_with_brackets_that_matches_nothing_gives_a_hint(tmp_path: Path) -> None:
    (tmp_path / "raw" / "v[1]").mkdir(parents=True)
    (tmp_path / "raw" / "v[1]" / "a.jsonl").write_text(LINE)
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, "raw/v[1]/*.jsonl"))
    assert info.value.key == "sources[0].paths[0]"
    assert "matched no file" in info.value.message
    assert "[[]" in info.value.message and "raw/v[[]1]/*.jsonl" in info.value.message
    # The escaped form it suggests matches.
    cfg = load_config(_config(tmp_path, "raw/v[[]1]/*.jsonl"))
    assert [i.rel for i in cfg.sources[0].inputs] == ["raw/v[1]/a.jsonl"]


def test_file_names_that_are_not_utf8_are_matched_and_passed_on(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    name = os.fsdecode(b"caf\xe9.jsonl")  # Latin-1, not UTF-8: a surrogate escape
    (raw / name).write_text(LINE)
    (raw / "plain.jsonl").write_text(LINE)
    cfg = load_config(_config(tmp_path, "raw/*.jsonl"))
    inputs = cfg.sources[0].inputs
    # The name as traces show it (escaped, valid UTF-8), and its raw bytes losslessly.
    assert [i.rel for i in inputs] == ["raw/caf\\xe9.jsonl", "raw/plain.jsonl"]
    assert base64.b64decode(inputs[0].rel_b64 or "") == b"raw/caf\xe9.jsonl"
    assert inputs[1].rel_b64 is None
    assert inputs[0].path.is_file()
    assert os.fsencode(inputs[0].path) == os.fsencode(raw) + b"/caf\xe9.jsonl"
