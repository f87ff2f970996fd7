"""An output dir that already holds another kind of jsonl-assets output (core/config/dir_kinds.py).

Before: config B with `quarantine_dir` set to config A's published package dir was accepted,
and B's build wrote its quarantine (the rejected raw input) and `snapshots/` into A's package,
which A's next build then refused as foreign files. Now `load_config` refuses a work or
quarantine dir that holds a package (or lies inside one), a quarantine dir that holds a work
dir's record, a work dir that holds a quarantine, and a package dir that holds either: exit 2,
nothing written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.build import build_partition
from jsonl_assets.core.config import ConfigError, load_config
from jsonl_assets.core.config.dir_kinds import OutputKindError
from jsonl_assets.core.store.base import store_for
from jsonl_assets.core.store.url import StoreURL
from jsonl_assets_tests.conftest import build_with_core, write_config
from jsonl_assets_tests.object_server import ObjectServer


def _config(folder: Path, name: str, src: Path, **output: Any) -> Path:
    return write_config(
        folder / "p.yaml",
        {
            "dataset": {"name": name, "description": name},
            "output": {"dir": "pkg", "work_dir": "w", "quarantine_dir": "q", **output},
            "thresholds": {"max_parse_failure_rate": 1.0},
            "sources": [
                {"name": "notes", "paths": [str(src)], "objective": "cpt",
                 "adapter": "text", "split": "train", "id_field": "id"},
            ],
        },
    )  # fmt: skip


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "src" / "notes.jsonl"
    src.parent.mkdir(parents=True)
    src.write_text(
        "".join(f'{{"id": "n{i}", "text": "note {i}"}}\n' for i in range(5)) + "not json\n",
        encoding="utf-8",
    )
    return src


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("key", ["quarantine_dir", "work_dir"])
def test_another_configs_published_package_is_no_work_nor_quarantine_dir(
    tmp_path: Path, key: str
) -> None:
    src = _source(tmp_path)
    package = build_with_core(_config(tmp_path / "a", "alpha", src))
    before = _files(package)
    b = _config(tmp_path / "b", "beta", src, **{key: str(package)})
    with pytest.raises(ConfigError) as err:
        load_config(b)
    message = str(err.value)
    assert f"output.{key}" in message and str(b) in message
    assert "metadata.json" in message and "nothing was written" in message
    assert _files(package) == before


@pytest.mark.parametrize("key", ["quarantine_dir", "work_dir"])
def test_a_folder_inside_a_published_package_is_refused(tmp_path: Path, key: str) -> None:
    src = _source(tmp_path)
    package = build_with_core(_config(tmp_path / "a", "alpha", src))
    b = _config(tmp_path / "b", "beta", src, **{key: str(package / "data" / "mine")})
    with pytest.raises(ConfigError, match=f"output.{key}: .* lies inside the package dir"):
        load_config(b)


def test_other_kinds_are_refused_and_own_layouts_kept(tmp_path: Path) -> None:
    src = _source(tmp_path)
    a = _config(tmp_path / "a", "alpha", src)
    build_with_core(a)
    load_config(a)  # its own package, work dir and quarantine dir, as built: accepted
    work, quarantine = tmp_path / "a" / "w", tmp_path / "a" / "q"
    cases = {
        "quarantine_dir": (work, "package.json"),
        "work_dir": (quarantine, "quarantine dir"),
        "dir": (work, "package.json"),
    }
    for key, (target, said) in cases.items():
        b = _config(tmp_path / f"b-{key}", "beta", src, **{key: str(target)})
        with pytest.raises(ConfigError, match=f"output.{key}: .*{said}"):
            load_config(b)
    # a quarantine dir shared by two packages stays allowed
    load_config(_config(tmp_path / "c", "gamma", src, quarantine_dir=str(quarantine)))


def test_a_fifo_named_package_json_is_no_record_and_never_a_hang(tmp_path: Path) -> None:
    """Before: `is_work_record` opened it with a blocking open(): config load hung forever."""
    src = _source(tmp_path)
    quarantine = tmp_path / "q"
    quarantine.mkdir()
    os.mkfifo(quarantine / "package.json")
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from jsonl_assets.core.config import load_config; "
         "load_config(sys.argv[1]); print('loaded')",
         str(_config(tmp_path / "b", "beta", src, quarantine_dir=str(quarantine)))],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "loaded", done.stderr


def test_object_storage_dirs_are_checked_by_the_build(s3: ObjectServer, tmp_path: Path) -> None:
    """Before: only local dirs were checked: config B's quarantine_dir set to config A's
    package on S3 (the loopback moto server) wrote B's rejected raw input into it. A config
    loads without a request; the build asks before it writes anything there."""
    src = _source(tmp_path)
    package = s3.url("pkgA")
    build_with_core(_config(tmp_path / "a", "alpha", src, dir=package))
    before = _objects(package)
    for i, where in enumerate((package, f"{package}/data/q")):
        cfg = load_config(_config(tmp_path / f"b{i}", "beta", src, quarantine_dir=where))
        with pytest.raises(
            OutputKindError, match=r"output.quarantine_dir: .*(metadata.json|lies inside)"
        ):
            build_partition(cfg, "cpt|train")
    assert _objects(package) == before
    quarantine = s3.url("qC")
    build_with_core(
        _config(tmp_path / "c", "gamma", src, dir=s3.url("pkgC"), quarantine_dir=quarantine)
    )
    cfg = load_config(_config(tmp_path / "d", "delta", src, dir=quarantine))
    with pytest.raises(OutputKindError, match=r"output.dir: .*quarantine dir"):
        build_partition(cfg, "cpt|train")


def _objects(prefix: str) -> list[str]:
    store, todo, found = store_for(prefix), [StoreURL(prefix)], []
    while todo:
        for entry in store.list(folder := todo.pop()):
            (todo if entry.is_dir else found).append(folder / entry.name)
    return sorted(map(str, found))
