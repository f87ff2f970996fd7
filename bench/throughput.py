"""Throughput and memory of `jsonl-assets build` against a hand-written floor, in one run:
the performance targets of issue 16 (chunked partitions), each printed with its figure.

    .venv/bin/python bench/throughput.py                 # 300,000 records (~280 MB), 3 repeats
    .venv/bin/python bench/throughput.py --repeats 1 --only floor --only one

Runs (medians of the repeats; wall seconds, records/s, MB/s of raw input, peak RSS of the
largest process, CPU seconds of every process):
  floor   - a minimal streaming loop that does the work and nothing more: read lines,
            orjson.loads, map to the spec shape, content-hash id, dedup with a set,
            orjson.dumps, zstd level 3 (single-threaded), sha256 of the output;
  one     - `jsonl-assets build --partition sft|train` with --workers 1 and --workers 2
            (target 1: workers 2 at most 0.6 x workers 1);
  whole   - the whole `jsonl-assets build` of the one-source config, default --workers (the
            cores): target 2, wall at most 1.5 x the floor's; target 3, CPU at most 2.5 x
            the floor's CPU;
  fixed   - the whole build of the first 1,000 records (target 4: at most 0.3 x the floor);
  rss     - the whole build at 1x and 4x the input (target 5: peak RSS per process at most
            +30% at 4x);
  chunks  - per-chunk throughput of one process and the merge's cost (core only).
The config cuts the input into chunks of CHUNK_BYTES (output.chunk_bytes), so that two
workers share one partition. Floor and build runs alternate, so that both see the machine in
the same state. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import orjson
import zstandard

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / ".venv" / "bin" / "jsonl-assets"
BASE_RECORDS = 300_000
FIXED_RECORDS = 1_000
CHUNK_BYTES = 32 << 20

WORDS = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "is",
    "it",
    "you",
    "that",
    "for",
    "on",
    "with",
    "as",
    "are",
    "this",
    "be",
    "at",
    "have",
    "or",
    "from",
    "by",
    "not",
    "water",
    "soil",
    "plant",
    "light",
    "leaf",
    "root",
    "seed",
    "garden",
    "grow",
    "sun",
    "rain",
    "pot",
    "compost",
    "prune",
    "bloom",
    "question",
    "answer",
    "model",
    "data",
    "train",
    "example",
    "context",
    "reason",
    "step",
    "first",
    "then",
    "because",
    "when",
    "should",
    "could",
    "would",
    "which",
    "what",
    "how",
    "why",
    "where",
    "there",
    "their",
    "about",
    "more",
    "some",
    "time",
]
UNICODE = [
    "café",
    "naïve",
    "Grüße",
    "東京",
    "データ",
    "пример",
    "مرحبا",
    "שלום",
    "🌱",
    "👩‍🌾",
    "½",
    "→",
]


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.3:
        words[rng.randrange(n)] = rng.choice(UNICODE)
    return " ".join(words).capitalize() + "."


def generate(path: Path, records: int, seed: int = 7) -> int:
    """Multi-turn chats of about 1 KB; ~1% duplicates, ~0.5% malformed lines."""
    rng = random.Random(seed)
    recent: list[bytes] = []
    with open(path, "wb") as out:
        for i in range(records):
            roll = rng.random()
            if roll < 0.005:
                out.write(
                    b'{"messages": [{"role": "user", "content": "broken' + str(i).encode() + b"\n"
                )
                continue
            if roll < 0.015 and recent:
                out.write(rng.choice(recent))
                continue
            messages = [{"role": "system", "content": "You are a helpful gardening assistant."}]
            for _ in range(rng.randint(1, 3)):
                messages.append({"role": "user", "content": _sentence(rng, rng.randint(8, 25))})
                messages.append(
                    {
                        "role": "assistant",
                        "content": " ".join(
                            _sentence(rng, rng.randint(10, 20)) for _ in range(rng.randint(1, 4))
                        ),
                    }
                )
            line = orjson.dumps({"messages": messages}) + b"\n"
            out.write(line)
            recent = ([*recent, line])[-50:]
    return path.stat().st_size


def floor(path: Path) -> int:
    """The hand-written loop the build is compared with."""
    cctx = zstandard.ZstdCompressor(level=3)
    digest = hashlib.sha256()
    seen: set[str] = set()
    written = 0
    batch: list[bytes] = []
    with open(path, "rb") as src, open(path.with_suffix(".floor.zst"), "wb") as dst:

        def flush() -> None:
            data = cctx.compress(b"".join(batch))
            digest.update(data)
            dst.write(data)
            batch.clear()

        for line in src:
            try:
                raw = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            record = {
                "messages": [
                    {"role": m["role"], "content": [{"type": "text", "text": m["content"]}]}
                    for m in raw["messages"]
                ]
            }
            record_id = hashlib.sha256(
                orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
            ).hexdigest()[:32]
            if record_id in seen:
                continue
            seen.add(record_id)
            batch.append(orjson.dumps({"id": record_id, **record}) + b"\n")
            written += 1
            if len(batch) >= 4096:
                flush()
        flush()
    return written


def _config(folder: Path, sources: list[str], compression: str = "zstd") -> Path:
    level = {"zstd": 3, "gzip": 6}[compression]
    lines = [
        "dataset: {name: bench, description: throughput benchmark}",
        f"output: {{compression: {compression}, level: {level}, max_records_per_shard: 200000, "
        f"chunk_bytes: {CHUNK_BYTES}}}",
        "thresholds: {max_parse_failure_rate: 0.02, max_duplicate_id_rate: 0.05, max_invalid_rate: 0.01}",
        "sources:",
    ]
    for name in sources:
        lines.append(
            f"  - {{name: {name}, paths: [raw/{name}.jsonl], objective: sft, adapter: chat, split: {'train' if name == 'chats' else 'test'}}}"
        )
    path = folder / "pipeline.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Run(NamedTuple):
    wall: float  # seconds
    peak_mb: float  # peak RSS: the highest of the process and each of its workers
    cpu: float  # seconds, user + system, of the process and the workers it waited for


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[Run, str]:
    """Run a command to its end; its wall time, its own resource usage and its output."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=output, stderr=subprocess.STDOUT)
        # wait4: this process's own usage (its worker processes included), not the maximum
        # over every child this script ran.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode(errors="replace")
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} failed:\n{text}")
    return Run(wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime), text


