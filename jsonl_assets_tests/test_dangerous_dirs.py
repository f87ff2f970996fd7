"""Dangerous directories: refused when the config is loaded, before any file is touched; and
a package dir holding files this project did not write is an error naming them, never a
deletion.

* `output.dir`, `work_dir` and `quarantine_dir` may not be the filesystem root, the home dir
  (or a folder above it), one another or inside one another, nor a folder a source glob
  reads (so a build never reads back its own output), nor hold a source folder. Object-storage
  locations obey the same rules, as key prefixes.
* Orphan removal deletes only shards this project recorded as its own (its partition ledger
  in the work dir, or the published metadata.json); any other file in the package dir
  (a user's `data/cpt-train-00007.jsonl.zst`, `data/x.jsonl.zst`, `notes.txt`) fails the
  build with its name and stays as it was.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.config import ConfigError, load_config

from .conftest import build_with_core, notes_config, package_shards, write_config

CLI = Path(sys.executable).parent / "jsonl-assets"


def notes_project(tmp_path: Path, records: int = 30, **output: Any) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    lines = "".join(f'{{"id": "n{i}", "text": "note number {i}"}}\n' for i in range(records))
    (raw / "notes.jsonl").write_text(lines + "not json\n", encoding="utf-8")
    pattern = output.pop("glob", "raw/**/*.jsonl")
    return write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "d"},
            "output": {"max_records_per_shard": 10, **output},
            # One parse failure in 31 inputs is allowed: every build quarantines one line.
            "thresholds": {"max_parse_failure_rate": 0.1},
            "sources": [
                {
                    "name": "notes",
                    "paths": [pattern],
                    "objective": "cpt",
                    "adapter": "text",
                    "split": "train",
                    "id_field": "id",
                }
            ],
        },
    )


def _cli(config: Path) -> subprocess.CompletedProcess[str]:
    home = config.parent / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return build_cpt_train(config, home)


def build_cpt_train(
    config: Path, home: Path, ignored: tuple[int, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`jsonl-assets build` of the partition cpt|train, one worker, DAGSTER_HOME `home`,
    started with the signals `ignored` ignored (as `nohup` does)."""

    def ignore() -> None:
        for sig in ignored:
            signal.signal(sig, signal.SIG_IGN)

    return subprocess.run(
        [str(CLI), "build", "--config", str(config), "--partition", "cpt|train", "--workers", "1"],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=config.parent,
        preexec_fn=ignore,
    )


