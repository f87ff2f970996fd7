"""`jsonl-assets report` on a package it did not build (no work dir: every shard is read
again) verifies it first: a hostile or damaged package is refused in one line with verify's
first finding, nothing written. Before, report read a FIFO shard forever (holding the package
lock), followed a shard symlinked out of the package (to /dev/zero: without end), held a
one-line decompression bomb whole (988 MB for a 9.7 KB shard) and printed bare Python errors
for a malformed metadata.json."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import zstandard

from jsonl_assets.cli import main
from jsonl_assets.core.config import load_config
from jsonl_assets_tests.conftest import build_with_core
from jsonl_assets_tests.core.report.conftest import tiny_config


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny package, built without a report, its work dir gone; the config and a pristine
    copy of the package to restore it from."""
    config = tiny_config(tmp_path_factory.mktemp("gate") / "data")
    package = build_with_core(config)
    shutil.rmtree(load_config(config).output.work_dir)
    pristine = config.parent.parent / "pristine"
    shutil.copytree(package, pristine, symlinks=True)
    return config, pristine


def _first_shard(package: Path) -> tuple[dict, Path]:
    meta = orjson.loads((package / "metadata.json").read_bytes())
    entry = meta["files"][0]["shards"][0]
    return meta, package / entry["path"]


def _fifo(package: Path) -> None:
    _, shard = _first_shard(package)
    shard.unlink()
    os.mkfifo(shard)


def _symlink_out(package: Path) -> None:
    """The shard's own bytes, but from outside the package (its sha256 still matches)."""
    _, shard = _first_shard(package)
    outside = package.parent / "outside.zst"
    shutil.copyfile(shard, outside)
    shard.unlink()
    shard.symlink_to(outside)


def _bomb(package: Path) -> None:
    """A line of 64 MiB in a few KB of zstd, listed with its true sha256 and record count."""
    meta, shard = _first_shard(package)
    data = zstandard.ZstdCompressor().compress(b'{"id": "' + b"a" * (64 << 20) + b'"}\n')
    shard.write_bytes(data)
    entry = meta["files"][0]["shards"][0]
    entry.update(sha256=hashlib.sha256(data).hexdigest(), record_count=1)
    (package / "metadata.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))


def _bad_split(package: Path) -> None:
    meta, _ = _first_shard(package)
    meta["files"][0]["split"] = "dev"
    (package / "metadata.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))


@pytest.mark.parametrize(
    ("damage", "rule"), [(_fifo, "C13"), (_symlink_out, "C12"), (_bomb, "D1"), (_bad_split, "C2")]
)
def test_report_refuses_a_package_verify_refuses(
    package_copy: tuple[Path, Path],
    damage: Callable[[Path], None],
    rule: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, pristine = package_copy
    cfg = load_config(config)
    package, report_dir = cfg.output.dir, cfg.output.dir.parent / f"{cfg.output.dir.name}-report"
    shutil.rmtree(package)
    shutil.rmtree(report_dir, ignore_errors=True)
    shutil.copytree(pristine, package, symlinks=True)
    damage(package)

    assert main(["report", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "the package is not valid: verify finds" in err and f"the first {rule} " in err, err
    assert f"jsonl-assets verify {package}" in err and "nothing was written" in err, err
    assert not any(report_dir.iterdir()) if report_dir.exists() else True


def test_report_of_a_valid_package_without_its_work_dir_is_written(
    package_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, pristine = package_copy
    cfg = load_config(config)
    shutil.rmtree(cfg.output.dir)
    shutil.copytree(pristine, cfg.output.dir, symlinks=True)
    os.environ["JSONL_ASSETS_REPORT"] = "1"
    try:
        assert main(["report", "--config", str(config)]) == 0, capsys.readouterr()
    finally:
        os.environ["JSONL_ASSETS_REPORT"] = "0"
    folder = cfg.output.dir.parent / f"{cfg.output.dir.name}-report"
    assert (folder / "report.html").is_file() and (folder / "DATACARD.md").is_file()
