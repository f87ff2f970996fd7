"""The same sources give the same package bytes, however and wherever the build runs.

Builds of the same project (the restart test's: four partitions, 48 shards, quarantined
lines) are compared file by file, package and quarantine:

* `jsonl-assets build --workers 2` vs `--workers 1` (the CLI, with the Dagster instance),
  and the core stages called directly, twice: all agree;
* each with another `PYTHONHASHSEED`, from another absolute path (a longer one, with spaces),
  from another working directory (the project, its parent, `/`), in another time zone, at
  another time (one core build's wall clock is moved 30 years ahead; the builds also simply
  run at different moments);
* with zstd shards (above) and gzip shards (whose members carry mtime 0, no file name and OS
  byte 255, so no clock and no host).

No output names the project's absolute path or the host.
"""

from __future__ import annotations

import gzip
import socket
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jsonl_assets.core.compression import iter_decompressed
from jsonl_assets_tests import test_restart as restart
from jsonl_assets_tests.conftest import package_shards

CLI_KEYS = ("sft|train", "cpt|train")

THIRTY_YEARS = 30 * 365 * 24 * 3600


def _env(seed: int, tz: str, fake_time: float | None = None) -> dict[str, str]:
    env = {"PYTHONHASHSEED": str(seed), "TZ": tz}
    if fake_time is not None:
        env[restart.FAKE_TIME_ENV] = str(fake_time)
    return env


def _check(run: object) -> None:
    assert run.returncode == 0, run.stderr[-3000:]  # type: ignore[attr-defined]


def _no_absolute_paths_or_host(project: Path) -> None:
    needles = [str(project.resolve()).encode(), str(project).encode()]
    host = socket.gethostname().encode()
    if len(host) >= 4:
        needles.append(host)
    for folder in ("package", "quarantine"):
        for path in (project / folder).rglob("*"):
            if not path.is_file():
                continue
            codec = {".zst": "zstd", ".gz": "gzip"}.get(path.suffix, "none")
            with open(path, "rb") as handle:
                data = b"".join(iter_decompressed(handle, codec))
            for needle in needles:
                assert needle not in data, f"{path} contains {needle!r}"


def test_package_bytes_do_not_depend_on_workers_seed_path_cwd_or_time(tmp_path: Path) -> None:
    first = tmp_path / "a" / "project"
    second = tmp_path / "b" / "a much longer path" / "with more levels" / "copy of the project"
    third, fourth = tmp_path / "c", tmp_path / "d"
    for root in (first, second, third, fourth):
        restart.make_project(root)
    ahead = restart.time.time() + THIRTY_YEARS
    with ThreadPoolExecutor(max_workers=2) as pool:
        # The CLI pays ~1.5 s of Dagster per partition: it builds two, the core build all four.
        cli = [
            pool.submit(
                restart.run_cli_build,
                root / "pipeline.yaml",
                env=_env(seed, tz),
                keys=CLI_KEYS,
                workers=workers,
                cwd=cwd,
            )
            for root, seed, tz, workers, cwd in (
                (first, 1, "UTC", 2, first),
                (second, 4242, "Asia/Kathmandu", 1, tmp_path),
            )
        ]
        core = [
            pool.submit(
                restart.run_core_build, root / "pipeline.yaml", env=_env(seed, tz, when), cwd=cwd
            )
            for root, seed, tz, when, cwd in (
                (third, 7, "UTC", None, third),
                (fourth, 8, "Pacific/Kiritimati", ahead, Path("/")),
            )
        ]
        for run in cli + core:
            _check(run.result())
    reference = restart.outputs(first)
    assert restart.outputs(second) == reference, "workers 2 vs 1 / seed / path / TZ differ"
    four = restart.outputs(third)
    # The quarantine: 4 partitions x 3 stages, and the snapshot's pointer.
    assert len(four["package"]) == 49 and len(four["quarantine"]) == 13
    assert restart.outputs(fourth) == four, "another seed / path / TZ / time differs"
    # The CLI's two partitions are byte for byte the core build's (metadata.json lists fewer).
    shared = {
        k: v
        for k, v in four["package"].items()
        if k.startswith(("data/sft-train", "data/cpt-train"))
    }
    assert {k: v for k, v in reference["package"].items() if k != "metadata.json"} == shared
    for split in ("sft-train-", "cpt-train-"):  # the same content-addressed folders
        assert {k: v for k, v in reference["quarantine"].items() if k.startswith(split)} == {
            k: v for k, v in four["quarantine"].items() if k.startswith(split)
        }
    _no_absolute_paths_or_host(second)
    _no_absolute_paths_or_host(fourth)


def test_gzip_shards_are_reproducible_and_carry_no_clock_or_name(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "elsewhere" / "two"
    restart.make_project(one, compression="gzip", chats=300, notes=1500)
    restart.make_project(two, compression="gzip", chats=300, notes=1500)
    later = restart.time.time() + THIRTY_YEARS
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [
            pool.submit(restart.run_core_build, one / "pipeline.yaml", env=_env(11, "UTC")),
            pool.submit(
                restart.run_core_build,
                two / "pipeline.yaml",
                env=_env(99, "America/St_Johns", later),
            ),
        ]
        for run in runs:
            _check(run.result())
    assert restart.outputs(one) == restart.outputs(two)
    shards = package_shards(one / "package")
    assert len(shards) > 10
    for path in shards:
        data = path.read_bytes()
        assert path.name.endswith(".jsonl.gz") and gzip.decompress(data).endswith(b"\n")
        offset = 0  # every member: no mtime, no flags (so no file name), OS "unknown"
        while offset < len(data):
            magic, (flags, mtime, _, os_byte) = data[offset : offset + 3], _header(data, offset)
            assert magic == b"\x1f\x8b\x08" and (flags, mtime, os_byte) == (0, 0, 255), path
            rest = zlib.decompressobj(wbits=-15)
            rest.decompress(data[offset + 10 :])
            offset = len(data) - len(rest.unused_data) + 8  # past the CRC and size


def _header(data: bytes, offset: int) -> tuple[int, int, int, int]:
    """FLG, MTIME, XFL and OS of the gzip member at `offset`."""
    return struct.unpack_from("<BIBB", data, offset + 3)
