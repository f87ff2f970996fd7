"""Bytes per id of the duplicate-id set (`dedup.SeenIds`, which `verify` uses), of the
merge's per-bucket search (`chunks.id_buckets.find_duplicates`, one bucket's ids in one
table) and of a Python set, in one run.

    .venv/bin/python bench/dedup_memory.py              # 10,000,000 ids
    .venv/bin/python bench/dedup_memory.py --ids 2000000

Each variant runs in a fresh subprocess (SeenIds adds the ids in batches of 16,384; the
bucket variant files them all into one bucket of one chunk, 1% of them repeated) and prints: ids kept, seconds, the structure's own bytes per id, and the
growth of peak RSS per id over the process's RSS before the first id (which includes the
transient memory of merging runs). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CHILD = r"""
import hashlib, resource, sys, time
kind, n = sys.argv[1], int(sys.argv[2])
import polars  # imported before the baseline, as in the pipeline
from jsonl_assets.core.dedup import SeenIds

def rss_peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

base = rss_peak_mb()
start = time.perf_counter()
batch = 16384  # record_stages.BATCH_RECORDS
if kind == "seenids":
    seen = SeenIds()
    for lo in range(0, n, batch):
        ids = range(lo, min(n, lo + batch))
        digests = [hashlib.sha256(b"record-%d" % i).digest()[:16] for i in ids]
        seen.add_batch(digests, list(ids))
    own = seen.nbytes()
    kept = len(seen)
elif kind == "bucket":
    import struct, tempfile
    from pathlib import Path
    from jsonl_assets.core.chunks.id_buckets import BUCKETS, bucket_file, find_duplicates
    folder = Path(tempfile.mkdtemp())
    chunk = folder / "chunk"
    chunk.mkdir()
    entry = struct.Struct("<16sQQ")
    with open(bucket_file(chunk, 0), "wb") as out:
        for i in range(n):
            key = i - 1 if i % 100 == 99 else i  # 1% repeats of the id before
            out.write(entry.pack(hashlib.sha256(b"record-%d" % key).digest()[:16], i, i))
    for b in range(1, BUCKETS):
        bucket_file(chunk, b).touch()
    base = rss_peak_mb()  # the file is written; the search starts here
    start = time.perf_counter()
    found, parts, own = find_duplicates([(chunk, 0)], folder / "ids")
    kept = n - found.count
    own = own * kept / n  # the table holds every entry; per distinct id below
else:
    seen = set()
    for i in range(n):
        seen.add(hashlib.sha256(b"record-%d" % i).hexdigest()[:32])
    own = sys.getsizeof(seen) + sum(sys.getsizeof(x) for x in list(seen)[:1000]) * len(seen) / 1000
    kept = len(seen)
seconds = time.perf_counter() - start
peak = rss_peak_mb()
print(f"{kind:<10} {kept:>12,} ids {seconds:7.1f} s   structure {own / kept:6.1f} B/id   "
      f"peak RSS growth {(peak - base) * 1024 * 1024 / kept:6.1f} B/id ({peak - base:,.0f} MB)")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=int, default=10_000_000)
    parser.add_argument("--skip-set", action="store_true", help="skip the Python set baseline")
    args = parser.parse_args()
    kinds = ["seenids", "bucket"] if args.skip_set else ["seenids", "bucket", "pyset"]
    for kind in kinds:
        subprocess.run([sys.executable, "-c", CHILD, kind, str(args.ids)], check=True)


if __name__ == "__main__":
    main()
