"""What a no-change rebuild of the sample costs from the command line, next to
`python -c 'import dagster'` (the floor any Dagster command pays).

    .venv/bin/python bench/rebuild_cost.py [--repeats 5]

Copies the sample (data/pipeline.yaml, data/raw/) and the project's dagster.yaml into a
temporary folder, builds it once, then times `jsonl-assets build` again with nothing changed,
alternating with `python -c 'import dagster'` so both see the machine in the same state.
Prints the medians of wall and CPU seconds (user + system of the process and its children)
and the ratio rebuild / import (target: at most 3). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of `cmd`; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jsonl-assets-rebuild-") as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "data" / "raw", work / "data" / "raw")
        shutil.copyfile(REPO / "data" / "pipeline.yaml", work / "data" / "pipeline.yaml")
        (work / "home").mkdir()
        shutil.copyfile(REPO / "dagster.yaml", work / "home" / "dagster.yaml")
        env = {
            **os.environ,
            "DAGSTER_HOME": str(work / "home"),
            "JSONL_ASSETS_CONFIG": str(work / "data" / "pipeline.yaml"),
        }
        build = [str(BIN / "jsonl-assets"), "build"]
        first = timed(build, env, work)
        print(f"first build: {first[0]:.2f} s wall, {first[1]:.2f} s CPU")
        rebuilds, imports = [], []
        for _ in range(args.repeats):
            imports.append(timed([sys.executable, "-c", "import dagster"], env, work))
            rebuilds.append(timed(build, env, work))
    for name, runs in (("import dagster", imports), ("no-change rebuild", rebuilds)):
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(f"{name:<18} {wall:6.2f} s wall  {cpu:6.2f} s CPU  (median of {len(runs)})")
    for i, what in ((0, "wall"), (1, "CPU")):
        ratio = statistics.median(r[i] for r in rebuilds) / statistics.median(r[i] for r in imports)
        print(f"rebuild / import ({what}): {ratio:.1f}x  (target <= 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
