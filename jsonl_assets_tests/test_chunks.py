"""Chunked builds (core/chunks): the plan's cuts, and the package's bytes whatever the number of
chunks and of worker processes, against the golden sample and against one chunk; a build
killed at several points and run again redoes no finished chunk.

The chunk sizes are picked against the sample's largest file (sft, 121,149 bytes): one chunk,
three and eight (the plan's counts are asserted, so a changed sample fails loudly here).
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from jsonl_assets.core.build import build_partition, dirs_for, publish
from jsonl_assets.core.chunks import progress
from jsonl_assets.core.chunks.chunk_worker import ChunkTask, chunk_fingerprint, run_chunk
from jsonl_assets.core.chunks.plan import plan_chunks
from jsonl_assets.core.chunks.runners import process_runner
from jsonl_assets.core.config import load_config
from jsonl_assets.core.fault_points import ENV_VAR
from jsonl_assets.core.readers import SourceChangedError
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS

from .conftest import SAMPLE_DATA, published_quarantine, write_config
from .test_golden_package import GOLDEN, _digests

REPO = Path(__file__).resolve().parents[1]
# output.chunk_bytes -> chunks of sft|train (the sample's support_chats.jsonl)
CHUNKINGS = {256 << 20: 1, 40384: 3, 15144: 8}


def sample_with_chunks(tmp: Path, chunk_bytes: int) -> Path:
    """The sample project in `tmp`, its output cut into chunks of `chunk_bytes`."""
    data = tmp / "data"
    shutil.copytree(SAMPLE_DATA / "raw", data / "raw")
    doc = yaml.safe_load((SAMPLE_DATA / "pipeline.yaml").read_text(encoding="utf-8"))
    doc["output"]["chunk_bytes"] = chunk_bytes
    return write_config(data / "pipeline.yaml", doc)


def _note(text: str) -> bytes:
    return orjson.dumps({"messages": [{"role": "document", "content": text}]})


def build_all(config: Path, workers: int) -> Path:
    """Every partition on `workers` processes, then the publication; returns the data dir."""
    cfg = load_config(config)
    for objective in OBJECTIVES:
        for split in SPLITS:
            build_partition(cfg, f"{objective}|{split}", runner=process_runner(workers))
    assert publish(cfg).manifest is not None
    return config.parent


def _notes_project(tmp_path: Path) -> Path:
    """A plain JSONL file of 400 notes (cut into 8 ranges of 4096 bytes) and its gzip copy."""
    lines = [_note(f"note {i} " + "x" * (i % 50)) + b"\n" for i in range(400)]
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.jsonl").write_bytes(b"".join(lines))
    with gzip.open(tmp_path / "raw" / "b.jsonl.gz", "wb") as handle:
        handle.write(b"".join(lines))
    return write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "chunk plan"},
            "output": {"chunk_bytes": 4096},
            "sources": [
                {
                    "name": "notes",
                    "paths": ["raw/*"],
                    "objective": "cpt",
                    "adapter": "native",
                    "split": "train",
                }
            ],
        },
    )


def test_the_plan_cuts_plain_jsonl_at_newlines_and_counts_the_lines_before(
    tmp_path: Path,
) -> None:
    cfg = load_config(_notes_project(tmp_path))
    plan = plan_chunks(cfg, dirs_for(cfg, "cpt|train"))
    data = (tmp_path / "raw" / "a.jsonl").read_bytes()
    ranges = [c for c in plan.chunks if c.start is not None]
    starts = [0]  # each cut: just after the first newline that makes a chunk >= 4096 bytes
    while (cut := data.find(b"\n", starts[-1] + 4095) + 1) and cut < len(data):
        starts.append(cut)
    assert [c.start for c in ranges] == starts and len(starts) == 8
    assert plan.chunks[-1].start is None and len(plan.chunks) == 9  # gzip: whole
    assert [c.index for c in plan.chunks] == list(range(len(plan.chunks)))
    assert ranges[0].start == 0 and ranges[-1].end == len(data)
    for before, after in itertools.pairwise(ranges):
        assert before.end == after.start and data[after.start - 1 : after.start] == b"\n"
        assert after.first_line == data.count(b"\n", 0, after.start)
        assert before.size >= 4096
    assert plan_chunks(cfg, dirs_for(cfg, "cpt|train")) == plan  # recorded, and reused


def test_a_range_is_read_only_from_the_version_of_the_file_it_was_cut_from(
    tmp_path: Path,
) -> None:
    cfg = load_config(_notes_project(tmp_path))
    dirs = dirs_for(cfg, "cpt|train")
    plan = plan_chunks(cfg, dirs)
    path = tmp_path / "raw" / "a.jsonl"
    before = os.stat(path)
    data = path.read_bytes()
    with open(path, "r+b") as fh:  # the same size, lines of other lengths: the cuts are off
        fh.write(data[2000:] + data[:2000])
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    task = ChunkTask("cpt|train", 1)
    with pytest.raises(SourceChangedError, match=r"a\.jsonl changed since the partition"):
        run_chunk(cfg, dirs, plan, chunk_fingerprint("v", plan, task), task)


@pytest.mark.parametrize(
    ("chunk_bytes", "workers"),
    [(256 << 20, 1), (40384, 1), (15144, 1), (15144, 2), (15144, 3)],
    ids=["1-chunk-1-worker", "3-chunks-1-worker", "8-chunks-1-worker", "8-2", "8-3"],
)
def test_the_package_is_golden_for_any_chunks_and_workers(
    tmp_path: Path, chunk_bytes: int, workers: int
) -> None:
    config = sample_with_chunks(tmp_path, chunk_bytes)
    cfg = load_config(config)
    assert len(plan_chunks(cfg, dirs_for(cfg, "sft|train")).chunks) == CHUNKINGS[chunk_bytes]
    assert _digests(build_all(config, workers)) == GOLDEN.read_text()


def _duplicates_project(tmp: Path, chunk_bytes: int) -> tuple[Path, list[int]]:
    """One file whose duplicate ids and bad lines fall in different chunks; the config and
    the bad lines' numbers."""
    rows: list[bytes] = []
    bad: list[int] = []
    for i in range(600):
        n = i % 250  # ids repeat 250 and 500 lines later: in later chunks
        rows.append(_note(f"note {n}: " + "words " * (n % 17 + 1)))
        if i % 97 == 5:
            rows.append(b"{not json")
            bad.append(len(rows))
        if i % 131 == 7:
            rows.append(b"")  # a blank line: counted, yields nothing
    raw = tmp / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "notes.jsonl").write_bytes(b"\n".join(rows) + b"\n")
    config = write_config(
        tmp / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "duplicates across chunks"},
            "output": {"chunk_bytes": chunk_bytes, "max_records_per_shard": 50},
            "thresholds": {"max_duplicate_id_rate": 1.0, "max_parse_failure_rate": 1.0},
            "sources": [
                {
                    "name": "notes",
                    "paths": ["raw/*.jsonl"],
                    "objective": "cpt",
                    "adapter": "native",
                    "split": "train",
                }
            ],
        },
    )
    return config, bad


