"""`jsonl-assets verify` on hostile packages: bounded time and memory, every breach an error.

Each case runs the real CLI in a child process (with a timeout and a 4 GiB address-space
ceiling as a safety net) and checks exit code 1, the checklist rule in the output and no
traceback. Peak RSS of the child comes from `os.wait4`, so the memory bound is measured, not
assumed. A hypothesis test mutates a valid metadata.json and checks the verifier returns a
report (never raises).
"""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jsonl_assets.core.verify.package import verify_package
from jsonl_assets.core.verify.report import VerifyReport
from jsonl_assets_tests.test_package_verifier import (
    full_package,
    sft_record,
    simple_package,
    write_meta,
    write_shard,
)

CLI = Path(sys.executable).parent / "jsonl-assets"
MiB = 1 << 20
RSS_BOUND_KB = 400 * 1024  # a verify of a bomb stays well under this (about 60 MB measured)


@dataclass
class Run:
    returncode: int
    out: str
    peak_rss_kb: int


def run_verify(pkg: Path, *flags: str, timeout: float = 60) -> Run:
    """The real CLI in a child process; returns its exit code, output and peak RSS."""
    out_path = pkg.parent / f"{pkg.name}.verify.out"

    # A small launcher forks the CLI and reports the CLI's own peak RSS. Measured from here,
    # the CLI's ru_maxrss would include this (large) pytest process's RSS: Linux records the
    # old address space's high-water mark at exec, and subprocess forks or vforks from here.
    rss_path = pkg.parent / f"{pkg.name}.verify.rss"
    launcher = (
        "import os, resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.execv(sys.argv[2], sys.argv[2:])\n"
        "_, status, usage = os.wait4(pid, 0)\n"
        "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
        "sys.exit(os.waitstatus_to_exitcode(status))\n"
    )
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", launcher, str(rss_path), str(CLI), "verify", str(pkg), *flags],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"verify did not finish within {timeout} s")
    maxrss = int(rss_path.read_text())
    return Run(proc.returncode, out_path.read_text("utf-8", "replace"), maxrss)


def assert_error(run: Run, rule: str, text: str = "") -> str:
    """Exit 1, an ERROR line of `rule` (containing `text`), no traceback; return that line."""
    shown = run.out[-3000:]
    assert "Traceback" not in run.out, shown
    assert run.returncode == 1, shown
    lines = [
        line
        for line in run.out.splitlines()
        if line.startswith("ERROR") and line.split()[1] == rule and text in line
    ]
    assert lines, shown
    return lines[0]


def valid_package(pkg: Path) -> dict[str, Any]:
    return simple_package(pkg, [sft_record("a"), sft_record("b")], "zstd")


# --- metadata.json that is not a small regular file in the package ----------------------


