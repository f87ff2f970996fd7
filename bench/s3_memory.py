"""Peak memory of a build that streams a large source from S3 into a package on S3.

Starts a moto S3 server on 127.0.0.1 (port 0) in a child process, uploads a generated JSONL
source of at least --size-gb GB to it (streamed, multipart, 128 MB objects), then builds its one partition
(`cpt|train`) into `s3://bench/pkg` in a fresh subprocess through the core build path, and
prints records, seconds, MB/s and the build process's peak RSS (ru_maxrss). Nothing is
asserted; the figure is indicative (the server shares the machine).

    .venv/bin/python bench/s3_memory.py                # 1 GB
    .venv/bin/python bench/s3_memory.py --size-gb 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUCKET = "bench"
OBJECT_BYTES = 128_000_000
SERVER = r"""
import sys, time
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # until the parent closes our stdin
server.stop()
"""
BUILD = r"""
import resource, sys, time
from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
cfg = load_config(sys.argv[1])
start = time.perf_counter()
result = build_partition(cfg, "cpt|train")
published = publish(cfg)
assert published.manifest is not None and published.manifest.published, published.problems
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(result.shards.records_out, round(seconds, 1), round(peak))
"""


def upload_source(size_gb: float) -> int:
    """A JSONL source of text records, streamed into the bucket as multipart uploads of
    OBJECT_BYTES each (moto checksums a whole upload at completion, in Python: one 1 GB
    object takes it longer than the client's read timeout)."""
    import orjson

    from jsonl_assets.core.store.base import store_for

    store = store_for(f"s3://{BUCKET}")
    store.call("create_bucket", Bucket=BUCKET)  # type: ignore[attr-defined]
    target, written, i, objects = int(size_gb * 1_000_000_000), 0, 0, 0
    words = b"gardens rivers engines proofs small curious robots quietly jumbled texts ".split()
    while written < target:
        out = store.open_atomic(f"s3://{BUCKET}/raw/notes-{objects:04d}.jsonl")
        objects += 1
        in_object = 0
        while in_object < OBJECT_BYTES and written < target:
            lines = []
            for _ in range(1000):
                text = b" ".join(words[(i * 7 + k) % len(words)] for k in range(120)) + b" %d" % i
                lines.append(orjson.dumps({"id": f"n{i}", "text": text.decode()}) + b"\n")
                i += 1
            block = b"".join(lines)
            out.write(block)
            written += len(block)
            in_object += len(block)
        out.commit()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-gb", type=float, default=1.0)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        os.environ.update(env)
        started = time.perf_counter()
        size = upload_source(args.size_gb)
        print(f"uploaded {size / 1e9:.2f} GB in {time.perf_counter() - started:.0f} s")
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "pipeline.yaml"
            config.write_text(
                "dataset: {name: s3-bench, description: a large source on S3}\n"
                f"output: {{dir: 's3://{BUCKET}/pkg', work_dir: work, "
                f"quarantine_dir: 's3://{BUCKET}/quarantine'}}\n"
                "sources:\n"
                f"  - {{name: notes, paths: ['s3://{BUCKET}/raw/notes-*.jsonl'], objective: cpt,"
                " adapter: text, split: train, id_field: id}\n"
            )
            done = subprocess.run(
                [sys.executable, "-c", BUILD, str(config)],
                env={**os.environ, "PYTHONPATH": str(REPO)},
                capture_output=True,
                text=True,
                cwd=tmp,
            )
        if done.returncode != 0:
            sys.exit(f"build failed:\n{done.stderr[-4000:]}")
        records, seconds, peak = done.stdout.split()[-3:]
        print(
            f"built {records} records from {size / 1e9:.2f} GB in {seconds} s "
            f"({size / 1e6 / float(seconds):.0f} MB/s); peak RSS of the build: {peak} MB"
        )
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