def test_duplicates_and_rejects_across_chunks_are_the_one_chunk_bytes(tmp_path: Path) -> None:
    built = []
    for name, chunk_bytes, workers in (("one", 1 << 20, 1), ("many", 4096, 2)):
        config, bad = _duplicates_project(tmp_path / name, chunk_bytes)
        cfg = load_config(config)
        chunks = len(plan_chunks(cfg, dirs_for(cfg, "cpt|train")).chunks)
        assert chunks == (1 if name == "one" else 16), chunks
        result = build_partition(cfg, "cpt|train", runner=process_runner(workers))
        assert result.shards is not None and result.stages[2].details.duplicates == 350
        publish(cfg)
        package, quarantine = config.parent / "package", config.parent / "quarantine"
        built.append(
            {
                **{
                    p.relative_to(config.parent).as_posix(): p.read_bytes()
                    for p in sorted(package.rglob("*"))
                    if p.is_file()
                },
                **{
                    f"quarantine/{logical}": p.read_bytes()
                    for logical, p in published_quarantine(package, quarantine).items()
                },
            }
        )
    assert built[0] == built[1]
    rejects = built[1]["quarantine/cpt/train/extracted.jsonl"].splitlines()
    assert [orjson.loads(r)["trace"]["line"] for r in rejects] == bad  # file-wide numbers


