"""A folder a source glob must list or enter but cannot (no permission, a symlink loop where a
folder would be, an I/O error, a folder that vanished mid-walk) is never skipped silently, as
`glob` does: it is named with why, and built like a path that is not a file (`not_a_file`,
one unread file in the parse-failure rate), so its records cannot vanish from a package
whose build reports success."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import yaml

import jsonl_assets
from jsonl_assets.core.build import build_partition
from jsonl_assets.core.config import load_config
from jsonl_assets.core.config.source_globs import match_glob, unlisted_folder
from jsonl_assets_tests.conftest import write_config

LINE = b'{"text": "mulch keeps the roots cool"}\n'
DENIED = unlisted_folder("Permission denied")
LOOP = unlisted_folder("Too many levels of symbolic links")


@pytest.fixture
def shared_tree() -> Iterator[Path]:
    """A tree any user can reach (tmp_path is root's alone): `sub/a.jsonl`, `locked/b.jsonl`
    with `locked` mode 700 (a user other than its owner can neither list nor enter it)."""
    top = Path(tempfile.mkdtemp())
    try:
        os.chmod(top, 0o755)
        for name in ("sub", "locked"):
            (top / "raw" / name).mkdir(parents=True)
            (top / "raw" / name / f"{name}.jsonl").write_bytes(LINE)
        os.chmod(top / "raw", 0o755)
        os.chmod(top / "raw" / "sub", 0o755)
        os.chmod(top / "raw" / "sub" / "sub.jsonl", 0o644)
        os.chmod(top / "raw" / "locked", 0o700)
        yield top / "raw"
    finally:
        os.chmod(top / "raw" / "locked", 0o700)
        shutil.rmtree(top)


def _matched_by_another_user(pattern: str) -> tuple[list[str], dict[str, str]]:
    """match_glob as a user the locked folder shuts out: `nobody` when the tests run as
    root (root reads every folder), else this user with the folder's permissions taken."""
    if os.geteuid() != 0:
        return match_glob(pattern)
    code = (
        "import sys, orjson; from jsonl_assets.core.config.source_globs import match_glob; "
        "sys.stdout.buffer.write(orjson.dumps(match_glob(sys.argv[1])))"
    )
    root = str(Path(jsonl_assets.__file__).parent.parent)
    run = subprocess.run(
        [sys.executable, "-c", code, pattern],
        capture_output=True,
        user="nobody",
        env={**os.environ, "PYTHONPATH": root, "HOME": "/tmp"},
        cwd="/",
        check=True,
    )
    files, others = orjson.loads(run.stdout)
    return files, others


def test_a_folder_the_user_cannot_list_is_named_not_skipped(shared_tree: Path) -> None:
    if os.geteuid() != 0:
        os.chmod(shared_tree / "locked", 0)
    sub, locked = str(shared_tree / "sub"), str(shared_tree / "locked")
    readable = [f"{sub}/sub.jsonl"]
    for pattern, found in (
        ("**/*.jsonl", readable),
        ("*/*.jsonl", readable),
        ("*/locked.jsonl", []),  # locked/locked.jsonl cannot even be examined
        ("locked/*.jsonl", []),
        ("locked/**/*.jsonl", []),
    ):
        files, others = _matched_by_another_user(str(shared_tree / pattern))
        assert (files, others) == (found, {locked: DENIED}), pattern


def test_a_symlink_loop_where_a_folder_would_be_is_named(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / "sub").mkdir(parents=True)
    (raw / "sub" / "a.jsonl").write_bytes(LINE)
    (raw / "loop").symlink_to("loop")
    (raw / ".hidden").symlink_to(".hidden")  # hidden: not matched, as by glob
    for pattern in ("**/*.jsonl", "*/*.jsonl", "*/a.jsonl"):
        files, others = match_glob(str(raw / pattern))
        assert files == [str(raw / "sub" / "a.jsonl")], pattern
        assert others == {str(raw / "loop"): LOOP}, pattern


def test_a_build_counts_an_unlisted_folder_as_an_unread_file(sample_project: Path) -> None:
    cpt = sample_project.parent / "raw" / "cpt"
    (cpt / "more").symlink_to("more")  # a folder the `**` walk cannot enter
    raw = yaml.safe_load(sample_project.read_text(encoding="utf-8"))
    for source in raw["sources"]:
        if source["objective"] == "cpt":
            source["paths"] = ["raw/cpt/**/*.jsonl"]
    write_config(sample_project, raw)

    result = build_partition(load_config(sample_project), "cpt|train")
    assert result.shards is None  # 1 of 2 files unread: above the default threshold
    failed = [e.to_json() for e in result.evaluations.values() if not e.passed]
    assert [e["check"] for e in failed] == ["parse_failure_rate"]
    assert "raw/cpt/more" in str(failed)
    path = sample_project.parent / "work" / "cpt" / "train" / "quarantine" / "extracted.jsonl"
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [(r["trace"]["file"], r["reason"], r["detail"]) for r in rows] == [
        ("raw/cpt/more", "not_a_file", LOOP)
    ]
    assert result.stages[0].per_source["garden_notes"]["unread_files"] == 1


def test_the_folder_named_is_the_one_that_cannot_be_entered(shared_tree: Path) -> None:
    """Whatever part of the pattern leads below it (a literal path, a literal part after a
    wildcard, a `**`), the entry names the folder that cannot be entered, never a deeper path
    that cannot even be examined (and may not exist); paths under it are one entry."""
    if os.geteuid() != 0:
        os.chmod(shared_tree / "locked", 0)
    locked = str(shared_tree / "locked")
    for pattern in (
        "locked/deep/deeper/x.jsonl",  # no such path: only `locked` is known
        "locked/deep/*.jsonl",
        "*/deep/*.jsonl",
        "*/deep/x.jsonl",
        "locked/deep/**/*.jsonl",
        "*/deep/**",
    ):
        files, others = _matched_by_another_user(str(shared_tree / pattern))
        assert (files, others) == ([], {locked: DENIED}), pattern


BUILD = """
import sys, orjson
from jsonl_assets.core.build import build_partition
from jsonl_assets.core.config import load_config
cfg = load_config(sys.argv[1])
inputs = [[i.rel, i.format, i.not_a_file] for s in cfg.sources for i in s.inputs]
result = build_partition(cfg, "cpt|train")
stage = result.stages[0].per_source["notes"]
failed = [e.to_json() for e in result.evaluations.values() if not e.passed]
print(orjson.dumps([inputs, stage["unread_files"], failed]).decode())
"""


@pytest.mark.parametrize("pattern", ["raw/*/*", "raw/**", "raw/*/data_*"])
def test_an_unlisted_folder_needs_no_format_and_the_rest_builds(pattern: str) -> None:
    """A format-less source whose glob names no extension (`raw/*/*`: jsonl and csv files)
    with a folder it cannot enter: the folder is quarantined `not_a_file` (it is never read,
    so it needs no format) and the readable files build; the config is not refused with
    "cannot infer the format"."""
    top = Path(tempfile.mkdtemp())
    raw = top / "raw"
    try:
        for folder, name, data in (
            ("a", "data_a.jsonl", b'{"text": "basil"}\n{"text": "thyme"}\n'),
            ("c", "data_c.csv", b"text\nsoil notes\nfern notes\n"),
            ("locked", "data_b.jsonl", LINE),
        ):
            (raw / folder).mkdir(parents=True)
            (raw / folder / name).write_bytes(data)
        config = write_config(
            top / "pipeline.yaml",
            {
                "dataset": {"name": "t", "description": "unlisted folder"},
                "thresholds": {"max_parse_failure_rate": 0.9},
                "splits": {"validation": 0.0, "test": 0.0},
                "sources": [
                    {"name": "notes", "paths": [pattern], "objective": "cpt"}
                    | {"adapter": "text", "split": "train"}
                ],
            },
        )
        if os.geteuid() == 0:  # the project is nobody's, but the locked folder
            for path in [top, *top.rglob("*")]:
                os.chown(path, 65534, 65534)
            os.chown(raw / "locked", 0, 0)
        os.chmod(raw / "locked", 0o700 if os.geteuid() == 0 else 0)
        inputs, unread, failed = orjson.loads(_as_another_user(BUILD, str(config)))
    finally:
        os.chmod(raw / "locked", 0o700)
        shutil.rmtree(top)
    assert [i for i in inputs if i[2] is not None] == [["raw/locked", "jsonl", DENIED]]
    assert sorted(i[:2] for i in inputs if i[2] is None) == [
        ["raw/a/data_a.jsonl", "jsonl"],
        ["raw/c/data_c.csv", "csv"],
    ]
    assert (unread, failed) == (1, [])


def _as_another_user(code: str, *args: str) -> bytes:
    """`python -c code args` as `nobody` when the tests run as root, else as this user."""
    root = str(Path(jsonl_assets.__file__).parent.parent)
    run = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        user="nobody" if os.geteuid() == 0 else None,
        env={**os.environ, "PYTHONPATH": root, "HOME": "/tmp"},
        cwd="/",
        check=False,
    )
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    return run.stdout


