"""Cost of the record-rule walk (`record_errors`, `record_problems`) per record group.

    .venv/bin/python bench/walker.py --package data/package            # ns per record
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/walker.py --package data/package --group tool --loops 200

Records are the shards of a built package (build it first: `python3 run.py build`), grouped
as tool (has a tool_call), preference, plain (the rest) and image (the plain sft records with
an image part added, half by uri, half by asset_id against an asset index of those ids).
`--group`/`--loops` run one group a fixed number of times and print nothing else, so that
two callgrind runs with different `--loops` give the instructions per loop by difference. It
imports the walker of the tree whose venv runs it (this tree's rules, or `spec_rules` of a
tree from before the core/ layout), so the same script measures a baseline worktree.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path
from typing import Any

import orjson
import zstandard

try:
    from jsonl_assets.core.rules import RecordContext, record_errors, record_problems
except ImportError:  # a tree from before the core/ layout
    from jsonl_assets.spec_rules import (  # type: ignore[no-redef]
        RecordContext,
        record_errors,
        record_problems,
    )

GROUPS = ("plain", "tool", "image", "preference")


def load(package: Path) -> tuple[dict[str, list[tuple[str, Any]]], RecordContext]:
    meta = json.loads((package / "metadata.json").read_text())
    toolsets = {
        t["id"]: frozenset(tool["name"] for tool in t["tools"]) for t in meta.get("toolsets", [])
    }
    schemas = {
        t["id"]: {tool["name"]: tool["input_schema"] for tool in t["tools"]}
        for t in meta.get("toolsets", [])
    }
    groups: dict[str, list[tuple[str, Any]]] = {name: [] for name in GROUPS}
    asset_ids: set[str] = set()
    for entry in meta["files"]:
        objective = entry["objective"]
        for shard in entry["shards"]:
            raw = (package / shard["path"]).read_bytes()
            text = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
            for line in text.splitlines():
                record = orjson.loads(line)
                if b'"tool_call"' in line:
                    groups["tool"].append((objective, record))
                elif objective == "preference":
                    groups["preference"].append((objective, record))
                else:
                    groups["plain"].append((objective, record))
                if objective == "sft" and b'"tool_call"' not in line:
                    image = orjson.loads(line)
                    n = len(groups["image"])
                    ref = {"uri": f"https://example.org/{n}.png"}
                    if n % 2:
                        ref = {"asset_id": f"asset-{n}"}
                        asset_ids.add(f"asset-{n}")
                    image["messages"][-2]["content"].append({"type": "image", "ref": ref})
                    groups["image"].append((objective, image))
    ctx = RecordContext(toolsets=toolsets, tool_schemas=schemas, asset_ids=frozenset(asset_ids))
    return groups, ctx


def run(records: list[tuple[str, Any]], ctx: RecordContext, loops: int, check: Any) -> None:
    for _ in range(loops):
        for objective, record in records:
            if check(record, objective, ctx):
                raise SystemExit(f"unexpected problems in a {objective} record")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--package", type=Path, default=Path("data/package"))
    parser.add_argument("--group", choices=GROUPS)
    parser.add_argument("--loops", type=int, default=0)
    parser.add_argument("--warnings", action="store_true", help="record_problems")
    args = parser.parse_args()
    groups, ctx = load(args.package)
    check = record_problems if args.warnings else record_errors
    if args.group:
        run(groups[args.group], ctx, args.loops, check)
        return
    for name in GROUPS:
        records = groups[name]
        if not records:
            continue
        loops = args.loops or max(1, 200_000 // max(1, len(records)))
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            run(records, ctx, loops, check)
            best = min(best, time.perf_counter() - start)
        per = best / (loops * len(records)) * 1e9
        print(f"{name:<11} {len(records):>5} records  {per:8.0f} ns/record (best of 5)")


if __name__ == "__main__":
    main()
