"""A path a source glob matches that is a symlink into a dir the build writes is refused at
load, made or not yet made (core/config/source_globs.py `match_glob` reports it,
core/config/output_dirs.py `check_source_overlap` judges it).

Before: a dangling *file* symlink the glob matched (`raw/zz.jsonl -> ../work/.../x.jsonl`,
where the build makes a file) was accepted at load, the link quarantined as `not_a_file`; the
record stages wrote their work files and only the shards step's reload refused (exit 1), the
next run at load (exit 2). Likewise a matched link to a FIFO in the work dir. Only symlinks met
where a folder is expected were compared with the output dirs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jsonl_assets.core.config import ConfigError, load_config
from jsonl_assets_tests.conftest import notes_config

_OUTPUTS = ("package", "work", "quarantine", "package-report")


def _project(root: Path, pattern: str = "raw/*.jsonl") -> Path:
    (root / "raw" / "sub").mkdir(parents=True)
    (root / "raw" / "a.jsonl").write_text('{"text": "a"}\n', encoding="utf-8")
    (root / "raw" / "sub" / "b.jsonl").write_text('{"text": "b"}\n', encoding="utf-8")
    return notes_config(
        root / "p.yaml",
        [pattern],
        {"dir": "package", "work_dir": "work", "quarantine_dir": "quarantine"},
    )


def _link(root: Path, link: str, target: str) -> None:
    """`link` (under `root`) -> `target`; `{root}` in `target` makes it absolute."""
    (root / link).symlink_to(target.format(root=root))


@pytest.mark.parametrize(
    ("pattern", "links", "key"),
    [
        # the bug's case: where the build will make its work-dir quarantine
        (
            "raw/*.jsonl",
            {"raw/zz.jsonl": "../work/cpt/train/quarantine/extracted.jsonl"},
            "output.work_dir",
        ),
        ("raw/*.jsonl", {"raw/zz.jsonl": "{root}/quarantine/notes.jsonl"}, "output.quarantine_dir"),
        ("raw/*.jsonl", {"raw/zz.jsonl": "../package/cpt/train-000.jsonl"}, "output.dir"),
        ("raw/*.jsonl", {"raw/zz.jsonl": "../package-report/r.json"}, "output.dir's report dir"),
        ("raw/*.jsonl", {"raw/zz.jsonl": "../quarantine"}, "output.quarantine_dir"),  # the dir
        # a chain of links, the first matched, the second not
        ("raw/*.jsonl", {"raw/zz.jsonl": "hop", "raw/hop": "../work/x.jsonl"}, "output.work_dir"),
        # through a dangling folder link outside the glob's reach
        ("raw/*.jsonl", {"raw/zz.jsonl": "../to/x.jsonl", "to": "work/cpt"}, "output.work_dir"),
        # a literal last part after a wildcard, and a `**` glob
        ("raw/*/zz.jsonl", {"raw/sub/zz.jsonl": "../../work/x.jsonl"}, "output.work_dir"),
        ("raw/**/*.jsonl", {"raw/sub/zz.jsonl": "{root}/work/x.jsonl"}, "output.work_dir"),
        ("raw/z*", {"raw/zz": "../quarantine/x"}, "output.quarantine_dir"),
    ],
)
def test_a_matched_symlink_into_an_output_dir_is_refused_at_load(
    tmp_path: Path, pattern: str, links: dict[str, str], key: str
) -> None:
    config = _project(tmp_path, pattern)
    for link, target in links.items():
        _link(tmp_path, link, target)
    with pytest.raises(ConfigError) as err:
        load_config(config)
    message = str(err.value)
    assert "sources[0].paths[0]" in message and key in message
    assert "a symlink to" in message and "read its own output back" in message
    assert not any((tmp_path / d).exists() for d in _OUTPUTS)


def test_a_matched_symlink_to_a_fifo_in_the_made_work_dir_is_refused(tmp_path: Path) -> None:
    config = _project(tmp_path)
    (tmp_path / "work").mkdir()
    os.mkfifo(tmp_path / "work" / "f")
    _link(tmp_path, "raw/zz.jsonl", "../work/f")
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert "output.work_dir" in str(err.value)
    assert os.listdir(tmp_path / "work") == ["f"]


def test_the_cli_refuses_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jsonl_assets.cli import main

    config = _project(tmp_path)
    _link(tmp_path, "raw/zz.jsonl", "../work/cpt/train/quarantine/extracted.jsonl")
    assert main(["build", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "sources[0].paths[0]" in err and "output.work_dir" in err
    assert not any((tmp_path / d).exists() for d in _OUTPUTS)


@pytest.mark.parametrize(
    "links",
    [
        # siblings of the output dirs sharing their names' prefixes
        {"raw/w.jsonl": "../workshop/x.jsonl", "raw/q.jsonl": "../quarantine_old/x.jsonl"},
        {"raw/p.jsonl": "{root}/package-v0/x.jsonl", "raw/r.jsonl": "../package-reports/r.json"},
        {"raw/w.jsonl": "../work2", "raw/o.jsonl": "../outside.jsonl"},
        # a link to the folder holding the output dirs: matched, never read as a file
        {"raw/up.jsonl": ".."},
    ],
)
def test_links_beside_the_output_dirs_are_accepted(tmp_path: Path, links: dict[str, str]) -> None:
    config = _project(tmp_path)
    for link, target in links.items():
        _link(tmp_path, link, target)
    (source,) = load_config(config).sources
    unread = sorted(link for link, target in links.items() if target != "..")  # `..`: a folder
    assert sorted(i.rel for i in source.inputs if i.not_a_file is not None) == unread


def test_a_symlinked_source_dir_outside_the_outputs_is_accepted(tmp_path: Path) -> None:
    data = tmp_path.parent / f"{tmp_path.name}-data"
    (data / "in").mkdir(parents=True)
    (data / "in" / "c.jsonl").write_text('{"text": "c"}\n', encoding="utf-8")
    (data / "gone.jsonl").symlink_to("missing.jsonl")
    (data / "chain.jsonl").symlink_to("in/c.jsonl")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "raw").symlink_to(data)
    config = notes_config(
        project / "p.yaml",
        ["raw/*.jsonl", "raw/*/*.jsonl"],
        {"dir": "package", "work_dir": "work", "quarantine_dir": "quarantine"},
    )
    (source,) = load_config(config).sources
    assert sorted((i.rel, i.not_a_file is not None) for i in source.inputs) == [
        ("raw/chain.jsonl", False),
        ("raw/gone.jsonl", True),
    ]