def test_a_path_never_read_needs_no_format(tmp_path: Path) -> None:
    """A FIFO without an extension matched by a format-less `raw/*`: quarantined unread, it
    does not refuse the config for want of a format (the files read still need one)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.jsonl").write_bytes(LINE)
    os.mkfifo(raw / "pipe")
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "fifo"},
            "sources": [
                {"name": "notes", "paths": ["raw/*"], "objective": "cpt"}
                | {"adapter": "text", "split": "train"}
            ],
        },
    )
    inputs = [(i.rel, i.format, i.not_a_file) for i in load_config(config).sources[0].inputs]
    assert inputs == [
        ("raw/a.jsonl", "jsonl", None),
        ("raw/pipe", "jsonl", "not a regular file: FIFO"),
    ]


@pytest.mark.parametrize("pattern", ["loop/*.jsonl", "loop/x.jsonl", "loop/**"])
def test_a_source_root_that_is_a_symlink_loop_is_named_not_a_crash(
    tmp_path: Path, pattern: str
) -> None:
    """The folder a glob reads from is itself a symlink loop: the config loads (the check
    that sources and outputs lie apart cannot resolve it, and nothing is read through it),
    the loop is the input named."""
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.jsonl").write_bytes(LINE)
    (tmp_path / "loop").symlink_to("loop")
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "loop"},
            "sources": [
                {"name": "notes", "paths": ["raw/*.jsonl", pattern], "objective": "cpt"}
                | {"adapter": "text", "split": "train"}
            ],
        },
    )
    inputs = [(i.rel, i.not_a_file) for i in load_config(config).sources[0].inputs]
    assert sorted(inputs) == [("loop", LOOP), ("raw/a.jsonl", None)]
