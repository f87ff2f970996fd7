"""Peak memory of the streaming readers on large inputs.

Generates a JSON array file of at least --size-gb GB and a multi-row-group Parquet file of
--rows rows, then streams each through `jsonl_assets.core.readers.read_source` in a fresh
subprocess and prints records, seconds, MB/s and peak RSS (ru_maxrss) per file.

    .venv/bin/python bench/read_memory.py                 # 1 GB array, 6M-row Parquet, temp dir
    .venv/bin/python bench/read_memory.py --dir bench/out --size-gb 2 --rows 10000000

Files already present in --dir with the expected name are reused.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "seven",
    "wizards",
    "quietly",
    "box",
    "jumbled",
    "texts",
    "about",
    "gardens",
    "rivers",
    "engines",
    "proofs",
    "and",
    "small",
    "curious",
    "robots",
]


def make_json_array(path: Path, size_gb: float) -> None:
    """A top-level JSON array of sharegpt-like objects, written item by item."""
    import orjson

    target = int(size_gb * 1_000_000_000)
    written = 0
    i = 0
    tmp = path.with_suffix(".partial")
    with open(tmp, "wb") as out:
        out.write(b"[\n")
        while written < target:
            n = len(WORDS)
            turns = [
                {
                    "from": "human" if t % 2 == 0 else "gpt",
                    "value": " ".join(WORDS[(i * 7 + t * 3 + k) % n] for k in range(60 + t * 40)),
                }
                for t in range(4)
            ]
            item = orjson.dumps({"id": f"conv-{i}", "score": i / 3, "conversations": turns})
            if i:
                out.write(b",\n")
            out.write(item)
            written += len(item) + 2
            i += 1
        out.write(b"\n]\n")
    tmp.rename(path)


def make_parquet(path: Path, rows: int) -> None:
    """A Parquet file with many row groups, written by polars' streaming sink."""
    import polars as pl

    frame = pl.LazyFrame({"id": pl.int_range(0, rows, eager=True)}).with_columns(
        text=pl.concat_str([pl.col("id").hash(seed).cast(pl.String) for seed in range(6)]),
        tags=pl.concat_list(pl.col("id"), pl.col("id") + 1),
        meta=pl.struct(bucket=pl.col("id") % 97, even=pl.col("id") % 2 == 0),
    )
    tmp = path.with_suffix(".partial")
    frame.sink_parquet(tmp, row_group_size=50_000)
    tmp.rename(path)


def measure(fmt: str, path: Path) -> dict[str, Any]:
    """Run in the subprocess: stream one file, report what it cost."""
    sys.path.insert(0, str(REPO))
    from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    records = rejected = 0
    with tempfile.TemporaryDirectory() as scratch:
        source = SourceFile(path, path.name)
        for item in read_source(source, fmt, {}, ReadLimits(), Path(scratch)):
            if type(item) is tuple:
                records += 1
            else:
                rejected += 1
    seconds = time.perf_counter() - started
    size = path.stat().st_size
    return {
        "format": fmt,
        "file": path.name,
        "mb": round(size / 1e6, 1),
        "records": records,
        "rejected": rejected,
        "seconds": round(seconds, 2),
        "mb_per_s": round(size / 1e6 / seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_after_imports_mb": round(base_rss / 1024, 1),
        "vm_hwm_mb": _vm_hwm_mb(),
    }


def run(directory: Path, size_gb: float, rows: int) -> list[dict[str, Any]]:
    """Generate and measure, each in its own subprocess.

    The parent stays small on purpose: on Linux a child's ru_maxrss starts from its parent's
    RSS at fork time, so generating in this process would inflate every measurement.
    """
    directory.mkdir(parents=True, exist_ok=True)
    array = directory / f"array-{size_gb:g}gb.json"
    parquet = directory / f"rows-{rows}.parquet"
    for kind, path, amount in (("array", array, str(size_gb)), ("parquet", parquet, str(rows))):
        if not path.exists():
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, __file__, "--generate", kind, str(path), amount], check=True
            )
            print(
                f"generated {path.name}: {path.stat().st_size / 1e6:.0f} MB "
                f"in {time.perf_counter() - t:.0f} s",
                flush=True,
            )
    results = []
    for fmt, path in (("json_array", array), ("parquet", parquet)):
        proc = subprocess.run(
            [sys.executable, __file__, "--measure", fmt, str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(proc.stdout))
    return results


def _vm_hwm_mb() -> float | None:
    """Peak RSS of this process image from /proc (Linux), as a cross-check of ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dir", type=Path, help="where to write the inputs (default: a temp dir, removed)"
    )
    parser.add_argument(
        "--size-gb", type=float, default=1.0, help="JSON array size in GB (default 1.0)"
    )
    parser.add_argument(
        "--rows", type=int, default=6_000_000, help="Parquet rows (default 6,000,000)"
    )
    parser.add_argument("--measure", nargs=2, metavar=("FORMAT", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--generate", nargs=3, metavar=("KIND", "PATH", "AMOUNT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.generate:
        kind, path, amount = args.generate
        if kind == "array":
            make_json_array(Path(path), float(amount))
        else:
            make_parquet(Path(path), int(amount))
        return
    if args.measure:
        print(json.dumps(measure(args.measure[0], Path(args.measure[1]))))
        return
    if args.dir is not None:
        results = run(args.dir, args.size_gb, args.rows)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            results = run(Path(tmp), args.size_gb, args.rows)
    header = f"{'format':<11} {'file':<22} {'MB':>8} {'records':>10} {'rejected':>8} {'seconds':>8} {'MB/s':>7} {'peak RSS MB':>12}"
    print(header)
    for r in results:
        print(
            f"{r['format']:<11} {r['file']:<22} {r['mb']:>8} {r['records']:>10} {r['rejected']:>8} "
            f"{r['seconds']:>8} {r['mb_per_s']:>7} {r['peak_rss_mb']:>12}"
        )
    for r in results:
        print(
            f"{r['format']}: RSS after imports {r['rss_after_imports_mb']} MB, "
            f"VmHWM {r['vm_hwm_mb']} MB"
        )


if __name__ == "__main__":
    main()