def _run_build(
    folder: Path, partitions: list[str], workers: int | None, keep_home: bool = False
) -> Run:
    """A whole build from nothing: no package, work dir or quarantine, and a new Dagster
    instance (with `keep_home`, the instance of the previous build: its SQLite files exist)."""
    for sub in ("package", "work", "quarantine", "package-report"):
        shutil.rmtree(folder / sub, ignore_errors=True)
    env = dict(os.environ, DAGSTER_HOME=str(folder / "home"))
    if not (keep_home and (folder / "home").is_dir()):
        shutil.rmtree(folder / "home", ignore_errors=True)
        (folder / "home").mkdir()
        shutil.copyfile(ROOT / "dagster.yaml", folder / "home" / "dagster.yaml")
    cmd = [str(CLI), "build", "--config", str(folder / "pipeline.yaml")]
    if workers is not None:  # else the CLI's default: the number of cores
        cmd += ["--workers", str(workers)]
    for p in partitions:
        cmd += ["--partition", p]
    return _run(cmd, env)[0]


def _floor_in_child(path: Path) -> Run:
    """The floor in a fresh process; its wall time is the loop's, without the start-up."""
    code = (
        f"import sys, time; sys.path.insert(0, {str(Path(__file__).parent)!r}); import throughput as t; "
        f"from pathlib import Path; s = time.perf_counter(); t.floor(Path({str(path)!r})); "
        "print(time.perf_counter() - s)"
    )
    run, out = _run([sys.executable, "-c", code])
    return run._replace(wall=float(out))


def _fixed_cost(folder: Path, raw: Path, repeats: int) -> tuple[float, float]:
    """The same build on the input's first FIXED_RECORDS records, with a new Dagster instance
    and with the instance of the build before (the usual case: `.dagster_home/` exists);
    new and existing alternate."""
    small = folder / "fixed"
    head = small / "raw" / "chats.jsonl"
    if not head.exists():
        head.parent.mkdir(parents=True)
        with open(raw, "rb") as src, open(head, "wb") as dst:
            dst.writelines(itertools.islice(src, FIXED_RECORDS))
    _config(small, ["chats"])
    fresh: list[Run] = []
    kept: list[Run] = []
    for _ in range(repeats):
        fresh.append(_run_build(small, [], None))
        kept.append(_run_build(small, [], None, keep_home=True))
    mb = head.stat().st_size / 1e6
    return (
        _row(f"whole build, {FIXED_RECORDS:,}", fresh, FIXED_RECORDS, mb),
        _row("  same, instance kept", kept, FIXED_RECORDS, mb),
    )


def _row(name: str, runs: list[Run], records: int, mb: float) -> float:
    """Print the medians of `runs` (the highest peak RSS); return the median wall time."""
    wall = statistics.median(r.wall for r in runs)
    cpu = statistics.median(r.cpu for r in runs)
    print(
        f"{name:<22} {wall:8.2f} s {records / wall:11,.0f} rec/s {mb / wall:8.1f} MB/s"
        f"   peak RSS {max(r.peak_mb for r in runs):7.1f} MB   CPU {cpu:6.2f} s"
        f"   (runs: {', '.join(f'{r.wall:.2f}' for r in runs)})"
    )
    return wall


