"""Cost of a build over many small source objects, against the same files on local disk.

Starts moto's S3 server on 127.0.0.1 (in this process, as the tests do), uploads --objects
JSONL objects of --records records each, and runs `jsonl-assets build` of their one
partition twice (the first build, then a rebuild with nothing changed), with the package and
quarantine in the bucket. The baseline is the same files on local disk, built the same way in
the same run. Prints each build's wall time and the requests the server got per object, by
method (moto's recorder). Nothing is asserted; the server shares the machine.

    .venv/bin/python bench/many_objects.py                  # 500 objects of 5 records
    .venv/bin/python bench/many_objects.py --objects 2000
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jsonl_assets_tests.moto_server import aws_env, recorded_requests, start_server  # noqa: E402

BUCKET = "many"


def _body(n: int, records: int) -> bytes:
    rows = (
        {"instruction": f"q {n} {i}", "input": "", "output": f"a {n} {i}"} for i in range(records)
    )
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def _config(root: Path, sources: str, package: str, quarantine: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "pipeline.yaml"
    path.write_text(
        "dataset: {name: many, description: many small objects}\n"
        f'output: {{dir: "{package}", work_dir: work, quarantine_dir: "{quarantine}"}}\n'
        "sources:\n"
        f'  - {{name: a, paths: ["{sources}"], objective: sft, adapter: alpaca, split: train}}\n'
    )
    return path


def _build(config: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "jsonl_assets.cli", "build", "--config", str(config)],
        env={**os.environ, **env, "DAGSTER_HOME": str(config.parent / "home")},
        cwd=config.parent,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return time.perf_counter() - start


def _per_object(requests: list[tuple[str, str]], objects: int) -> str:
    methods = collections.Counter(m for m, path in requests if path.startswith(f"/{BUCKET}/raw/"))
    return ", ".join(f"{methods[m] / objects:.1f} {m}" for m in sorted(methods)) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=500)
    parser.add_argument("--records", type=int, default=5)
    args = parser.parse_args()
    server, endpoint = start_server()
    env = aws_env(endpoint)
    os.environ.update(env)
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    with tempfile.TemporaryDirectory(prefix="many-objects-") as tmp:
        root = Path(tmp)
        (root / "local" / "raw").mkdir(parents=True)
        for n in range(args.objects):
            body = _body(n, args.records)
            s3.put_object(Bucket=BUCKET, Key=f"raw/part{n:05d}.jsonl", Body=body)
            (root / "local" / "raw" / f"part{n:05d}.jsonl").write_bytes(body)
        local = _config(root / "local", "raw/*.jsonl", "package", "quarantine")
        remote = _config(
            root / "s3",
            f"s3://{BUCKET}/raw/*.jsonl",
            f"s3://{BUCKET}/package",
            f"s3://{BUCKET}/quarantine",
        )
        print(f"{args.objects} objects of {args.records} records")
        print(f"{'build':<28} {'seconds':>8}  requests per object")
        for name in ("first", "no change"):
            print(f"{'local files, ' + name:<28} {_build(local, env):>8.1f}  -")
        for name in ("first", "no change"):
            with recorded_requests(endpoint) as requests:
                seconds = _build(remote, env)
            print(
                f"{'S3 objects, ' + name:<28} {seconds:>8.1f}  {_per_object(requests, args.objects)}"
            )
    server.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