def test_metadata_json_fifo_does_not_hang(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    valid_package(pkg)
    (pkg / "metadata.json").unlink()
    os.mkfifo(pkg / "metadata.json")
    assert_error(run_verify(pkg, timeout=20), "A1", "not a regular file")


def test_metadata_json_symlink_to_dev_zero(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    valid_package(pkg)
    (pkg / "metadata.json").unlink()
    os.symlink("/dev/zero", pkg / "metadata.json")
    run = run_verify(pkg, timeout=20)
    assert_error(run, "A1", "outside the package")
    assert run.peak_rss_kb < RSS_BOUND_KB


def test_metadata_json_symlink_out_of_the_package(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    valid_package(pkg)
    (pkg / "metadata.json").rename(tmp_path / "elsewhere.json")
    os.symlink(tmp_path / "elsewhere.json", pkg / "metadata.json")
    assert_error(run_verify(pkg), "A1", "outside the package")
    # A symlink that stays inside the package is followed.
    (pkg / "meta").mkdir()
    (tmp_path / "elsewhere.json").rename(pkg / "meta" / "real.json")
    (pkg / "metadata.json").unlink()
    os.symlink("meta/real.json", pkg / "metadata.json")
    run = run_verify(pkg)
    assert run.returncode == 0, run.out


@pytest.mark.parametrize("kind", ["directory", "socket", "dangling", "loop"])
def test_metadata_json_odd_file_types(tmp_path: Path, kind: str) -> None:
    pkg = tmp_path / "pkg"
    valid_package(pkg)
    meta = pkg / "metadata.json"
    meta.unlink()
    if kind == "directory":
        meta.mkdir()
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.bind(str(meta))
        except OSError:  # path too long for a socket address on this machine
            pytest.skip("socket path too long")
        sock.close()
    elif kind == "dangling":
        os.symlink("gone.json", meta)
    else:
        os.symlink("metadata.json", meta)
    assert_error(run_verify(pkg, timeout=20), "A1")


def test_metadata_json_size_cap(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    valid_package(pkg)
    size = (pkg / "metadata.json").stat().st_size
    line = assert_error(
        run_verify(pkg, "--max-metadata-bytes", str(size - 1)), "A1", "--max-metadata-bytes"
    )
    assert str(size - 1) in line
    assert run_verify(pkg, "--max-metadata-bytes", str(size)).returncode == 0


# --- shards and the asset index --------------------------------------------------------


def zstd_bomb(size: int) -> bytes:
    """One zstd frame of `size` bytes of 'a' and no newline, streamed through the compressor."""
    out = zstandard.ZstdCompressor(level=1).compressobj()
    chunk = b"a" * (4 * MiB)
    parts = [out.compress(chunk) for _ in range(size // len(chunk))]
    parts.append(out.flush())
    return b"".join(parts)


def bomb_package(pkg: Path, blob: bytes, compression: str) -> str:
    ext = {"zstd": ".zst", "gzip": ".gz"}[compression]
    rel = f"data/sft-train-00000.jsonl{ext}"
    (pkg / "data").mkdir(parents=True)
    (pkg / rel).write_bytes(blob)
    write_meta(
        pkg,
        [
            {
                "split": "train",
                "objective": "sft",
                "shards": [{"path": rel, "compression": compression}],
            }
        ],
    )
    return rel


def test_zstd_bomb_is_bounded_with_default_limits(tmp_path: Path) -> None:
    """64 KB of zstd that expands to one 2 GiB line: default limits, bounded RSS."""
    pkg = tmp_path / "pkg"
    blob = zstd_bomb(2 << 30)
    assert len(blob) < 100_000
    bomb_package(pkg, blob, "zstd")
    run = run_verify(pkg, timeout=120)
    assert_error(run, "D1", "--max-line-bytes")
    assert_error(run, "C15", "--max-expansion")
    assert run.peak_rss_kb < RSS_BOUND_KB, run.peak_rss_kb


def test_concatenated_zstd_frames_share_one_cap(tmp_path: Path) -> None:
    """Many small frames (each one under any cap) count toward one per-shard cap."""
    pkg = tmp_path / "pkg"
    frame = zstandard.ZstdCompressor().compress(b"a" * MiB)
    bomb_package(pkg, frame * 64, "zstd")  # 64 MiB from about 3 KB
    flags = ("--max-line-bytes", "1MiB", "--max-expansion", "10", "--expansion-floor", "8MiB")
    run = run_verify(pkg, *flags)
    assert "8388608" in assert_error(run, "C15", "--max-expansion")
    assert_error(run, "D1", "1048576")


def test_gzip_bomb_multi_member(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    member = gzip.compress(b"a" * (4 * MiB), mtime=0)
    bomb_package(pkg, member * 32, "gzip")  # 128 MiB from about 130 KB
    flags = ("--max-line-bytes", "1MiB", "--max-expansion", "20", "--expansion-floor", "1MiB")
    run = run_verify(pkg, *flags)
    assert_error(run, "C15", "--max-expansion")
    assert run.peak_rss_kb < RSS_BOUND_KB


def test_long_lines_are_skipped_not_held(tmp_path: Path) -> None:
    """A plain shard with a 40 MiB line between two good records: one D1, the rest checked."""
    pkg = tmp_path / "pkg"
    (pkg / "data").mkdir(parents=True)
    rel = "data/sft-train-00000.jsonl"
    good = orjson.dumps(sft_record("a")) + b"\n"
    with open(pkg / rel, "wb") as handle:
        handle.write(good)
        for _ in range(40):
            handle.write(b"x" * MiB)
        handle.write(b"\n" + orjson.dumps(sft_record("b")) + b"\n")
    write_meta(
        pkg,
        [{"split": "train", "objective": "sft", "shards": [{"path": rel, "record_count": 3}]}],
    )
    run = run_verify(pkg)
    line = assert_error(run, "D1", "--max-line-bytes")
    assert f"{rel}:2" in line and "16777216" in line
    assert "3 records" in run.out and "1 errors" in run.out
    assert run.peak_rss_kb < RSS_BOUND_KB


def test_shards_that_are_not_regular_files(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    shard = write_shard(pkg, "data/sft-train-00000.jsonl", [sft_record("a")])
    os.mkfifo(pkg / "data" / "fifo.jsonl")
    os.symlink("fifo.jsonl", pkg / "data" / "to-fifo.jsonl")
    os.symlink("/dev/zero", pkg / "data" / "zero.jsonl")
    (pkg / "data" / "dir.jsonl").mkdir()
    paths = ["data/fifo.jsonl", "data/to-fifo.jsonl", "data/zero.jsonl", "data/dir.jsonl"]
    shards = [shard, *({"path": p} for p in paths)]
    write_meta(pkg, [{"split": "train", "objective": "sft", "shards": shards}])
    run = run_verify(pkg, timeout=20)
    assert_error(run, "C13", "data/fifo.jsonl: shard file is not a regular file")
    assert_error(run, "C13", "data/to-fifo.jsonl: shard file is not a regular file")
    assert_error(run, "C12", "data/zero.jsonl")
    assert_error(run, "C13", "data/dir.jsonl")


def test_a_huge_sparse_shard_is_refused_without_being_read(tmp_path: Path) -> None:
    """Before: a `truncate -s 1T` shard was hashed in full (about 15 minutes at 1 GiB/s)."""
    pkg = tmp_path / "pkg"
    shard = write_shard(pkg, "data/sft-train-00000.jsonl", [sft_record("a")])
    sparse = pkg / "data" / "sft-train-00001.jsonl"
    with open(sparse, "wb") as handle:
        handle.truncate(1 << 40)
    write_meta(
        pkg,
        [
            {
                "split": "train",
                "objective": "sft",
                "shards": [shard, {"path": str(sparse.relative_to(pkg))}],
            }
        ],
    )
    run = run_verify(pkg, timeout=30)
    assert_error(run, "C13", "more than --max-shard-bytes")
    # The cap is a flag: a small one refuses the real shard too.
    run = run_verify(pkg, "--max-shard-bytes", "10", timeout=30)
    assert_error(run, "C13", "data/sft-train-00000.jsonl: shard file is")


def test_asset_index_fifo_and_bomb(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    full_package(pkg, "zstd")
    (pkg / "assets.jsonl").unlink()
    os.mkfifo(pkg / "assets.jsonl")
    assert_error(run_verify(pkg, timeout=20), "G1", "not a regular file")
    (pkg / "assets.jsonl").unlink()
    (pkg / "assets.jsonl").write_bytes(zstd_bomb(256 * MiB))
    run = run_verify(pkg, "--max-line-bytes", "1MiB", "--expansion-floor", "4MiB")
    assert_error(run, "G2", "holds zstd-compressed bytes")  # plain JSONL: never decompressed
    assert run.peak_rss_kb < RSS_BOUND_KB


# --- hostile metadata.json content -----------------------------------------------------


def _meta_bytes(pkg: Path, value: Any) -> None:
    (pkg / "metadata.json").write_bytes(value if type(value) is bytes else orjson.dumps(value))


HOSTILE_METADATA: dict[str, Any] = {
    "top-level array": [{"schema_version": "llm-training-data/v1"}],
    "top-level string": "metadata",
    "BOM": b"\xef\xbb\xbf{}",
    "invalid UTF-8": b'{"schema_version": "\xff\xfe"}',
    "NaN": b'{"schema_version": NaN}',
    "deep nesting": b'{"extensions": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "empty": b"",
    "NUL bytes": b"\x00" * 1000,
}


@pytest.mark.parametrize("case", list(HOSTILE_METADATA))
def test_unparseable_metadata(tmp_path: Path, case: str) -> None:
    pkg = tmp_path / "pkg"
    valid_package(pkg)
    _meta_bytes(pkg, HOSTILE_METADATA[case])
    assert_error(run_verify(pkg), "A1")


def test_hostile_shard_entries(tmp_path: Path) -> None:
    """Wrong types, duplicates, absurd counts, control characters, 5,000 entries."""
    pkg = tmp_path / "pkg"
    shard = valid_package(pkg)
    meta = orjson.loads((pkg / "metadata.json").read_bytes())
    entries: list[Any] = [
        shard,
        dict(shard),  # duplicate path
        {**shard, "path": "./" + shard["path"]},  # duplicate once normalised
        {**shard, "path": shard["path"] + "\n\x1b[2JERROR fake"},
        {"path": 5},
        {"path": None},
        {"path": "x" * 100_000},
        {"path": "data/" + "a/" * 5000 + "x"},
        {"path": "data/c1.jsonl", "record_count": -1},
        {"path": "data/c2.jsonl", "record_count": 2**63 - 1},
        {"path": "data/c3.jsonl", "record_count": 1e308},
        {"path": "data/c4.jsonl", "sha256": ["x"]},
        {"path": "data/c5.jsonl", "compression": {"zstd": True}},
        [],
        "data/x.jsonl",
        None,
    ]
    entries += [{"path": f"data/missing-{i}.jsonl"} for i in range(5_000)]
    meta["files"] = [
        {"split": "train", "objective": "sft", "shards": entries},
        {"split": {}, "objective": [], "shards": {}, "toolset_id": 7},
        {"split": "train", "objective": "sft", "shards": [shard] * 3},
        "not an entry",
    ]
    meta["toolsets"] = [{"id": "t", "tools": [{"name": "n", "input_schema": {"type": [[[]]]}}]}]
    meta["defaults"] = {"system": "not parts", "toolset_id": ["t"]}
    meta["asset_index"] = {"path": 12}
    _meta_bytes(pkg, meta)
    run = run_verify(pkg, timeout=60)
    for rule in ("C9", "C11", "C12", "C13", "C16", "C17", "C18", "C1", "C2", "C3", "C8"):
        assert_error(run, rule)
    assert "\x1b" not in run.out  # printed escaped: a path cannot forge an output line
    assert all(line.startswith(("ERROR", "(", str(pkg))) for line in run.out.splitlines())
    assert max(map(len, run.out.splitlines())) < 2100  # a 100 KB path is shortened
    assert run.peak_rss_kb < RSS_BOUND_KB


def test_deeply_nested_manifest_values(tmp_path: Path) -> None:
    """Values nested 1,000 deep (orjson reads up to 1024) where the checks print or walk them."""
    pkg = tmp_path / "pkg"
    full_package(pkg, "zstd")
    deep = b"[" * 1000 + b'"string"' + b"]" * 1000
    meta = (pkg / "metadata.json").read_bytes()
    meta = meta.replace(b'"type": "string"', b'"type": ' + deep, 1)  # E9 compares against it
    meta = meta.replace(b'"split": "test"', b'"split": ' + deep, 1)
    meta = meta.replace(b'"reasoning_policy": "train"', b'"reasoning_policy": ' + deep, 1)
    (pkg / "metadata.json").write_bytes(meta)
    run = run_verify(pkg, "--warnings")
    assert_error(run, "C2", "[[[[[[...]]]]]]")
    assert_error(run, "A15")
    # The deep `type` is the manifest's problem (B7), not the records': they are judged (a
    # nested array is not a type name E9 judges), not refused as too deep to check (D1).
    assert "B7   metadata.json: toolsets[0].tools[0].input_schema.properties." in run.out
    assert "nested too deeply" not in run.out
    assert " D1 " not in run.out


def _mutate(value: Any, path: list[int], replacement: Any) -> Any:
    """Replace the node reached by walking `path` (indices into dict values / list items)."""
    if not path or type(value) not in (dict, list) or not value:
        return replacement
    step, rest = path[0], path[1:]
    if type(value) is dict:
        keys = list(value)
        key = keys[step % len(keys)]
        return {**value, key: _mutate(value[key], rest, replacement)}
    items = list(value)
    items[step % len(items)] = _mutate(items[step % len(items)], rest, replacement)
    return items


_json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "..", "/etc/passwd", "data", "data/", "metadata.json", "zstd", "sft"])
)
_json_values = st.recursive(
    _json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    mutations=st.lists(
        st.tuples(st.lists(st.integers(0, 50), max_size=6), _json_values), min_size=1, max_size=4
    )
)
def test_mutated_metadata_never_raises(
    tmp_path: Path, mutations: list[tuple[list[int], Any]]
) -> None:
    pkg = tmp_path / "pkg"
    if not (pkg / "metadata.json").exists():
        full_package(pkg, "zstd")
        (pkg / "valid.json").write_bytes((pkg / "metadata.json").read_bytes())
    meta = orjson.loads((pkg / "valid.json").read_bytes())
    for path, replacement in mutations:
        meta = _mutate(meta, path, replacement)
    _meta_bytes(pkg, meta)
    report = verify_package(pkg, forbid_split_leakage=True)
    assert isinstance(report, VerifyReport)
    assert report.error_count + report.warning_count >= len(report.findings)


@pytest.mark.slow
def test_gzip_bomb_with_default_limits(tmp_path: Path) -> None:
    """A 2 GiB gzip line (about 2 MB on disk, near deflate's 1032x ceiling): default caps."""
    pkg = tmp_path / "pkg"
    member = gzip.compress(b"a" * (64 * MiB), compresslevel=9, mtime=0)
    bomb_package(pkg, member * 32, "gzip")
    run = run_verify(pkg, timeout=300)
    assert_error(run, "D1", "--max-line-bytes")
    assert run.peak_rss_kb < RSS_BOUND_KB, run.peak_rss_kb
