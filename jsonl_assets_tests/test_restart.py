"""kill -9 at named points of a build, rerun, and the package is byte-identical to a clean one.

A build runs in a subprocess with `JSONL_ASSETS_KILL_AT=<point>:<n>` (see
`jsonl_assets/core/fault_points.py`), which SIGKILLs itself exactly there: during extraction (mid
file, between files), inside each stage, before a stage's marker is renamed, between stages,
mid-shard, between a shard's rename and its journal entry, between shards, between partitions
and while metadata.json is written. Then the build runs again, unharmed, and:

* the package and the quarantine are byte-identical (every file, hidden ones included) to an
  uninterrupted build;
* what the killed run committed was reused: every stage whose marker was on disk reports
  `reused`, and the shards stage reports as `reused_shards` exactly the shards its journal
  held; the figures are printed (run pytest with `-s` to see them);
* right after the kill, the package holds only whole files: a shard is either complete under
  its final name or a hidden `.partial` (which readers and the verifier ignore and the rerun
  removes).

Fourteen points run a small build entry that calls the core stages (`python -m
jsonl_assets_tests.test_restart CONFIG KEY...`: the calls the assets make, under the same
partition lock: the one-pass record stages, then shards), each in a fresh project. The real `jsonl-assets build` is killed mid-shard
and run again; its reuse figures are read back from the Dagster instance. The longer,
randomised version (chains of kills, the CLI at any point) is `bench/restart_fuzz.py`.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
import zstandard

from jsonl_assets.core.compression import iter_decompressed
from jsonl_assets.core.fault_points import ENV_VAR
from jsonl_assets.core.store.package_lock import LOCK_FILES

REPO = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "jsonl-assets"
STAGES = ("extracted", "transformed", "validated", "shards")
KEYS = ("sft|train", "sft|validation", "sft|test", "cpt|train")
# The core build entry below moves its wall clock to this epoch when the variable is set.
FAKE_TIME_ENV = "JSONL_ASSETS_TEST_FAKE_TIME"
# ... and publishes over another dataset's package (`--replace-other-dataset`) when this is set.
REPLACE_OTHER_ENV = "JSONL_ASSETS_TEST_REPLACE_OTHER"
PLANTS = ("basil", "mint", "fern", "rose", "thyme", "cactus", "orchid", "lettuce")


# --- the project: a few thousand records, many small shards ---------------------------------


def _noise(i: int, k: int = 2) -> str:
    return "".join(hashlib.sha256(f"{i}/{j}".encode()).hexdigest()[:24] for j in range(k))


def chat_line(i: int) -> bytes:
    plant = PLANTS[i % len(PLANTS)]
    return orjson.dumps(
        {
            "messages": [
                {"role": "user", "content": f"How do I keep my {plant} alive? ({i} {_noise(i)})"},
                {"role": "assistant", "content": f"Water the {plant} less. ref {_noise(i + 7)}"},
            ]
        }
    )


def note_line(i: int) -> bytes:
    return orjson.dumps({"title": f"note {i}", "text": f"Notes on {_noise(i, 3)} — ✿ {i}"})


def make_project(
    root: Path, *, compression: str = "zstd", chats: int = 800, notes: int = 4200
) -> Path:
    """A project under `root`: an sft source (plain + gzip files, split auto, so three
    partitions) and a cpt source (a plain file larger than one extraction batch of 4096
    records, plus a zstd file); a few bad lines. Returns the config path."""
    raw = root / "raw"
    (raw / "sft").mkdir(parents=True, exist_ok=True)
    (raw / "cpt").mkdir(parents=True, exist_ok=True)
    lines = [chat_line(i) for i in range(chats)]
    lines[100] = lines[100][:40]  # truncated JSON: parse_error
    lines[chats // 2] = lines[17]  # a duplicate
    (raw / "sft" / "chats_a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    more = b"\n".join(chat_line(chats + i) for i in range(300)) + b"\n"
    (raw / "sft" / "chats_b.jsonl.gz").write_bytes(gzip.compress(more, mtime=0))
    lines = [note_line(i) for i in range(notes)]
    lines[5] = b'{"text": "   "}'  # adapter:empty_text
    (raw / "cpt" / "notes_a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    lines = [note_line(i) for i in range(notes, notes + 300)]
    (raw / "cpt" / "notes_b.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress(b"\n".join(lines) + b"\n")
    )
    config = {
        "dataset": {"name": "restart-test", "description": "kill -9 and resume"},
        "output": {
            "dir": "package",
            "compression": compression,
            "max_records_per_shard": 250,
            "max_bytes_per_shard": 12000,
            "work_dir": "work",
            "quarantine_dir": "quarantine",
        },
        "splits": {"validation": 0.1, "test": 0.1},
        "sources": [
            {
                "name": "chats",
                "paths": ["raw/sft/*.jsonl", "raw/sft/*.jsonl.gz"],
                "objective": "sft",
                "adapter": "chat",
                "split": "auto",
            },
            {
                "name": "notes",
                "paths": ["raw/cpt/*.jsonl", "raw/cpt/*.jsonl.zst"],
                "objective": "cpt",
                "adapter": "text",
                "options": {"title_field": "title"},
                "split": "train",
            },
        ],
    }
    path = root / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


# --- a build without Dagster: the calls the assets make, with the same per-partition lock ---


def build_stages(
    config_path: Path, keys: tuple[str, ...] = KEYS, replace_other_dataset: bool = False
) -> dict[str, Any]:
    """Run every stage of `keys` in order, then publish metadata.json; return what was reused."""
    from jsonl_assets.core.config import load_config
    from jsonl_assets.core.manifest_builder import PartitionShards
    from jsonl_assets.core.stages.manifest_stage import publish_manifest
    from jsonl_assets.core.stages.record_stages import run_record_stages
    from jsonl_assets.core.stages.shard_stage import run_shards, verify_partition_shards
    from jsonl_assets.core.store.partition_lock import partition_lock
    from jsonl_assets.core.store.work_files import partition_dirs

    cfg = load_config(config_path)
    out = cfg.output
    summary: dict[str, Any] = {}
    partitions = []
    for key in keys:
        objective, split = key.split("|")
        dirs = partition_dirs(out.work_dir, out.quarantine_dir, out.dir, objective, split)
        with partition_lock(dirs.work, key, 60):
            reports = run_record_stages(cfg, dirs, replace_other_dataset=replace_other_dataset)
        with partition_lock(dirs.work, key, 60):
            report = run_shards(cfg, dirs, replace_other_dataset=replace_other_dataset)
        reused = {name: r.reused for name, r in zip(STAGES, [*reports, report], strict=True)}
        if not verify_partition_shards(cfg, dirs, report)["passed"]:
            raise AssertionError(f"{key}: shards failed verification")
        summary[key] = {
            "reused": reused,
            "reused_shards": report.extra["reused_shards"],
            "shards": len(report.extra["shards"]),
        }
        partitions.append(PartitionShards.from_report(objective, split, report.extra))
    result = publish_manifest(cfg, partitions, replace_other_dataset)
    if not result.published:
        raise AssertionError(f"metadata.json not published: {result.findings[:3]}")
    return summary


def run_core_build(
    config: Path,
    kill_at: str | None = None,
    env: dict[str, str] | None = None,
    keys: tuple[str, ...] = KEYS,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`build_stages` in a fresh interpreter (so a kill point can end it)."""
    full = {**os.environ, **(env or {})}
    full.pop(ENV_VAR, None)
    if kill_at:
        full[ENV_VAR] = kill_at
    full["PYTHONPATH"] = str(REPO) + os.pathsep + full.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "jsonl_assets_tests.test_restart", str(config), *keys],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd or config.parent,
    )


