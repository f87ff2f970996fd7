"""Peak memory and time of the data report's statistics pass over packages of growing size.

Writes synthetic packages (metadata.json + zstd shards of 50k sft records in frames of 1k,
with prompts and responses of varied length, from three sources) of each --records size, then computes the
report's statistics (`compute_report`, no charts) in a fresh subprocess per package and
prints records, seconds, records/s and peak RSS. Flat RSS across sizes = streaming.

    .venv/bin/python bench/report_memory.py                        # 20k, 200k, 1M records
    .venv/bin/python bench/report_memory.py --records 10000 100000 --dir bench/out
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import zstandard

REPO = Path(__file__).resolve().parents[1]
PER_SHARD = 50_000
FRAME = 1_000
WORDS = [f"w{k:x}" * (1 + k % 4) for k in range(16)]  # words of 2 to 12 characters


def _text(n: int, i: int) -> str:
    return " ".join(WORDS[(i + k) % len(WORDS)] for k in range(n))


def _record(i: int) -> bytes:
    message = lambda role, n: {"role": role, "content": [{"type": "text", "text": _text(n, i)}]}  # noqa: E731
    record = {
        "id": f"r{i}",
        "messages": [message("user", 5 + i % 40), message("assistant", 10 + (i * 7) % 300)],
        "metadata": {"trace": {"source": f"source_{i % 3}", "file": "x.jsonl", "line": i + 1}},
    }
    return orjson.dumps(record)


def make_package(folder: Path, records: int) -> None:
    if (folder / "metadata.json").exists():
        return
    (folder / "data").mkdir(parents=True)
    shards = []
    compressor = zstandard.ZstdCompressor(level=1)
    for n, start in enumerate(range(0, records, PER_SHARD)):
        stop = min(records, start + PER_SHARD)
        path = f"data/sft-train-{n:05d}.jsonl.zst"
        with open(folder / path, "wb") as out:  # one zstd frame a batch, as the shards have
            for batch in range(start, stop, FRAME):
                end = min(stop, batch + FRAME)
                out.write(
                    compressor.compress(b"".join(_record(i) + b"\n" for i in range(batch, end)))
                )
        shards.append({"path": path, "compression": "zstd", "record_count": stop - start})
    manifest = {"files": [{"split": "train", "objective": "sft", "shards": shards}]}
    (folder / "metadata.json").write_bytes(orjson.dumps(manifest))


CHILD = """
import json, resource, sys, time
from pathlib import Path
from jsonl_assets.core.report.report_data import compute_report
t = time.perf_counter()
data = compute_report(Path(sys.argv[1]))
seconds = time.perf_counter() - t
print(json.dumps({"records": data["totals"]["records"], "seconds": seconds,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=[20_000, 200_000, 1_000_000])
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        root = args.dir or Path(tmp)
        print(f"{'records':>10} {'seconds':>8} {'records/s':>10} {'peak RSS MB':>12}")
        for n in args.records:
            folder = root / f"report-package-{n}"
            make_package(folder, n)
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(folder)],
                capture_output=True, text=True, check=True, cwd=REPO,
            )  # fmt: skip
            r = json.loads(out.stdout)
            print(
                f"{r['records']:>10,} {r['seconds']:>8.2f} {r['records'] / r['seconds']:>10,.0f} "
                f"{r['rss_mb']:>12.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
