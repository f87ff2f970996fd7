"""A work dir serves one package (core/store/work_owner.py).

Before: two configs in one folder with the default `work` and `quarantine` dirs and other
`output.dir`s shared one work dir, whose ledgers say what a package's builds wrote; building B
retired and removed A's published quarantine (its snapshot pointer and folder), which A's
metadata.json still names. Now the first build records its package in the work dir and a build
of another package with it is refused before it writes anything. A quarantine dir shared by two
packages that each have their own work dir loses nothing.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import ConfigError, load_config
from jsonl_assets.core.store.base import ABSENT, PreconditionFailed, store_for
from jsonl_assets.core.store.work_owner import claim_work_dir
from jsonl_assets_tests.conftest import build_with_core, write_config

CLI = Path(sys.executable).parent / "jsonl-assets"


def _config(root: Path, name: str, glob: str, **output: Any) -> Path:
    return write_config(
        root / f"{name}.yaml",
        {
            "dataset": {"name": name, "description": name},
            "output": {"max_records_per_shard": 10, "retention_hours": 0, **output},
            "thresholds": {"max_parse_failure_rate": 0.5},
            "sources": [
                {"name": "notes", "paths": [glob], "objective": "cpt", "adapter": "text",
                 "split": "train", "id_field": "id"},
            ],
        },
    )  # fmt: skip


def _notes(folder: Path, prefix: str, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(f'{{"id": "{prefix}{i}", "text": "note {prefix} {i}"}}\n' for i in range(count))
    (folder / "notes.jsonl").write_text(lines + "not json\n", encoding="utf-8")  # quarantined


def _pointer(package: Path, quarantine: Path) -> Path:
    digest = hashlib.sha256((package / "metadata.json").read_bytes()).hexdigest()[:16]
    return quarantine / "snapshots" / f"{digest}.json"


def _quarantine_intact(package: Path, quarantine: Path) -> None:
    """The quarantine `package`'s metadata.json was published with is all there."""
    pointer = _pointer(package, quarantine)
    assert pointer.is_file(), sorted(p.name for p in quarantine.iterdir())
    folders = [p for p in quarantine.iterdir() if p.name.startswith("cpt-train-")]
    assert folders and all(any(f.iterdir()) for f in folders)


def test_a_second_package_with_the_same_work_dir_is_refused_before_any_write(
    tmp_path: Path,
) -> None:
    _notes(tmp_path / "raw" / "a", "a", 12)
    _notes(tmp_path / "raw" / "b", "b", 15)
    a = _config(tmp_path, "a", "raw/a/*.jsonl", dir="pkgA")
    b = _config(tmp_path, "b", "raw/b/*.jsonl", dir="pkgB")
    package_a = build_with_core(a)
    quarantine = tmp_path / "quarantine"
    _quarantine_intact(package_a, quarantine)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    cfg_b = load_config(b)
    for step in (lambda: build_partition(cfg_b, "cpt|train"), lambda: publish(cfg_b)):
        with pytest.raises(ConfigError) as info:
            step()
        error = info.value
        assert error.file == str(b) and error.key == "output.work_dir", error
        assert str(package_a) in error.message and "pkgB" in error.message, error
        assert "its own work_dir" in error.message and "remove" in error.message, error
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    record = orjson.loads((tmp_path / "work" / "package.json").read_bytes())
    assert record["package"] == str(package_a) and record["relative"] == "../pkgA"
    _quarantine_intact(package_a, quarantine)
    # Through the CLI: exit 2 (a config error), no traceback, the package dir never made.
    home = tmp_path / "dagster_home"
    home.mkdir()
    run = subprocess.run(
        [str(CLI), "build", "--config", str(b), "--workers", "1"],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "output.work_dir" in run.stderr and str(package_a) in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "pkgB").exists()
    _quarantine_intact(package_a, quarantine)
    # Its own work dir makes B a package of its own; A's quarantine is kept.
    write_config(b, {**_load(b), "output": {**_load(b)["output"], "work_dir": "workB"}})
    build_with_core(b)
    _quarantine_intact(package_a, quarantine)


