"""Every OSError of the work dir that reaches the user names its file, or says which limit it
ran into: the partition lock's pid written under a full disk, a file polars writes, worker
processes that cannot start under `ulimit -n`. Each runs in a child process under a resource
limit (`ulimit -f` gives EFBIG where a full disk gives ENOSPC: the same unnamed OSError)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import os, resource, sys
from pathlib import Path
import polars as pl
from jsonl_assets.core import build_workers as bw
from jsonl_assets.core.polars_paths import polars_output
from jsonl_assets.core.store.partition_lock import partition_lock

work = Path(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    with partition_lock(work / "sft" / "train", "sft|train"):
        pass
except OSError as exc:
    print(exc)
try:
    with polars_output(work / "ids.arrow") as target:
        pl.DataFrame({"a": list(range(1000))}).write_ipc(target)
except OSError as exc:
    print(exc)
held = len(os.listdir("/proc/self/fd"))
resource.setrlimit(resource.RLIMIT_NOFILE, (held, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
try:
    bw.submit(bw.worker_pool(1, polars=False), sum, [1])
except OSError as exc:
    print(exc)
"""


def test_io_errors_of_the_work_dir_name_the_file_or_the_limit(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lock, ids, pool = done.stdout.splitlines()
    assert lock.startswith(f"[Errno 27] cannot write {tmp_path}/sft/train/.lock: "), lock
    assert ids.startswith(f"cannot write {tmp_path}/ids.arrow: "), ids
    assert pool.startswith("[Errno 24] cannot start a worker process: Too many open files"), pool
    assert pool.endswith("open files: raise `ulimit -n`)"), pool


def test_an_unreachable_object_store_is_one_line_naming_the_request(tmp_path: Path) -> None:
    # The conftest points every object-store client at a closed loopback port. botocore's
    # EndpointConnectionError is no OSError: `report` and `verify` printed its traceback.
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        "dataset: {name: t, description: d, dataset_id: t-v1, license: CC0-1.0}\n"
        "output: {dir: 's3://nowhere/pkg', work_dir: work, quarantine_dir: 's3://nowhere/q'}\n"
        "sources:\n"
        "  - {name: a, paths: [raw/a.jsonl], objective: sft, adapter: native, split: train,"
        " license: CC0-1.0}\n"
    )
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.jsonl").write_text('{"text": "x"}\n')
    cli = [sys.executable, "-m", "jsonl_assets.cli"]
    for args in (["report", "--config", str(config)], ["verify", "s3://nowhere/pkg"]):
        run = subprocess.run(
            [*cli, *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "AWS_MAX_ATTEMPTS": "1"},
            timeout=120,
        )
        out = run.stdout + run.stderr
        assert run.returncode == 1, out
        assert "Traceback" not in out, out
        assert "EndpointConnectionError: Could not connect to the endpoint URL" in out, out
