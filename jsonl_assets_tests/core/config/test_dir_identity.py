"""The dangerous-dirs checks compare folders by identity (`core/config/dir_identity.py`), so a
second name of a source folder (a bind mount, a volume mounted twice) is that folder.

Before: they compared resolved path strings only; `output.dir: alias/cpt/package` with
`alias` a bind mount of `raw` was accepted inside the source root `raw/cpt`, and the build
read its own shards back (quarantined as duplicates, or shipped again)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jsonl_assets.core.config.dir_identity import Identities
from jsonl_assets.core.config.output_dirs import DirProblem, check_own_dirs
from jsonl_assets_tests.conftest import notes_config


def test_parts_below_compare_folders_by_identity(tmp_path: Path) -> None:
    """A symlinked alias given as it is (not resolved, as a mount alias cannot be): the
    folder is known by its (st_dev, st_ino), a path yet to be made by its nearest existing
    ancestor and the names below it."""
    raw = tmp_path / "raw" / "cpt"
    raw.mkdir(parents=True)
    (tmp_path / "alias").symlink_to(tmp_path / "raw")
    (tmp_path / "other").mkdir()
    ids = Identities()
    alias_cpt = tmp_path / "alias" / "cpt"
    assert ids.parts_below(alias_cpt / "package", raw) == ("package",)  # not made yet
    assert ids.parts_below(alias_cpt / "package" / "data", raw / "package") == ("data",)
    assert ids.same(alias_cpt, raw) and ids.same(raw, alias_cpt)
    assert ids.inside(raw, tmp_path / "alias") and not ids.same(raw, tmp_path / "alias")
    assert ids.parts_below(alias_cpt / "package", raw / "other") is None
    assert ids.parts_below(tmp_path / "other" / "package", raw) is None
    assert ids.parts_below(raw, raw / "package") is None  # a folder is not in its child
    assert ids.parts_below(tmp_path / "missing" / "x", tmp_path / "missing") == ("x",)


def test_own_dirs_that_are_one_folder_under_two_names_are_refused(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "work")
    with pytest.raises(DirProblem, match=r"is the same folder as output\.work_dir"):
        check_own_dirs(
            {"output.work_dir": tmp_path / "work", "output.quarantine_dir": tmp_path / "alias"}
        )
    with pytest.raises(DirProblem, match=r"lies inside output\.work_dir"):
        check_own_dirs(
            {"output.work_dir": tmp_path / "work", "output.dir": tmp_path / "alias" / "pkg"}
        )


_LOAD = """
import sys
from jsonl_assets.core.config import ConfigError, load_config
try:
    load_config(sys.argv[1])
except ConfigError as exc:
    print(exc)
    sys.exit(3)
print("loaded")
"""


def _bind_mounted_load(tmp_path: Path, config: Path) -> subprocess.CompletedProcess[str]:
    """Load `config` with `alias/` a bind mount of `raw/`, in a private mount namespace
    (`unshare -rm`: no root needed where user namespaces are allowed); skips where none
    can be made."""
    unshare = shutil.which("unshare")
    if unshare is None or sys.platform != "linux":
        pytest.skip("no unshare(1) to make a private bind mount")
    script = 'mount --bind "$1" "$2" || exit 97; shift 2; exec "$@"'
    run = subprocess.run(
        [unshare, "-rm", "sh", "-c", script, "sh", str(tmp_path / "raw"), str(tmp_path / "alias"),
         sys.executable, "-c", _LOAD, str(config)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    if run.returncode == 97 or "unshare:" in run.stderr:
        pytest.skip(f"cannot bind-mount here: {run.stderr.strip()}")
    return run


def _project(tmp_path: Path, **output: str) -> Path:
    (tmp_path / "raw" / "cpt").mkdir(parents=True)
    (tmp_path / "alias").mkdir()
    (tmp_path / "raw" / "cpt" / "a.jsonl").write_text('{"text": "a note"}\n')
    return notes_config(tmp_path / "pipeline.yaml", ["raw/cpt/**/*.jsonl*"], dict(output))


@pytest.mark.parametrize(
    ("output", "said"),
    [
        ({"dir": "alias/cpt/package"}, "output.dir: {t}/alias/cpt/package lies in {t}/raw/cpt"),
        ({"work_dir": "alias/cpt/work"}, "output.work_dir: {t}/alias/cpt/work lies in {t}/raw"),
        ({"quarantine_dir": "alias"}, "output.quarantine_dir: {t}/alias holds {t}/raw/cpt"),
        (
            {"dir": "raw/p", "work_dir": "alias/p/w"},
            "work_dir: {t}/alias/p/w lies inside output.dir",
        ),
    ],
)
def test_a_bind_mount_alias_of_a_source_folder_is_refused(
    tmp_path: Path, output: dict[str, str], said: str
) -> None:
    run = _bind_mounted_load(tmp_path, _project(tmp_path, **output))
    assert run.returncode == 3, run.stdout + run.stderr
    assert said.format(t=tmp_path) in run.stdout, run.stdout


def test_a_folder_apart_from_the_sources_is_still_allowed_beside_a_bind_mount(
    tmp_path: Path,
) -> None:
    run = _bind_mounted_load(tmp_path, _project(tmp_path, dir="package"))
    assert run.returncode == 0 and "loaded" in run.stdout, run.stdout + run.stderr