# --- kill -9 at several points of a multi-chunk build, then resume --------------------------

KILL_POINTS = ("chunk.batch:3", "marker:chunk:6", "marker:staged", "shard.frame:2")


def _chunk_markers(config: Path) -> int:
    """The finished chunks: those whose folder is in place (a chunk is written into a hidden
    `.….partial` folder, its marker last, then renamed: a kill before the rename leaves its
    marker in the hidden folder, an unfinished chunk)."""
    work = config.parent / "work" / "sft" / "train" / "chunks"
    return sum(not p.parent.name.startswith(".") for p in work.glob("*/chunk.json"))


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_killed_chunked_build_resumes_without_redoing_finished_chunks(
    tmp_path: Path, point: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = sample_with_chunks(tmp_path, 15144)  # 8 chunks in sft|train
    code = (
        "import sys; from jsonl_assets.core.build import build_partition; "
        "from jsonl_assets.core.config import load_config; "
        "build_partition(load_config(sys.argv[1]), 'sft|train')"
    )
    env = {**os.environ, ENV_VAR: point}
    killed = subprocess.run(
        [sys.executable, "-c", code, str(config)], env=env, cwd=REPO, check=False
    )
    assert killed.returncode == -9, point
    finished = _chunk_markers(config)
    seen: list[dict[str, Any]] = []

    def listener(_: str, figures: dict[str, Any]) -> None:
        seen.append(figures)

    progress.listen(listener)
    try:
        _ = build_all(config, 1)
    finally:
        progress.unlisten(listener)
    assert _digests(config.parent) == GOLDEN.read_text()
    sft = [f for f in seen if f["partition"] == "sft|train"]
    reused = sft[-1]["chunks_reused"]
    with capsys.disabled():
        print(
            f"\n  killed at {point}: {finished} of 8 chunks finished before the kill; "
            f"the rerun reused {reused} and ran {8 - reused}"
        )
    assert reused == finished and sft[-1]["chunks_done"] == 8


# --- polars' thread pool does not survive a fork ----------------------------------------------


def _parquet_project(tmp: Path) -> Path:
    """Four Parquet files (a chunk each) feeding sft's three splits."""
    import polars as pl

    raw = tmp / "raw"
    raw.mkdir(parents=True)
    for n in range(4):
        rows = [
            {"instruction": f"q{n}-{i}: what is {i}?", "input": "", "output": f"{i} " * 5}
            for i in range(1500)
        ]
        pl.DataFrame(rows).write_parquet(raw / f"part{n}.parquet")
    return write_config(
        tmp / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "parquet chunks"},
            "output": {"chunk_bytes": 4096},  # each file larger: a chunk each
            "splits": {"validation": 0.2, "test": 0.2},
            "sources": [
                {
                    "name": "alpaca",
                    "paths": ["raw/*.parquet"],
                    "objective": "sft",
                    "adapter": "alpaca",
                    "split": "auto",
                }
            ],
        },
    )