def run_cli_build(
    config: Path,
    kill_at: str | None = None,
    env: dict[str, str] | None = None,
    keys: tuple[str, ...] = KEYS,
    workers: int = 1,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`jsonl-assets build` of KEYS in a subprocess, with a Dagster home beside the project."""
    home = config.parent / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    full = {**os.environ, **(env or {}), "DAGSTER_HOME": str(home)}
    full.pop(ENV_VAR, None)
    if kill_at:
        full[ENV_VAR] = kill_at
    args = [str(CLI), "build", "--config", str(config), "--workers", str(workers)]
    for key in keys:
        args += ["--partition", key]
    return subprocess.run(
        args, env=full, capture_output=True, text=True, timeout=180, cwd=cwd or config.parent
    )


def cli_reuse(config: Path, keys: tuple[str, ...] = KEYS) -> dict[str, Any]:
    """What the last `jsonl-assets build` reused, from its materialisation metadata."""
    import dagster as dg

    summary: dict[str, Any] = {}
    with dg.DagsterInstance.from_config(str(config.parent / "dagster_home")) as instance:
        for key in keys:
            reused: dict[str, bool] = {}
            meta: dict[str, Any] = {}
            for stage in STAGES:
                records = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=dg.AssetKey(stage), asset_partitions=[key]),
                    limit=1,
                ).records
                meta = records[0].asset_materialization.metadata
                reused[stage] = bool(meta["reused"].value)
            summary[key] = {
                "reused": reused,
                "reused_shards": meta["reused_shards"].value,
                "shards": meta["shard_count"].value,
            }
    return summary


# --- what is on disk ------------------------------------------------------------------------


def tree(root: Path) -> dict[str, str]:
    """sha256 of every file under `root`, hidden files included."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def outputs(project: Path) -> dict[str, dict[str, str]]:
    return {name: tree(project / name) for name in ("package", "quarantine")}


@dataclass
class KillState:
    """What a killed build left: which stage markers and journal entries were committed."""

    markers: dict[str, set[str]] = field(default_factory=dict)
    journaled: dict[str, int] = field(default_factory=dict)
    partials: list[str] = field(default_factory=list)


def inspect_after_kill(project: Path, keys: tuple[str, ...] = KEYS) -> KillState:
    """Check that the package holds only whole files, and record what was committed."""
    state = KillState()
    package = project / "package"
    for path in sorted(package.rglob("*")) if package.exists() else []:
        if not path.is_file():
            continue
        rel = path.relative_to(package).as_posix()
        if rel in LOCK_FILES:  # the killed build's package lock: hidden, taken over next time
            continue
        if path.name.startswith("."):
            assert path.name.endswith(".partial"), f"stray hidden file {rel}"
            state.partials.append(rel)
        elif rel == "metadata.json":
            orjson.loads(path.read_bytes())
        else:
            codec = {".zst": "zstd", ".gz": "gzip"}.get(path.suffix, "none")
            with open(path, "rb") as handle:  # a committed shard decompresses to its end
                data = b"".join(iter_decompressed(handle, codec))
            assert data.endswith(b"\n"), f"{rel} is not whole"
    for key in keys:
        work = project / "work" / key.replace("|", "/")
        state.markers[key] = {s for s in STAGES if (work / f"{s}.json").exists()}
        journal = work / "shards.journal"
        state.journaled[key] = (
            len(journal.read_bytes().splitlines())
            if journal.exists() and "shards" not in state.markers[key]
            else 0
        )
    return state


def assert_reuse(state: KillState, summary: dict[str, Any]) -> None:
    """Every stage committed before the kill was reused; every shard journaled was reused."""
    for key in state.markers:
        reused = summary[key]["reused"]
        assert {s for s in STAGES if reused[s]} == state.markers[key], (key, reused, state)
        if not reused["shards"]:
            assert summary[key]["reused_shards"] == state.journaled[key], (key, summary, state)


# --- the test -------------------------------------------------------------------------------

# (kill point, what the kill interrupts) for the core entry, one fresh project each. The
# counts put each point in the middle of the build: partitions in the order of KEYS
# (sft|train: 8 shards, sft|validation and sft|test: 2 each, cpt|train: 36; ~8 frames each).
# A partition's shards are written by its one pass (staged: frames, renames) and then moved
# into the package by the shards stage (renames, journal entries).
CORE_POINTS: tuple[str, ...] = (
    "extract.file:2",  # between two files of a source (sft|train)
    "before_rename:extracted.json:1",  # extraction output committed, its marker not
    "marker:extracted:1",  # between extracted and transformed
    "transform.batch:2",  # transform output written, not committed (sft|validation)
    "validate.batch:1",  # inside validation
    "marker:staged:1",  # shards staged by the pass, its validated marker not written
    "marker:validated:1",  # between validated and shards
    "shard.frame:40",  # in the middle of a staged shard (the 5th), in the pass
    "shard.renamed:4",  # a staged shard complete, in the pass
    "shard.renamed:12",  # the 4th shard moved into the package but not journaled
    "marker:shards:3",  # between partitions
    "extract.batch:1",  # mid-file: 4096 records of notes_a.jsonl written (cpt|train)
    "shard.journaled:30",  # between shards (cpt|train)
    "before_rename:metadata.json:2",  # metadata.json written, not yet renamed
)
# The CLI pays Dagster's start-up (~3 s) and per-run cost (~1.5 s a partition): it builds one
# partition (36 shards), killed in the middle of a shard, then run to the end.
CLI_KEYS = ("cpt|train",)
CLI_POINTS: tuple[str, ...] = ("shard.frame:160",)


def _line(mode: str, point: str, summary: dict[str, Any], state: KillState, seconds: float) -> str:
    stages = sum(sum(v["reused"].values()) for v in summary.values())
    shards = sum(v["reused_shards"] for v in summary.values() if not v["reused"]["shards"])
    total = sum(v["shards"] for v in summary.values())
    return (
        f"{mode:4} {point:31} stages reused {stages:2}/{len(STAGES) * len(summary):2}  "
        f"shards resumed from the journal {shards:2}/{total:2}  "
        f"partial files left by the kill {len(state.partials)}  {seconds:4.1f} s"
    )


def _killed(run: subprocess.CompletedProcess[str], point: str) -> None:
    assert run.returncode == -signal.SIGKILL, (
        f"kill point {point} was not reached: rc {run.returncode}\n{run.stderr[-2000:]}"
    )


def _core_scenario(base: Path, n: int, point: str, expected: dict[str, Any]) -> str:
    project = base / f"core{n:02d}"
    config = make_project(project)
    started = time.perf_counter()
    _killed(run_core_build(config, kill_at=point), point)
    state = inspect_after_kill(project)
    rerun = run_core_build(config)
    assert rerun.returncode == 0, f"rerun after {point} failed:\n{rerun.stderr[-3000:]}"
    summary = orjson.loads(rerun.stdout.splitlines()[-1])
    assert_reuse(state, summary)
    assert outputs(project) == expected, f"after a kill at {point} the bytes differ"
    return _line("core", point, summary, state, time.perf_counter() - started)


def _cli_chain(base: Path, expected: dict[str, Any]) -> list[str]:
    """`jsonl-assets build` killed at each of CLI_POINTS in turn, each run resuming the last."""
    project = base / "cli"
    config = make_project(project)
    lines: list[str] = []
    started = time.perf_counter()
    _killed(run_cli_build(config, kill_at=CLI_POINTS[0], keys=CLI_KEYS), CLI_POINTS[0])
    state = inspect_after_kill(project, CLI_KEYS)
    for before, point in zip(CLI_POINTS, (*CLI_POINTS[1:], None), strict=True):
        run = run_cli_build(config, kill_at=point, keys=CLI_KEYS)
        if point is None:
            assert run.returncode == 0, f"final CLI rerun failed:\n{run.stderr[-3000:]}"
        else:
            _killed(run, point)
        # Every partition run finished before the manifest run, so the instance holds this
        # run's materialisations whether or not it was then killed.
        summary = cli_reuse(config, CLI_KEYS)
        assert_reuse(state, summary)
        lines.append(_line("cli", before, summary, state, time.perf_counter() - started))
        lines[-1] += f"  (the rerun {'was killed at ' + point if point else 'completed'})"
        if point is not None:
            state = inspect_after_kill(project, CLI_KEYS)
    assert outputs(project) == expected, "after kills of jsonl-assets build the bytes differ"
    return lines


def test_kill_at_any_point_then_rerun_is_byte_identical(tmp_path: Path) -> None:
    expected = {}
    for keys in (KEYS, CLI_KEYS):
        reference = tmp_path / f"clean-{len(keys)}"
        build_stages(make_project(reference), keys)
        expected[keys] = outputs(reference)
    assert sum(p.startswith("data/") for p in expected[KEYS]["package"]) == 48
    assert len(set(CORE_POINTS) | set(CLI_POINTS)) >= 10
    with ThreadPoolExecutor(max_workers=2) as pool:
        cli = pool.submit(_cli_chain, tmp_path, expected[CLI_KEYS])
        core = [
            pool.submit(_core_scenario, tmp_path, n, point, expected[KEYS])
            for n, point in enumerate(CORE_POINTS)
        ]
        lines = [f.result() for f in core] + cli.result()
    print("\nkill -9 at a point, then rerun: what the rerun reused (stage reports / Dagster)")
    print("\n".join(lines))


def test_kill_point_hook_is_inert_without_the_variable() -> None:
    from jsonl_assets.core import fault_points

    assert fault_points.parse("") == (None, 1)
    assert fault_points.parse("shard.frame:3") == ("shard.frame", 3)
    assert fault_points.parse("marker:shards") == ("marker:shards", 1)
    assert fault_points.parse("before_rename:metadata.json:2") == (
        "before_rename:metadata.json",
        2,
    )
    if ENV_VAR in os.environ:
        pytest.skip("a kill point is set in the test environment")
    started = time.perf_counter()
    for _ in range(100_000):
        fault_points.reached("shard.frame")
    assert time.perf_counter() - started < 0.5  # ~50 ns a call


def fake_clock(epoch: float) -> None:
    """Make the wall clock (`time.time`, `time.time_ns`) read `epoch` onwards in this process."""
    offset = epoch - time.time()
    real_time, real_ns = time.time, time.time_ns
    time.time = lambda: real_time() + offset  # type: ignore[assignment]
    time.time_ns = lambda: real_ns() + int(offset * 1e9)  # type: ignore[assignment]


if __name__ == "__main__":
    if FAKE_TIME_ENV in os.environ:
        fake_clock(float(os.environ[FAKE_TIME_ENV]))
    replace = REPLACE_OTHER_ENV in os.environ
    summary = build_stages(Path(sys.argv[1]), tuple(sys.argv[2:]) or KEYS, replace)
    print(orjson.dumps(summary).decode())