def _load(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_changing_output_dir_while_keeping_the_work_dir_is_refused(tmp_path: Path) -> None:
    """The README's word: a new output.dir needs a new work dir (or the old one removed);
    the old package stays as it was."""
    _notes(tmp_path / "raw", "n", 12)
    config = _config(tmp_path, "p", "raw/*.jsonl", dir="old")
    old = build_with_core(config)
    listed = (old / "metadata.json").read_bytes()
    write_config(config, {**_load(config), "output": {**_load(config)["output"], "dir": "new"}})
    with pytest.raises(ConfigError, match="holds the build state of another package"):
        build_with_core(config)
    assert (old / "metadata.json").read_bytes() == listed
    write_config(
        config, {**_load(config), "output": {**_load(config)["output"], "work_dir": "work2"}}
    )
    assert (build_with_core(config) / "metadata.json").is_file()


def test_a_quarantine_dir_shared_by_packages_with_their_own_work_dirs_loses_nothing(
    tmp_path: Path,
) -> None:
    _notes(tmp_path / "raw" / "a", "a", 12)
    _notes(tmp_path / "raw" / "b", "b", 15)
    a = _config(tmp_path, "a", "raw/a/*.jsonl", dir="pkgA", work_dir="workA")
    b = _config(tmp_path, "b", "raw/b/*.jsonl", dir="pkgB", work_dir="workB")
    quarantine = tmp_path / "quarantine"
    package_a = build_with_core(a)
    package_b = build_with_core(b)
    _notes(tmp_path / "raw" / "b", "c", 7)  # B publishes again: its earlier quarantine goes
    build_with_core(b)
    _quarantine_intact(package_a, quarantine)
    assert _pointer(package_b, quarantine).is_file()
    _notes(tmp_path / "raw" / "a", "d", 9)
    build_with_core(a)
    _quarantine_intact(package_a, quarantine)
    assert _pointer(package_b, quarantine).is_file()


def test_the_claim_is_made_once_and_kept(tmp_path: Path) -> None:
    from jsonl_assets.core.store.work_owner import OWNER_FILE, claim_work_dir

    work = tmp_path / "work"
    claim_work_dir(tmp_path / "p.yaml", work, tmp_path / "package")
    claim_work_dir(tmp_path / "q.yaml", work, tmp_path / "package")  # the same package: fine
    record = (work / OWNER_FILE).read_bytes()
    assert b"p.yaml" in record
    with pytest.raises(PreconditionFailed):  # created only if absent, atomically
        store_for(work).publish(work / OWNER_FILE, b"{}", ABSENT)
    assert (work / OWNER_FILE).read_bytes() == record
    assert [p.name for p in work.iterdir()] == [OWNER_FILE]  # no temporary file left
    with pytest.raises(ConfigError, match=r"output\.work_dir"):
        claim_work_dir(tmp_path / "q.yaml", work, tmp_path / "other")


def test_a_project_moved_whole_keeps_its_work_dir(tmp_path: Path) -> None:
    """The package is recorded relative to the work dir: a project moved or copied with its
    work dir (or one volume mounted elsewhere) is still the same package's."""
    work = tmp_path / "a" / "work"
    claim_work_dir(tmp_path / "a" / "pipeline.yaml", work, tmp_path / "a" / "package")
    moved = tmp_path / "b"
    (tmp_path / "a").rename(moved)
    claim_work_dir(moved / "pipeline.yaml", moved / "work", moved / "package")
    with pytest.raises(ConfigError, match=str(moved / "package")):
        claim_work_dir(moved / "other.yaml", moved / "work", moved / "other-package")


def test_a_work_dir_moved_beside_a_package_that_stayed_is_still_its_own(tmp_path: Path) -> None:
    """An absolute `output.dir`: the project (config, work dir) moves, the package stays."""
    package = tmp_path / "pkgs" / "garden"
    claim_work_dir(tmp_path / "a" / "proj" / "p.yaml", tmp_path / "a" / "proj" / "work", package)
    (tmp_path / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "proj").rename(tmp_path / "b" / "c" / "proj")
    claim_work_dir(tmp_path / "b" / "c" / "proj" / "p.yaml", tmp_path / "b/c/proj/work", package)


def test_names_that_are_not_utf8_are_recorded_not_a_crash(tmp_path: Path) -> None:
    folder = tmp_path / os.fsdecode(b"proj\xe9")
    work = folder / "work"
    claim_work_dir(folder / "p.yaml", work, folder / "package")
    claim_work_dir(folder / "p.yaml", work, folder / "package")
    with pytest.raises(ConfigError, match=r"proj\\xe9/package"):
        claim_work_dir(folder / "q.yaml", work, folder / "other")


def _claims_at_once(work: Path, packages: list[Path]) -> list[BaseException | None]:
    import threading

    start = threading.Barrier(len(packages))
    outcomes: list[BaseException | None] = [None] * len(packages)

    def claim(i: int) -> None:
        start.wait()
        try:
            claim_work_dir(work.parent / f"c{i}.yaml", work, packages[i])
        except BaseException as exc:  # the outcome is what is checked
            outcomes[i] = exc

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(packages))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_claims_at_the_same_moment_leave_one_owner(tmp_path: Path) -> None:
    """Two first builds shared one `.package.json.partial`: the winner could record the
    loser's package, and the loser failed with FileNotFoundError."""
    for n in range(40):
        work = tmp_path / f"w{n}" / "work"
        a, b = tmp_path / f"w{n}" / "a", tmp_path / f"w{n}" / "b"
        outcomes = _claims_at_once(work, [a, b])
        recorded = orjson.loads((work / "package.json").read_bytes())["package"]
        winner = a if recorded == str(a) else b
        assert recorded == str(winner)
        refused = [o for o in outcomes if o is not None]
        assert len(refused) == 1 and isinstance(refused[0], ConfigError), outcomes
        same = _claims_at_once(tmp_path / f"s{n}" / "work", [a, a])
        assert same == [None, None]


