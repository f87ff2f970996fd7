"""Randomised kill -9 / restart loop: many builds killed at random points, each resumed.

The longer version of `jsonl_assets_tests/test_restart.py`. It first counts how often every
kill point of `jsonl_assets/core/fault_points.py` is reached in a build of the test project, then
runs rounds: a fresh copy of the project is built and killed (SIGKILL) at a random point and
occurrence, one to `--max-kills` times in a row (each run resuming the last), then built to the
end. The package and the quarantine must be byte-identical to an uninterrupted build, and the
stages and shards the killed run committed must be reused. Every `--cli-every`-th round runs
the real `jsonl-assets build` instead of the core entry.

    .venv/bin/python bench/restart_fuzz.py                      # 40 rounds, seed 1
    .venv/bin/python bench/restart_fuzz.py --rounds 200 --seed 7 --max-kills 3 --cli-every 10

Prints one line per round and a summary (kills, distinct points, reuse, timings, mismatches);
exits 1 if any round ended with different bytes or a failed build.
"""

from __future__ import annotations

import argparse
import importlib
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jsonl_assets_tests import test_restart as rt  # noqa: E402


def count_points(root: Path, keys: tuple[str, ...], **project: Any) -> Counter[str]:
    """How many times each kill point is reached in an uninterrupted build (in this process)."""
    import jsonl_assets
    from jsonl_assets.core import fault_points

    counts: Counter[str] = Counter()

    def counting(point: str) -> None:
        counts[point] += 1

    config = rt.make_project(root, **project)
    for stage in ("extract", "transform", "validate", "shard", "manifest"):
        importlib.import_module(f"jsonl_assets.core.stages.{stage}_stage")
    original = fault_points.reached
    patched = [
        module
        for name, module in list(sys.modules.items())
        if name.startswith(jsonl_assets.__name__ + ".")
        and module is not fault_points
        and getattr(module, "reached", None) is original
    ]
    for module in patched:
        module.reached = counting  # type: ignore[attr-defined]
    try:
        rt.build_stages(config, keys)
    finally:
        for module in patched:
            module.reached = original  # type: ignore[attr-defined]
    return counts


def one_round(
    base: Path,
    n: int,
    rng: random.Random,
    points: Counter[str],
    expected: dict[str, Any],
    keys: tuple[str, ...],
    cli: bool,
    max_kills: int,
    project: dict[str, Any],
) -> dict[str, Any]:
    root = base / f"round{n:04d}"
    config = rt.make_project(root, **project)
    run = rt.run_cli_build if cli else rt.run_core_build
    names = sorted(points)
    kills = []
    started = time.perf_counter()
    for _ in range(rng.randint(1, max_kills)):
        point = rng.choice(names)
        spec = f"{point}:{rng.randint(1, points[point])}"
        done = run(config, kill_at=spec, keys=keys)
        if done.returncode == -signal.SIGKILL:
            kills.append(spec)
        elif done.returncode == 0:
            kills.append(f"{spec} (not reached: work reused)")
        else:
            return {
                "ok": False,
                "why": f"{kills}: run killed at {spec} failed: {done.stderr[-800:]}",
            }
        state = rt.inspect_after_kill(root, keys)  # what the next run must reuse
    killed_seconds = time.perf_counter() - started
    started = time.perf_counter()
    final = run(config, keys=keys)
    resume_seconds = time.perf_counter() - started
    if final.returncode != 0:
        return {"ok": False, "why": f"{kills}: final run failed: {final.stderr[-800:]}"}
    summary = rt.cli_reuse(config, keys) if cli else orjson.loads(final.stdout.splitlines()[-1])
    try:
        rt.assert_reuse(state, summary)
    except AssertionError as exc:
        return {"ok": False, "why": f"{kills}: reuse: {exc}"}
    same = rt.outputs(root) == expected
    return {
        "ok": same,
        "why": "" if same else f"{kills}: bytes differ from the uninterrupted build",
        "kills": kills,
        "mode": "cli" if cli else "core",
        "stages_reused": sum(sum(v["reused"].values()) for v in summary.values()),
        "shards_resumed": sum(
            v["reused_shards"] for v in summary.values() if not v["reused"]["shards"]
        ),
        "killed_seconds": killed_seconds,
        "resume_seconds": resume_seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-kills", type=int, default=2, help="kills in a row per round")
    parser.add_argument("--cli-every", type=int, default=8, help="0: never use the CLI")
    parser.add_argument("--compression", choices=["zstd", "gzip"], default="zstd")
    parser.add_argument("--chats", type=int, default=1200)
    parser.add_argument("--notes", type=int, default=4500)
    parser.add_argument("--dir", type=Path, help="work here instead of a temporary folder")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    project = {"compression": args.compression, "chats": args.chats, "notes": args.notes}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        base = Path(tmp)
        points = count_points(base / "count", rt.KEYS, **project)
        cli_points = count_points(base / "count-cli", rt.CLI_KEYS, **project)
        started = time.perf_counter()
        rt.build_stages(rt.make_project(base / "clean", **project), rt.KEYS)
        clean_seconds = time.perf_counter() - started
        expected = {rt.KEYS: rt.outputs(base / "clean")}
        rt.build_stages(rt.make_project(base / "clean-cli", **project), rt.CLI_KEYS)
        expected[rt.CLI_KEYS] = rt.outputs(base / "clean-cli")
        print(f"kill points reached in one build: {dict(sorted(points.items()))}")
        print(f"uninterrupted build (in process): {clean_seconds:.2f} s\n")
        results = []
        for n in range(args.rounds):
            cli = bool(args.cli_every) and n % args.cli_every == args.cli_every - 1
            keys = rt.CLI_KEYS if cli else rt.KEYS
            result = one_round(
                base,
                n,
                rng,
                cli_points if cli else points,
                expected[keys],
                keys,
                cli,
                args.max_kills,
                project,
            )
            results.append(result)
            if not result["ok"]:
                print(f"round {n:3}: FAILED {result['why']}")
                continue
            print(
                f"round {n:3} {result['mode']:4} kills {', '.join(result['kills'])}\n"
                f"          resumed in {result['resume_seconds']:.2f} s: "
                f"{result['stages_reused']} stages reused, "
                f"{result['shards_resumed']} shards resumed from the journal"
            )
            shutil.rmtree(base / f"round{n:04d}")
    ok = [r for r in results if r["ok"]]
    kills = [k for r in ok for k in r["kills"] if "not reached" not in k]
    print(
        f"\n{len(results)} rounds, {len(ok)} byte-identical, {len(results) - len(ok)} failed; "
        f"{len(kills)} kills at {len({k.rsplit(':', 1)[0] for k in kills})} distinct points "
        f"({len({k for k in kills})} distinct point:occurrence)"
    )
    if ok:
        resume = [r["resume_seconds"] for r in ok if r["mode"] == "core"]
        if resume:
            print(
                f"core resume after a kill: median {statistics.median(resume):.2f} s, "
                f"max {max(resume):.2f} s (including ~0.5 s interpreter start-up)"
            )
        print(
            f"stages reused per resume: mean {statistics.mean(r['stages_reused'] for r in ok):.1f}"
            f"; shards resumed from journals: {sum(r['shards_resumed'] for r in ok)}"
        )
    return 0 if len(ok) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
