"""What a partition keeps of a finished chunk until its merge (`ChunkDone`) is the same size
whatever the chunk holds; the merge reads the whole report again from the chunk's marker."""

from __future__ import annotations

import pickle
from pathlib import Path

import orjson
import pytest

from jsonl_assets.core.build import dirs_for
from jsonl_assets.core.chunks.chunk_worker import MARKER, ChunkDone, ChunkTask, report_of
from jsonl_assets.core.chunks.plan import plan_chunks
from jsonl_assets.core.chunks.runners import run_in_process
from jsonl_assets.core.config import load_config

from ...conftest import write_config

KEY = "cpt|train"


def _one_chunk(tmp_path: Path, files: int) -> ChunkDone:
    """Run the one chunk of a partition of `files` small files, each in a source of its own
    name and its own licence (so the chunk's report holds a file entry and counters each)."""
    raw = tmp_path / "raw"
    raw.mkdir(parents=True)
    sources = []
    for i in range(files):
        note = {"messages": [{"role": "document", "content": f"note {i}"}]}
        (raw / f"{i:05d}.jsonl").write_bytes(orjson.dumps(note) + b"\n")
        sources.append(
            {
                "name": f"notes{i:05d}",
                "paths": [f"raw/{i:05d}.jsonl"],
                "objective": "cpt",
                "adapter": "native",
                "split": "train",
                "license": f"licence-{i}",
            }
        )
    doc = {
        "dataset": {"name": "done", "description": "one chunk"},
        "output": {"dir": "package", "work_dir": "work", "quarantine_dir": "quarantine"},
        "sources": sources,
    }
    cfg = load_config(write_config(tmp_path / "pipeline.yaml", doc))
    dirs = dirs_for(cfg, KEY)
    plan = plan_chunks(cfg, dirs)
    assert len(plan.chunks) == 1
    [done] = run_in_process(cfg, dirs, plan, "0" * 64, [ChunkTask(KEY, 0)])
    return done


def test_what_a_partition_keeps_of_a_chunk_does_not_grow_with_its_files(tmp_path: Path) -> None:
    one = _one_chunk(tmp_path / "one", 1)
    many = _one_chunk(tmp_path / "many", 300)
    assert (one.files, many.files) == (1, 300)
    assert many.lines == 300 and many.accepted == 300
    kept_one, kept_many = len(pickle.dumps(one)), len(pickle.dumps(many))
    report_one, report_many = len(pickle.dumps(report_of(one))), len(pickle.dumps(report_of(many)))
    # The report grows with the files (entries, counters by source); what is kept does not.
    assert report_many - report_one > 300 * 100
    assert abs(kept_many - kept_one) < 32, (kept_one, kept_many)


def test_a_chunk_whose_marker_is_gone_is_named(tmp_path: Path) -> None:
    done = _one_chunk(tmp_path, 2)
    (done.path / MARKER).unlink()
    with pytest.raises(FileNotFoundError, match="marker is gone"):
        report_of(done)
