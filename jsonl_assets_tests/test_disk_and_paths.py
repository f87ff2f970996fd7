"""Disk full and hostile paths.

* ENOSPC while a shard is written (injected into the shard writer's file, and for real on a
  small tmpfs when this machine lets the test mount one): a clean `ShardWriteError` naming the
  shard's path, no partial shard left, the shards committed before it intact; after space is
  freed, a rerun resumes from them and ends byte-identical to a build that never failed.
* Output never leaves the configured directories, whatever the ids, file names and content
  types look like; shard paths in metadata.json are plain `data/<name>` paths.
* The verifier rejects shard paths that are absolute, contain `..`, or resolve through a
  symlink outside the package (rule C12), also through `jsonl-assets verify`.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pytest
import yaml

from jsonl_assets.core.config import load_config
from jsonl_assets.core.shard_writer import ShardWriteError
from jsonl_assets.core.stages.extract_stage import run_extract
from jsonl_assets.core.stages.record_stages import run_record_stages
from jsonl_assets.core.stages.shard_stage import run_shards
from jsonl_assets.core.store.work_files import PartitionDirs, partition_dirs
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets_tests import test_restart as restart
from jsonl_assets_tests.conftest import package_shards

KEY = ("cpt", "train")


def _dirs(config: Path) -> tuple[Any, PartitionDirs]:
    cfg = load_config(config)
    out = cfg.output
    return cfg, partition_dirs(out.work_dir, out.quarantine_dir, out.dir, *KEY)


def _upstream(config: Path) -> tuple[Any, PartitionDirs]:
    cfg, dirs = _dirs(config)
    run_record_stages(cfg, dirs)
    return cfg, dirs


class _FullDisk:
    """A shard file whose disk fills up after `room` more bytes (ENOSPC, like write(2))."""

    def __init__(self, handle: BinaryIO, budget: list[int]) -> None:
        self._handle = handle
        self._budget = budget

    def write(self, data: bytes) -> int:
        if len(data) > self._budget[0]:
            self._handle.write(data[: self._budget[0]])  # a short write, then the disk is full
            self._budget[0] = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._budget[0] -= len(data)
        return self._handle.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def _shards_on_disk(package: Path) -> list[str]:
    return [p.name for p in package_shards(package)]


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 200 KiB tmpfs, if this machine lets the test mount one (root, no sandbox)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_real_enospc_on_a_full_tmpfs(tmp_path: Path, small_tmpfs: Path) -> None:
    config = restart.make_project(tmp_path / "project", chats=300, notes=4000)
    data = yaml.safe_load(config.read_text())
    data["output"]["dir"] = str(small_tmpfs / "package")
    config.write_text(yaml.safe_dump(data))
    cfg, dirs = _upstream(config)
    with pytest.raises(ShardWriteError) as failure:
        run_shards(cfg, dirs)
    # The staged shard is moved across file systems into the package (a copy): it fails.
    assert str(failure.value).startswith("cannot move ")
    assert f" to {small_tmpfs / 'package' / 'data'}/" in str(failure.value)
    assert str(failure.value).endswith("No space left on device")
    (folder,) = (small_tmpfs / "package" / "data").iterdir()
    names = os.listdir(folder)
    assert names and not [n for n in names if n.startswith(".")], names  # no partial shard
    committed = len(names)

    subprocess.run(["mount", "-o", "remount,size=4m", str(small_tmpfs)], check=True)
    report = run_shards(cfg, dirs)
    assert report.extra["reused_shards"] == committed
    assert len(report.extra["shards"]) > committed
    reference = restart.make_project(tmp_path / "clean", chats=300, notes=4000)
    restart.build_stages(reference, ("cpt|train",))
    assert restart.tree(small_tmpfs / "package" / "data") == restart.tree(
        reference.parent / "package" / "data"
    )
    print(f"\nreal ENOSPC after {committed} shards; rerun wrote {len(report.extra['shards'])}")


def test_output_never_leaves_the_configured_directories(tmp_path: Path) -> None:
    project = tmp_path / "project"
    raw = project / "raw"
    raw.mkdir(parents=True)
    hostile_ids = ["../../escape", "/etc/passwd", "a/b\\c", "..", "x\x00y", "C:\\win", "~root"]
    lines = [
        orjson.dumps({"id": value, "text": f"record {n}"}) for n, value in enumerate(hostile_ids)
    ]
    (raw / "odd name ✿ ..jsonl").write_bytes(b"\n".join(lines) + b"\n")
    config = project / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "dataset": {"name": "paths", "description": "ids that look like paths"},
                "output": {
                    "dir": "../out/package",
                    "work_dir": str(tmp_path / "scratch" / "work"),
                    "quarantine_dir": "q",
                    "shard_by": "content_type",
                },
                "sources": [
                    {
                        "name": "odd",
                        "paths": ["raw/*.jsonl"],
                        "objective": "cpt",
                        "adapter": "text",
                        "split": "train",
                        "id_field": "id",
                        "content_type": "notes_v2",
                    }
                ],
            }
        )
    )
    before = {p for p in tmp_path.rglob("*")}
    restart.build_stages(config, ("cpt|train",))
    allowed = [tmp_path / "out" / "package", tmp_path / "scratch" / "work", project / "q"]
    for path in sorted({p for p in tmp_path.rglob("*")} - before):
        assert any(path == a or a in path.parents for a in allowed) or path in [
            tmp_path / "out",
            tmp_path / "scratch",
        ], f"{path} is outside the configured directories"
    meta = orjson.loads((tmp_path / "out" / "package" / "metadata.json").read_bytes())
    paths = [s["path"] for f in meta["files"] for s in f["shards"]]
    assert [p.split("/", 2)[2] for p in paths] == ["cpt-train-notes_v2-00000.jsonl.zst"]
    assert all(
        re.fullmatch(r"data/cpt-train-[0-9a-f]{16}/[a-z0-9_-]+\.jsonl(\.gz|\.zst)?", p)
        for p in paths
    )


def _package_with(tmp_path: Path) -> tuple[Path, dict[str, Any], Path]:
    """A valid one-shard package, its metadata and a copy of its shard outside it."""
    config = restart.make_project(tmp_path / "project", chats=300, notes=200)
    restart.build_stages(config, ("cpt|train",))
    package = tmp_path / "project" / "package"
    meta = orjson.loads((package / "metadata.json").read_bytes())
    meta["files"][0]["shards"] = meta["files"][0]["shards"][:1]
    first = meta["files"][0]["shards"][0]
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copyfile(package / first["path"], outside / "shard.jsonl.zst")
    (package / "metadata.json").write_bytes(orjson.dumps(meta))
    assert verify_package(package).ok
    return package, meta, outside / "shard.jsonl.zst"


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink"])
def test_verifier_rejects_shard_paths_that_escape_the_package(tmp_path: Path, kind: str) -> None:
    package, meta, outside = _package_with(tmp_path)
    shard = meta["files"][0]["shards"][0]
    if kind == "absolute":
        shard["path"] = str(outside)
        expected = "is absolute"
    elif kind == "dotdot":
        shard["path"] = "data/../../../outside/shard.jsonl.zst"
        expected = "'..' segment"
    else:
        (package / "data" / "linked.jsonl.zst").symlink_to(outside)
        shard["path"] = "data/linked.jsonl.zst"
        expected = "resolves outside the package"
    (package / "metadata.json").write_bytes(orjson.dumps(meta))
    report = verify_package(package)
    errors = [f for f in report.findings if f.severity == "error"]
    assert [f.rule for f in errors] == ["C12"] and expected in errors[0].message, errors
    if kind == "symlink":  # the command says so too, and fails
        cli = Path(sys.executable).parent / "jsonl-assets"
        run = subprocess.run([str(cli), "verify", str(package)], capture_output=True, text=True)
        assert run.returncode == 1 and "C12" in run.stdout and "outside" in run.stdout


def _bad_lines_project(root: Path, quarantine_dir: str) -> Path:
    from jsonl_assets_tests.values_helpers import doc_line, make_cpt_project

    raw = root / "raw"
    raw.mkdir(parents=True)
    lines = [doc_line(i) if i % 2 else b"{not json %d %s" % (i, b"x" * 500) for i in range(600)]
    (raw / "notes.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    config = make_cpt_project(root, ["raw/*.jsonl"])
    data = yaml.safe_load(config.read_text())
    data["output"]["quarantine_dir"] = quarantine_dir
    config.write_text(yaml.safe_dump(data))
    return config


def test_disk_full_while_writing_a_quarantine_file_names_it_and_leaves_no_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jsonl_assets.core import quarantine

    config = _bad_lines_project(tmp_path, "quarantine")
    cfg, dirs = _dirs(config)
    real_init = quarantine.QuarantineWriter.__init__

    def full_disk_init(self: Any, path: Path, *args: Any, **kwargs: Any) -> None:
        real_init(self, path, *args, **kwargs)
        self._handle = _FullDisk(self._handle, [20_000])

    monkeypatch.setattr(quarantine.QuarantineWriter, "__init__", full_disk_init)
    with pytest.raises(OSError) as info:
        run_extract(cfg, dirs)
    target = dirs.quarantine / "extracted.jsonl"
    assert str(info.value).startswith(f"[Errno 28] cannot write {target}: No space left on device")
    assert info.value.errno == errno.ENOSPC
    assert sorted(p.name for p in dirs.quarantine.iterdir()) == []
    monkeypatch.undo()
    assert run_extract(cfg, dirs).quarantine["count"] == 300


def test_real_enospc_on_the_quarantine_dir_names_the_file(
    tmp_path: Path, small_tmpfs: Path
) -> None:
    config = _bad_lines_project(tmp_path / "project", str(small_tmpfs / "quarantine"))
    done = restart.run_cli_build(config, keys=("cpt|train",))
    assert done.returncode != 0
    # The stages write the rejects in the work dir; the shards stage publishes them into
    # the quarantine dir's content-addressed folder, where the disk is full.
    target = re.escape(str(small_tmpfs / "quarantine")) + r"/cpt-train-[0-9a-f]{16}/\w+\.jsonl"
    assert re.search(f"cannot write {target}: No space left on device", done.stdout + done.stderr)
    left = [p for p in (small_tmpfs / "quarantine").rglob("*") if p.is_file()]
    assert left == [], left
