"""A source glob may not reach a dir the build writes, made or not yet made
(core/config/output_dirs.py `check_source_overlap`, core/config/source_globs.py).

Before: `raw/*/../../*/*/*.jsonl` (a `..` after a wildcard) and a dangling symlink in a folder
a glob walks, pointing where an output dir will be made (`raw/link -> ../q`), were accepted at
load; the build wrote its quarantine and a shard, and only the manifest step's reload refused
(exit 1, "(through a symlink)" for the `..` case). Now `load_config` refuses both, before
anything is written; the files a glob matches and quarantines are the same.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jsonl_assets.core.config import ConfigError, load_config
from jsonl_assets.core.config.source_globs import match_glob
from jsonl_assets_tests.conftest import notes_config


def _project(root: Path, pattern: str) -> Path:
    sub = root / "raw" / "sub"
    sub.mkdir(parents=True)
    (sub / "notes.jsonl").write_text('{"text": "a note"}\n', encoding="utf-8")
    (root / "raw" / "real" / "in").mkdir(parents=True)  # for `raw/*/in/*.jsonl`
    (root / "raw" / "real" / "in" / "n.jsonl").write_text('{"text": "n"}\n', encoding="utf-8")
    return notes_config(
        root / "p.yaml", [pattern], {"dir": "pkg", "work_dir": "w", "quarantine_dir": "q"}
    )


@pytest.mark.parametrize("pattern", ["raw/*/../../*/*/*.jsonl", "raw/**/../*/*.jsonl"])
def test_a_dotdot_after_a_wildcard_is_refused(tmp_path: Path, pattern: str) -> None:
    config = _project(tmp_path, pattern)
    with pytest.raises(ConfigError) as err:
        load_config(config)
    message = str(err.value)
    assert "sources[0].paths[0]" in message and "`..` after a wildcard" in message
    assert "symlink" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml", "raw"]


@pytest.mark.parametrize(
    ("pattern", "link", "target", "key"),
    [
        ("raw/**/*.jsonl", "raw/link", "../q", "output.quarantine_dir"),
        ("raw/*/*.jsonl", "raw/link", "../w/cpt", "output.work_dir"),
        ("raw/*/in/*.jsonl", "raw/sub/in", "../../pkg", "output.dir"),
        ("raw/**/*.jsonl", "raw/sub/deep", "../../pkg-report", "output.dir's report dir"),
        ("raw/**/*.jsonl", "raw/up", "..", "output.dir"),  # a folder holding them all
    ],
)
def test_a_symlink_into_an_output_dir_made_or_not_is_refused(
    tmp_path: Path, pattern: str, link: str, target: str, key: str
) -> None:
    config = _project(tmp_path, pattern)
    (tmp_path / link).symlink_to(target)
    with pytest.raises(ConfigError) as err:
        load_config(config)
    message = str(err.value)
    assert "sources[0].paths[0]" in message and f"{tmp_path / link}, a symlink to" in message
    assert key in message
    assert not any((tmp_path / d).exists() for d in ("pkg", "w", "q", "pkg-report"))


def test_harmless_links_are_accepted_and_matches_unchanged(tmp_path: Path) -> None:
    config = _project(tmp_path, "raw/**/*.jsonl")
    outside = tmp_path.parent / f"{tmp_path.name}-data"
    outside.mkdir()
    (outside / "more.jsonl").write_text('{"text": "more"}\n', encoding="utf-8")
    (tmp_path / "raw" / "data").symlink_to(outside)
    (tmp_path / "raw" / "gone").symlink_to(tmp_path / "nowhere" / "x")
    (tmp_path / "raw" / "gone.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    cfg = load_config(config)
    (source,) = cfg.sources
    assert sorted((i.rel, i.not_a_file is not None) for i in source.inputs) == [
        ("raw/data/more.jsonl", False),
        ("raw/gone.jsonl", True),
        ("raw/real/in/n.jsonl", False),
        ("raw/sub/notes.jsonl", False),
    ]
    pattern = os.path.join(tmp_path, "raw/**/*.jsonl")
    links: dict = {}
    assert match_glob(pattern, links) == match_glob(pattern)
    assert {link for link, _ in links} == {
        str(tmp_path / "raw" / n) for n in ("data", "gone", "gone.jsonl")
    }