def _refused(config: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(config)
    return info.value


def test_the_filesystem_root_is_refused_at_load_time(tmp_path: Path) -> None:
    # Nothing is built: the refusal is in load_config, before any I/O on the dirs.
    for key in ("dir", "work_dir", "quarantine_dir"):
        error = _refused(notes_project(tmp_path, **{key: "/"}))
        assert error.key == f"output.{key}" and "filesystem root" in error.message


def test_a_bucket_root_is_refused_at_load_time(tmp_path: Path) -> None:
    # Like the filesystem root: at `s3://bucket` the package's report (`<dir>-report/`) would
    # land inside the package, and every later build would call it foreign. Refused before any
    # request reaches the bucket (no server runs here).
    for key, url in (("dir", "s3://bucket"), ("quarantine_dir", "s3://bucket/"), ("dir", "gs://b")):
        error = _refused(notes_project(tmp_path / key, **{key: url}))
        assert error.key == f"output.{key}" and "is a bucket root" in error.message


def test_the_home_dir_and_folders_above_it_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home" / "me"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    error = _refused(notes_project(tmp_path / "p1", dir=str(home)))
    assert error.key == "output.dir" and "home" in error.message
    error = _refused(notes_project(tmp_path / "p2", quarantine_dir=str(home.parent)))
    assert error.key == "output.quarantine_dir" and "home" in error.message
    # `~` is the home dir, as in a shell (before: a folder named `~` beside the config).
    error = _refused(notes_project(tmp_path / "p3", dir="~"))
    assert error.key == "output.dir" and "home" in error.message
    assert not (tmp_path / "p3" / "~").exists()
    assert not list(home.iterdir())


@pytest.mark.parametrize(
    ("output", "key", "words"),
    [
        ({"quarantine_dir": "package/quarantine"}, "output.quarantine_dir", "inside output.dir"),
        ({"work_dir": "package/.work"}, "output.work_dir", "inside output.dir"),
        ({"dir": "work/package"}, "output.dir", "inside output.work_dir"),
        ({"work_dir": "package/../package"}, "output.work_dir", "output.dir"),
        ({"quarantine_dir": "raw/quarantine"}, "output.quarantine_dir", "sources[0].paths[0]"),
        ({"dir": "raw/sub/package"}, "output.dir", "sources[0].paths[0]"),
        ({"work_dir": "raw/../raw/w"}, "output.work_dir", "sources[0].paths[0]"),
        ({"dir": "raw"}, "output.dir", "sources[0].paths[0]"),
        ({"dir": "."}, "output.work_dir", "inside output.dir"),
        ({"dir": "out", "glob": "*/*.jsonl"}, "output.dir", "sources[0].paths[0]"),
        ({"dir": "raw/notes.jsonl", "glob": "raw/*.jsonl"}, "output.dir", "not a folder"),
    ],
)
def test_overlapping_dirs_are_refused(
    tmp_path: Path, output: dict[str, str], key: str, words: str
) -> None:
    error = _refused(notes_project(tmp_path, **output))
    assert error.key == key, error
    assert words in error.message, error


def test_a_dir_in_a_source_root_is_refused_even_where_the_glob_does_not_reach(
    tmp_path: Path,
) -> None:
    error = _refused(notes_project(tmp_path, dir="raw/package", glob="raw/*.jsonl"))
    assert error.key == "output.dir" and "source root" in error.message


def test_a_package_beside_the_config_is_allowed_where_no_glob_reaches(tmp_path: Path) -> None:
    cfg = load_config(notes_project(tmp_path, dir="out", glob="r*/*.jsonl"))
    assert cfg.output.dir == tmp_path / "out"
    (tmp_path / "train.jsonl").write_text('{"text": "x"}\n')
    cfg = load_config(notes_project(tmp_path, dir="package", glob="train.jsonl"))
    assert cfg.output.dir == tmp_path / "package"


def test_a_symlink_that_leads_a_glob_into_the_package_is_refused(tmp_path: Path) -> None:
    config = notes_project(tmp_path, dir="out")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.jsonl").write_text('{"text": "x"}\n')
    os.symlink("../out", tmp_path / "raw" / "link")
    error = _refused(config)
    assert error.key == "sources[0].paths[0]" and "output.dir" in error.message


def test_a_quarantine_inside_a_source_glob_is_refused_by_the_cli(tmp_path: Path) -> None:
    """Before: each build read the last one's quarantine back (1 -> 2 -> 3 ... rejects)."""
    config = notes_project(tmp_path, quarantine_dir="raw/quarantine")
    for _ in range(2):
        run = _cli(config)
        assert run.returncode == 2, run.stdout + run.stderr
    assert "output.quarantine_dir" in run.stderr and "raw/**/*.jsonl" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "raw" / "quarantine").exists()


def test_work_and_quarantine_inside_the_package_are_refused_by_the_cli(tmp_path: Path) -> None:
    config = notes_project(tmp_path, work_dir="package/work", quarantine_dir="package/quarantine")
    run = _cli(config)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "inside output.dir" in run.stderr
    assert not (tmp_path / "package").exists()


@pytest.mark.parametrize(
    "foreign",
    ["data/cpt-train-00007.jsonl.zst", "data/x.jsonl.zst", "notes.txt", "metadata.json"],
)
def test_a_foreign_file_in_the_package_fails_the_build_and_is_kept(
    tmp_path: Path, foreign: str
) -> None:
    config = notes_project(tmp_path)
    path = tmp_path / "package" / foreign
    path.parent.mkdir(parents=True)
    path.write_bytes(b"the user's own bytes\n")
    run = _cli(config)
    assert run.returncode != 0, run.stdout + run.stderr
    assert foreign in run.stderr and "not written by jsonl-assets" in run.stderr, run.stderr
    assert path.read_bytes() == b"the user's own bytes\n"
    assert not list((tmp_path / "package").rglob("cpt-train-00000.jsonl.zst"))