def test_an_old_record_with_a_relative_package_is_the_same_package(tmp_path: Path) -> None:
    """Versions d3f2113..386e64c recorded a local package relative to the work dir in
    `package` itself (no `relative` key): that package is still this work dir's; another is
    refused, named where it is."""
    from jsonl_assets.core.store.work_owner import OWNER_FILE

    work = tmp_path / "work"
    work.mkdir()
    record = {"package": "../package", "config": str(tmp_path / "pipeline.yaml")}
    (work / OWNER_FILE).write_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2))
    claim_work_dir(tmp_path / "pipeline.yaml", work, tmp_path / "package")
    with pytest.raises(ConfigError, match=str(tmp_path / "package")):
        claim_work_dir(tmp_path / "pipeline.yaml", work, tmp_path / "other")
    assert orjson.loads((work / OWNER_FILE).read_bytes()) == record  # kept as it was


@pytest.mark.parametrize(
    "text", ['{\n  "name": "my-app",\n  "version": "1.0.0"\n}\n', "[1, 2]", "x"]
)
def test_another_tools_package_json_is_named_so_and_no_removal_advised(
    tmp_path: Path, text: str
) -> None:
    """Before: a work_dir holding an npm project's package.json was refused with the file's
    raw bytes shown as a Python bytes literal in place of a package, and the advice to
    remove the folder (the user's project) and build again."""
    work = tmp_path / "myapp"
    work.mkdir()
    (work / "package.json").write_text(text, encoding="utf-8")
    for record in (False, True):
        with pytest.raises(ConfigError) as err:
            claim_work_dir(tmp_path / "p.yaml", work, tmp_path / "pkg", record=record)
        message = str(err.value)
        assert "output.work_dir" in message
        assert "package.json that is not a jsonl-assets work-dir record" in message
        assert "b'" not in message and "remove" not in message
    assert (work / "package.json").read_text(encoding="utf-8") == text
    assert [p.name for p in work.iterdir()] == ["package.json"]