def test_parquet_chunks_run_on_workers_of_a_process_where_polars_ran(tmp_path: Path) -> None:
    """`build --workers 2`: two partition workers, three partitions of four Parquet chunks, so
    one worker forks chunk workers after its first merge ran polars. A forked child's polars
    call would wait forever for the parent's pool threads; those workers are spawned."""
    config = _parquet_project(tmp_path / "two")
    cli = [str(REPO / ".venv" / "bin" / "jsonl-assets"), "build", "--config", str(config)]
    done = subprocess.run([*cli, "--workers", "2"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    for split in SPLITS:
        assert f"sft|{split}: chunk 4/4" in done.stdout
    shutil.copytree(
        tmp_path / "two",
        tmp_path / "one",
        ignore=shutil.ignore_patterns("package", "work", "quarantine"),
    )
    one = tmp_path / "one" / "pipeline.yaml"
    cli[-1] = str(one)
    done = subprocess.run([*cli, "--workers", "1"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _digests(tmp_path / "two") == _digests(tmp_path / "one")


# --- many small files: packed into a few chunks ------------------------------------------------


def _small_files_project(root: Path, chunk_bytes: int) -> Path:
    """Sixty small files (each over 4096 bytes) in three formats and two sources (gzip JSONL,
    CSV, JSON arrays), with bad inputs and ids repeated across files."""

    def text(n: int) -> str:
        return f"note {n}: " + hashlib.sha256(b"%d" % n).hexdigest() * 3

    raw = root / "raw"
    raw.mkdir(parents=True)
    for f in range(20):
        rows = [_note(text((f * 7 + i) % 90)) for i in range(60)]
        if f % 6 == 1:
            rows.insert(3, b"{not json")
        (raw / f"a{f:02d}.jsonl.gz").write_bytes(gzip.compress(b"\n".join(rows) + b"\n", mtime=0))
        csv_rows = "".join(f'"{text((f * 5 + i) % 70)}, in csv",x{i}\n' for i in range(30))
        (raw / f"b{f:02d}.csv").write_text(
            "text,extra\n" + csv_rows + ('"open\n' if f == 4 else "")
        )
        items = [{"text": text(1000 + (f * 3 + i) % 50)} for i in range(30)]
        body = orjson.dumps(items)
        if f % 7 == 2:
            body = body.replace(b'{"text"', b'{"text": NaN, "t"', 1)
        (raw / f"c{f:02d}.json").write_bytes(body)
    return write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "many small files"},
            "output": {"chunk_bytes": chunk_bytes, "max_records_per_shard": 64},
            "thresholds": {"max_duplicate_id_rate": 1.0, "max_parse_failure_rate": 1.0},
            "sources": [
                {
                    "name": "notes",
                    "paths": ["raw/a*.jsonl.gz"],
                    "objective": "cpt",
                    "adapter": "native",
                    "split": "train",
                },
                {
                    "name": "texts",
                    "paths": ["raw/b*.csv", "raw/c*.json"],
                    "objective": "cpt",
                    "adapter": "text",
                    "split": "train",
                    "metadata_fields": ["extra"],
                },
            ],
        },
    )


def test_many_small_files_are_packed_into_few_chunks_with_the_same_bytes(tmp_path: Path) -> None:
    built = []
    for name, chunk_bytes, workers, chunks in (
        ("one-each", 4096, 1, 60),  # every file is larger than 4096 bytes
        ("packed", 40_000, 2, None),
        ("all-in-one", 256 << 20, 1, 1),
    ):
        config = _small_files_project(tmp_path / name, chunk_bytes)
        cfg = load_config(config)
        plan = plan_chunks(cfg, dirs_for(cfg, "cpt|train"))
        assert sum(c.files for c in plan.chunks) == 60
        if chunks is not None:
            assert len(plan.chunks) == chunks, [c.files for c in plan.chunks]
        else:
            assert 3 <= len(plan.chunks) <= 20, [c.files for c in plan.chunks]
        result = build_partition(cfg, "cpt|train", runner=process_runner(workers))
        assert result.shards is not None
        publish(cfg)
        built.append(_digests(config.parent))
    assert built[0] == built[1] == built[2]
    q = (tmp_path / "packed" / "quarantine").rglob("*.jsonl")
    reasons = Counter(
        orjson.loads(line)["reason"] for p in q for line in p.read_bytes().splitlines()
    )
    assert reasons["duplicate_id"] > 0 and reasons["parse_error"] == 7
    assert reasons["csv_unclosed_quote"] == 1