def _chunk_costs(folder: Path, records: int) -> None:
    """Per-chunk throughput and the merge's cost, in this process (core only, no Dagster):
    every chunk of sft|train run one after the other, then the merge (which finds them done)."""
    from jsonl_assets.core.build import build_partition, dirs_for
    from jsonl_assets.core.chunks.chunk_worker import ChunkTask, chunk_fingerprint, run_chunk
    from jsonl_assets.core.chunks.plan import plan_chunks
    from jsonl_assets.core.config import load_config
    from jsonl_assets.core.stages.record_stages import stage_fingerprints

    for sub in ("package", "work", "quarantine"):
        shutil.rmtree(folder / sub, ignore_errors=True)
    cfg = load_config(folder / "pipeline.yaml")
    dirs = dirs_for(cfg, "sft|train")
    started = time.perf_counter()
    plan = plan_chunks(cfg, dirs)
    planned = time.perf_counter() - started
    validated = stage_fingerprints(cfg, dirs)["validated"]
    seconds = []
    for chunk in plan.chunks:
        task = ChunkTask(dirs.key, chunk.index)
        report = run_chunk(cfg, dirs, plan, chunk_fingerprint(validated, plan, task), task)
        seconds.append(report["seconds"])
    started = time.perf_counter()
    build_partition(cfg, "sft|train", helper_thread=False)
    merged = time.perf_counter() - started
    total = sum(c.size for c in plan.chunks) / 1e6
    print(
        f"chunks: plan {planned:.2f} s ({total / planned:.0f} MB/s: hashing, newlines); "
        f"{len(seconds)} chunks of {CHUNK_BYTES >> 20} MiB, {statistics.median(seconds):.2f} s "
        f"each (median), {total / sum(seconds):.1f} MB/s and {records / sum(seconds):,.0f} "
        f"records/s per process; merge + shards {merged:.2f} s "
        f"({records / merged:,.0f} records/s, {merged / (sum(seconds) + merged):.0%} of the "
        "one-process work)"
    )


def _ratio(label: str, value: float, target: str) -> None:
    print(f"  {label:<58} {value:6.2f}  (target {target})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument(
        "--only", choices=["floor", "one", "whole", "fixed", "rss", "chunks"], action="append"
    )
    args = parser.parse_args()
    only = set(args.only or ["floor", "one", "whole", "fixed", "rss", "chunks"])
    folder = args.dir or Path(tempfile.mkdtemp(prefix="jsonl-bench-"))
    (folder / "raw").mkdir(parents=True, exist_ok=True)
    records = int(BASE_RECORDS * args.scale)
    raw = folder / "raw" / "chats.jsonl"
    if not raw.exists():
        generate(raw, records)
    mb = raw.stat().st_size / 1e6
    cores = os.cpu_count() or 1
    print(
        f"input: {records:,} records, {mb:.0f} MB ({raw}); chunks of {CHUNK_BYTES >> 20} MiB; "
        f"{cores} cores; {time.strftime('%Y-%m-%d')}"
    )
    _config(folder, ["chats"])
    runs: dict[str, list[Run]] = {}
    # Floor and build runs alternate, so both see the machine in the same state (on a shared
    # machine the same run can take 20% more or less from one minute to the next).
    for _ in range(args.repeats):
        if "floor" in only:
            runs.setdefault("floor", []).append(_floor_in_child(raw))
        if "one" in only:
            runs.setdefault("one-1", []).append(_run_build(folder, ["sft|train"], 1))
            runs.setdefault("one-2", []).append(_run_build(folder, ["sft|train"], 2))
        if "whole" in only or "rss" in only:
            runs.setdefault("whole", []).append(_run_build(folder, [], None))
    wall = {k: _row(k, v, records, mb) for k, v in runs.items()}
    cpu = {k: statistics.median(r.cpu for r in v) for k, v in runs.items()}
    if "fixed" in only:
        wall["fixed"], wall["fixed-kept"] = _fixed_cost(folder, raw, args.repeats)
    if "chunks" in only:
        _chunk_costs(folder, records)
    if "rss" in only:
        big = folder / "x4"
        (big / "raw").mkdir(parents=True, exist_ok=True)
        if not (big / "raw" / "chats.jsonl").exists():
            generate(big / "raw" / "chats.jsonl", 4 * records, seed=9)
        _config(big, ["chats"])
        x4 = [_run_build(big, [], None)]
        _row("whole, 4x input", x4, 4 * records, 4 * mb)
        shutil.rmtree(big, ignore_errors=True)
    print("targets:")
    if "one-1" in wall:
        _ratio(
            "1. one partition, --workers 2 / --workers 1 (wall)",
            wall["one-2"] / wall["one-1"],
            "<= 0.6",
        )
    if "floor" in wall and "whole" in wall:
        _ratio(
            f"2. whole build (--workers {cores}) / floor (wall)",
            wall["whole"] / wall["floor"],
            "<= 1.5",
        )
        _ratio("3. whole build / floor (CPU seconds)", cpu["whole"] / cpu["floor"], "<= 2.5")
    if "floor" in wall and "fixed" in wall:
        _ratio(
            f"4. whole build of {FIXED_RECORDS:,} records / floor (wall)",
            wall["fixed"] / wall["floor"],
            "<= 0.3",
        )
        _ratio(
            "   the same with the Dagster instance of the build before",
            wall["fixed-kept"] / wall["floor"],
            "<= 0.3",
        )
    if "rss" in only:
        one_x = max(r.peak_mb for r in runs["whole"])
        _ratio(
            f"5. peak RSS per process, 4x / 1x input ({x4[0].peak_mb:.0f} / {one_x:.0f} MB)",
            x4[0].peak_mb / one_x,
            "<= 1.30",
        )
    if args.dir is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
