"""A chunk sent to a worker process (chunk_orders.py) costs O(1) in the partition's chunks
and files: the worker loads the recorded plan and config, once per process."""

from __future__ import annotations

import pickle
from pathlib import Path

import orjson

from jsonl_assets.core.build import dirs_for
from jsonl_assets.core.chunks.chunk_orders import order_for, record_config, run_order
from jsonl_assets.core.chunks.chunk_worker import ChunkTask, chunk_fingerprint, run_chunk
from jsonl_assets.core.chunks.plan import plan_chunks
from jsonl_assets.core.chunks.runners import process_runner
from jsonl_assets.core.config import load_config

from ...conftest import write_config

KEY = "cpt|train"


def _project(tmp_path: Path, files: int) -> Path:
    """`files` plain JSONL files of ~3 KB, one chunk each (chunk_bytes 4096)."""
    raw = tmp_path / "raw"
    raw.mkdir(parents=True)
    for i in range(files):
        note = {"messages": [{"role": "document", "content": f"note {i} " + "x" * 2900}]}
        (raw / f"{i:05d}.jsonl").write_bytes(orjson.dumps(note) + b"\n")
    doc = {
        "dataset": {"name": "orders", "description": "many chunks"},
        "output": {
            "dir": "package",
            "work_dir": "work",
            "quarantine_dir": "quarantine",
            "chunk_bytes": 4096,
        },
        "sources": [
            {
                "name": "notes",
                "paths": ["raw/*.jsonl"],
                "objective": "cpt",
                "adapter": "native",
                "split": "train",
            }
        ],
    }
    return write_config(tmp_path / "pipeline.yaml", doc)


def _sent_bytes(tmp_path: Path, files: int) -> int:
    """The pickled size of what a process runner submits for the partition's first chunk."""
    cfg = load_config(_project(tmp_path, files))
    dirs = dirs_for(cfg, KEY)
    plan = plan_chunks(cfg, dirs)
    assert len(plan.chunks) == files
    task = ChunkTask(KEY, 0)
    record_config(cfg, dirs)
    order = order_for(cfg, dirs, plan, chunk_fingerprint("0" * 64, plan, task), task)
    return len(pickle.dumps(order))


def test_a_chunk_order_does_not_grow_with_chunks_and_files(tmp_path: Path) -> None:
    few, many = _sent_bytes(tmp_path / "few", 20), _sent_bytes(tmp_path / "many", 200)
    assert many - few < 64, (few, many)  # only the paths' lengths differ
    assert many < 2000


def test_an_order_runs_the_chunk_as_run_chunk_does(tmp_path: Path) -> None:
    config = _project(tmp_path / "a", 6)
    cfg = load_config(config)
    dirs = dirs_for(cfg, KEY)
    plan = plan_chunks(cfg, dirs)
    task = ChunkTask(KEY, 2)
    fp = chunk_fingerprint("0" * 64, plan, task)
    record_config(cfg, dirs)
    order = order_for(cfg, dirs, plan, fp, task)
    config.write_text("not: [a config")  # edited during the build: the recorded one runs
    done = run_order(pickle.loads(pickle.dumps(order)))
    assert done.ran and done.accepted == 1
    again = run_chunk(cfg, dirs, plan, fp, task)
    assert not again["ran"] and again["lines"] == done.lines


def test_a_pool_builds_from_orders(tmp_path: Path) -> None:
    cfg = load_config(_project(tmp_path, 5))
    dirs = dirs_for(cfg, KEY)
    plan = plan_chunks(cfg, dirs)
    tasks = [ChunkTask(KEY, c.index) for c in plan.chunks]
    done = process_runner(2)(cfg, dirs, plan, "0" * 64, tasks)
    assert [d.index for d in done] == [0, 1, 2, 3, 4]
    assert all(d.ran and d.accepted == 1 for d in done)