def test_own_orphans_are_still_removed_even_without_the_work_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `retention_hours: 0`, shards of an earlier build that the new metadata.json does
    not list go at its publish, whether the work dir (the ledger) is kept or wiped (then the
    replaced metadata.json vouches for them); the package lock's hidden files, held as
    `jsonl-assets build` holds them, are left alone."""
    import shutil

    from jsonl_assets.core.store.package_lock import LOCK_FILES, TOKEN_ENV, PackageLock, read_holder

    config = notes_project(tmp_path, records=30, retention_hours=0)
    package = build_with_core(config)
    assert len(package_shards(package)) == 3  # 30 records kept, 10 per shard
    (tmp_path / "raw" / "notes.jsonl").write_text('{"id": "a", "text": "only"}\n')
    build_with_core(config)
    assert [p.name for p in package_shards(package)] == ["cpt-train-00000.jsonl.zst"]
    assert len(list((package / "data").iterdir())) == 1  # the emptied folder went too
    (tmp_path / "raw" / "notes.jsonl").write_text(
        "".join(f'{{"id": "m{i}", "text": "again {i}"}}\n' for i in range(25))
    )
    build_with_core(config)
    assert len(package_shards(package)) == 3
    shutil.rmtree(tmp_path / "work")
    (tmp_path / "raw" / "notes.jsonl").write_text('{"id": "b", "text": "only"}\n')
    held = PackageLock(package)
    held.acquire(0)
    holder = read_holder(package)
    assert holder is not None
    monkeypatch.setenv(TOKEN_ENV, holder.token)
    try:
        build_with_core(config)
        assert [p.name for p in package_shards(package)] == ["cpt-train-00000.jsonl.zst"]
        assert all((package / name).exists() for name in LOCK_FILES)
    finally:
        held.release()


@pytest.mark.parametrize(
    ("dirs", "globs", "blamed", "message"),
    [
        ({"output.dir": "s3://b/pkg", "output.quarantine_dir": "s3://b/pkg"}, [],
         "output.quarantine_dir", "is the same location as output.dir"),
        ({"output.dir": "gs://b/pkg", "output.quarantine_dir": "gcs://b/pkg/q"}, [],
         "output.quarantine_dir", "lies inside output.dir"),
        ({"output.dir": "az://c/pkg/p", "output.quarantine_dir": "az://c/pkg"}, [],
         "output.dir", "lies inside output.quarantine_dir"),
        ({"output.dir": "s3://b/raw/pkg"}, ["s3://b/raw/**/*.jsonl"],
         "output.dir", "lies in s3://b/raw, the source root of sources[0].paths[0]"),
        ({"output.dir": "s3://b/raw/sub/pkg"}, ["s3://b/raw/*.jsonl"],
         "output.dir", "the source root"),  # not reached by the glob: refused all the same
        ({"output.dir": "s3://b/raw"}, ["s3://b/raw/x.jsonl"],
         "output.dir", "the source root"),
        ({"output.dir": "s3://b/data"}, ["s3://b/data/raw/*.jsonl"],
         "output.dir", "holds s3://b/data/raw, which sources[0].paths[0]"),
        ({"output.dir": "s3://b"}, ["s3://src/raw/*.jsonl"], "output.dir", "is a bucket root"),
        ({"output.dir": "gs://b/pkg", "output.quarantine_dir": "gs://q/"}, [],
         "output.quarantine_dir", "gs://q/ is a bucket root"),
        ({"output.dir": "az://c", "output.quarantine_dir": "az://c/q"}, [],
         "output.dir", "is a bucket root"),
    ],
)  # fmt: skip
def test_object_storage_locations_obey_the_same_rules(
    dirs: dict[str, str], globs: list[str], blamed: str, message: str
) -> None:
    from jsonl_assets.core.config.output_dirs import DirProblem, check_url_dirs

    with pytest.raises(DirProblem) as raised:
        check_url_dirs(dirs, [("sources[0]", globs)])
    assert raised.value.key == blamed and message in raised.value.message


def test_object_storage_locations_apart_are_allowed() -> None:
    from jsonl_assets.core.config.output_dirs import check_url_dirs

    check_url_dirs(
        {"output.dir": "s3://b/pkg", "output.quarantine_dir": "s3://b/pkg-quarantine"},
        [("sources[0]", ["s3://b/raw/**/*.jsonl"]), ("sources[1]", ["s3://other/pkg/*.jsonl"])],
    )
    check_url_dirs({"output.dir": "gs://b/raw"}, [("sources[0]", ["s3://b/raw/*.jsonl"])])


@pytest.mark.slow
def test_a_package_inside_an_object_storage_source_is_refused_at_load_time(
    s3: Any, tmp_path: Path
) -> None:
    from jsonl_assets.core.store.base import store_for

    store_for(s3.url("raw/a.jsonl")).publish(s3.url("raw/a.jsonl"), b'{"id": "1", "text": "x"}\n')
    config = notes_config(
        tmp_path / "pipeline.yaml",
        [s3.url("raw/**/*.jsonl")],
        {"dir": s3.url("raw/pkg"), "quarantine_dir": s3.url("quarantine")},
        name="n",
    )
    with pytest.raises(
        ConfigError, match=r"output\.dir: .*raw/pkg lies in s3://.*/raw, the source"
    ):
        load_config(config)
